"""Benchmark of the evaluation engine: 20 models × 200 cases against a backend that answers instantly.

Measures the engine's own cost per case (scheduling, per-source limits, evaluators, result objects,
the run file, progress events) against a bare loop that makes the same requests through
``services.serving.stream_chat`` under the same per-source semaphores and does nothing else, and
checks that the achieved concurrency per source matches the configured limit.

The fake backend is in-process (registered as the sources' backends) so that no HTTP or server time
hides the engine's cost. Its ``chat`` yields to the event loop once, as a real stream would, so
requests to one source do overlap.

    .venv/bin/python bench/bench_eval.py [--models 20] [--cases 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._env import require_fresh  # noqa: E402
from desktop_app.core.chat import ChatChunk, ChatMetrics, ChatRequest  # noqa: E402
from desktop_app.core.models import (  # noqa: E402
    ServingType,
    SourceConfig,
    SourceKind,
    UnifiedModel,
)
from desktop_app.core.suite import Suite  # noqa: E402
from desktop_app.core.suite_parse import parse_suite  # noqa: E402

# Sources of the benchmark: (name, kind, [(tier, model count)]).
LAYOUT: list[tuple[str, SourceKind, list[tuple[str | None, int]]]] = [
    ("host-a", SourceKind.OLLAMA, [(None, 6)]),
    ("host-b", SourceKind.OLLAMA, [(None, 4)]),
    ("cloud", SourceKind.GITHUB_MODELS, [("low", 5), ("high", 3), ("custom", 2)]),
]


class InstantBackend:
    """A ModelBackend that answers at once (one content chunk, then the final chunk with metrics)."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.latency = 0.0  # seconds before the reply; 0 = answer at once
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0

    async def version(self) -> str | None:
        return "bench"

    async def list_models(self) -> list[UnifiedModel]:
        return []

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)  # a real stream yields to the loop while it waits for bytes
            yield ChatChunk(content="The answer is 42.")
            yield ChatChunk(
                done=True,
                metrics=ChatMetrics(
                    prompt_tokens=12, completion_tokens=6, tokens_per_s=50.0, done_reason="stop"
                ),
            )
        finally:
            self.in_flight -= 1

    async def embed(self, model: str, inputs: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in inputs]

    async def aclose(self) -> None:
        return None


def make_suite(cases: int) -> Suite:
    rows = "\n".join(f"  - question: q{i}\n    answer: '42'" for i in range(cases))
    text = (
        "name: Bench\n"
        "messages:\n"
        "  - role: system\n    content: Answer briefly.\n"
        "  - role: user\n    content: 'Question: {{question}}'\n"
        "evaluators:\n"
        "  - name: has answer\n    string: {contains: '{{answer}}'}\n"
        "  - name: number\n    regex: '\\d+'\n"
        f"testData:\n{rows}\n"
    )
    return parse_suite(text, file="bench.prompt.yml")


def setup(n_models: int) -> tuple[Any, dict[str, InstantBackend], list[UnifiedModel]]:
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    ctx.settings.sources = [
        SourceConfig(name=name, kind=kind, base_url="http://127.0.0.1:9") for name, kind, _ in LAYOUT
    ]
    backends = {c.name: InstantBackend(c) for c in ctx.settings.sources}
    ctx._backends.update(backends)
    models: list[UnifiedModel] = []
    for name, kind, groups in LAYOUT:
        for tier, count in groups:
            for i in range(count):
                native = f"m{len(models):02d}-{tier or 'local'}-{i}"
                models.append(
                    UnifiedModel(
                        id=f"{name}/{native}",
                        name=native,
                        ollama_name=native if kind is SourceKind.OLLAMA else None,
                        remote_id=native if kind is not SourceKind.OLLAMA else None,
                        provider=name,
                        source=kind,
                        serving_type=ServingType.LOCAL if kind is SourceKind.OLLAMA else ServingType.REMOTE,
                        rate_limit_tier=tier,
                    )
                )
    models = models[:n_models]
    ctx.registry.upsert(models)
    return ctx, backends, models


async def bare_loop(ctx: Any, runner: Any, suite: Suite, models: list[UnifiedModel]) -> float:
    """The same requests through serving.stream_chat under the same limits, and nothing else."""
    from desktop_app.services.limiter import default_limit
    from desktop_app.services.serving import stream_chat

    sems: dict[tuple[str, str], asyncio.Semaphore] = {}
    per_model: dict[str, asyncio.Semaphore] = {}
    for m in models:
        key, limit = default_limit(ctx, m, None)
        per_model[m.id] = sems.setdefault(key, asyncio.Semaphore(limit))
    options = suite.model_parameters.to_options()

    async def one(m: UnifiedModel, row: dict[str, Any]) -> None:
        async with per_model[m.id]:
            async for _ in stream_chat(ctx, m, suite.render_messages(row), options):
                pass

    started = time.perf_counter()
    await asyncio.gather(*(one(m, row) for row in suite.test_data for m in models))
    return time.perf_counter() - started


async def engine(ctx: Any, suite: Suite, models: list[UnifiedModel]) -> tuple[float, Any]:
    from desktop_app.services.evaluate import EvaluationRunner

    events = 0

    def progress(_: Any) -> None:
        nonlocal events
        events += 1

    runner = EvaluationRunner(ctx, suite, [m.id for m in models], on_progress=progress)
    started = time.perf_counter()
    run = await runner.run()
    elapsed = time.perf_counter() - started
    assert run.done == len(models) * len(suite.test_data) and not run.any_failed, "bench run failed"
    assert events == run.done + 2
    return elapsed, runner


async def main_async(args: argparse.Namespace) -> int:
    ctx, backends, models = setup(args.models)
    suite = make_suite(args.cases)
    n = len(models) * args.cases
    try:
        # Warm-up (imports, caches) on a small run, not measured.
        await engine(ctx, make_suite(5), models)
        bare_times, engine_times = [], []
        last_runner = None
        for _ in range(args.repeat):
            bare_times.append(await bare_loop(ctx, None, suite, models))
            for b in backends.values():
                b.max_in_flight = 0
            t, last_runner = await engine(ctx, suite, models)
            engine_times.append(t)
        bare, eng = statistics.median(bare_times), statistics.median(engine_times)
        overhead_us = (eng - bare) / n * 1e6
        print(
            f"ModelDesk evaluation engine: {len(models)} models × {args.cases} cases = {n} cases, "
            f"instant fake backend, median of {args.repeat}"
        )
        print()
        print(f"{'':28}{'total s':>10}{'µs / case':>12}")
        print(f"{'bare loop (stream_chat)':28}{bare:>10.3f}{bare / n * 1e6:>12.0f}")
        print(f"{'engine (EvaluationRunner)':28}{eng:>10.3f}{eng / n * 1e6:>12.0f}")
        verdict = "OK" if overhead_us < 2000 else "OVER TARGET"
        print(f"{'engine overhead':28}{'':>10}{overhead_us:>12.0f}   (target < 2000 µs: {verdict})")
        print()
        assert last_runner is not None
        # Concurrency with a little latency per request, where overlapping requests is what counts.
        for b in backends.values():
            b.latency, b.max_in_flight = args.latency, 0
        slow_suite = make_suite(args.latency_cases)
        _, slow_runner = await engine(ctx, slow_suite, models)
        print(
            f"Concurrency per source: instant run above, and {len(models)} × {args.latency_cases} cases "
            f"with {args.latency * 1000:.0f} ms per request"
        )
        print()
        print(
            f"{'source / tier':18}{'models':>7}{'limit':>7}{'max (instant)':>15}{'max (latency)':>15}"
            f"{'mean (latency)':>16}{'requests':>10}"
        )
        ok = True
        for key, limiter in sorted(last_runner.limiters.items()):
            slow = slow_runner.limiters[key]
            count = sum(1 for m in models if last_runner._plans[m.id].limiter is limiter)
            mean = slow.busy_time / (slow.active_time or 1e-9)
            ok &= limiter.max_in_flight == limiter.limit == slow.max_in_flight and mean >= 0.9 * slow.limit
            print(
                f"{key[0] + ' / ' + key[1]:18}{count:>7}{limiter.limit:>7}{limiter.max_in_flight:>15}"
                f"{slow.max_in_flight:>15}{mean:>16.2f}{limiter.requests + slow.requests:>10}"
            )
        print()
        print(
            "achieved concurrency "
            + ("matches every limit" if ok else "DOES NOT match every limit")
            + " (max = configured; mean over each source's busy window ≥ 90% of it)"
        )
        size = last_runner.run_path.stat().st_size
        print(f"run file: {size / 1e6:.1f} MB for {n} cases ({size / n:.0f} bytes per case)")
        return 0 if ok else 1
    finally:
        await ctx.aclose()
        ctx.close()


def main() -> int:
    require_fresh()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, default=0.02, help="seconds per request in the concurrency run"
    )
    parser.add_argument("--latency-cases", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as home:
        os.environ["MODELDESK_HOME"] = home
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
