"""Throughput against the floor, over HTTP to fake Ollama servers in their own processes.

- Evaluation: 200 cases × 2 models on one host answering after 20 ms, 4 requests in flight. The floor
  is cases × latency / in-flight (2.0 s); target ≤ 1.3× it.
- Pool: the same model on 3 hosts, 2 in flight each, 600 cases: target ≤ 1.15× 600 × 20 ms / (3 × 2)
  and ≤ 0.4× the same run on one host.

Beside the theoretical floor, a bare httpx loop makes the same requests to the same fakes under the
same limits (streaming each reply and parsing each line, nothing else): the practical floor, which
holds what the fake servers and httpx themselves cost on this machine. Also reports ModelDesk's CPU per
request (process CPU time of the run / requests). Called by
``bench/bench_eval.py`` (``--no-http`` skips it) or alone:

    .venv/bin/python bench/bench_throughput.py [--latency 0.02] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._env import require_fresh  # noqa: E402
from bench._fakes import fake_ollama_processes  # noqa: E402

REPLY = "The answer is 42."
HOSTS = ("host-a", "host-b", "host-c")


def suite_text(cases: int) -> str:
    rows = "\n".join(f"  - question: q{i}" for i in range(cases))
    return (
        "name: Throughput\nmessages:\n  - role: user\n    content: 'Question: {{question}}'\n"
        "evaluators:\n  - name: has answer\n    string: {contains: '42'}\n"
        f"testData:\n{rows}\n"
    )


async def timed_run(ctx: Any, cases: int, models: list[str], concurrency: int | None) -> tuple[float, float]:
    """Wall and CPU seconds of one evaluation (every case must pass)."""
    from desktop_app.core.suite_parse import parse_suite
    from desktop_app.services.evaluate import EvaluationRunner

    runner = EvaluationRunner(
        ctx, parse_suite(suite_text(cases), file="t.prompt.yml"), models, concurrency=concurrency
    )
    cpu, wall = time.process_time(), time.perf_counter()
    run = await runner.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert run.done == cases * len(models) and not run.any_failed, "throughput run failed"
    return wall, cpu


async def bare(urls: list[str], requests: list[tuple[str, str]], per_host: int) -> float:
    """The same chat requests (model, prompt) by a bare httpx loop, ``per_host`` at once on each host."""
    import json

    import httpx

    clients = [httpx.AsyncClient(base_url=u) for u in urls]
    todo = list(requests)

    async def worker(client: httpx.AsyncClient) -> None:
        while todo:
            model, prompt = todo.pop()
            body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
            async with client.stream("POST", "/api/chat", json=body) as reply:
                async for line in reply.aiter_lines():
                    if line:
                        json.loads(line)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients for _ in range(per_host)))
    elapsed = time.perf_counter() - started
    for c in clients:
        await c.aclose()
    return elapsed


async def measure(urls: list[str], args: argparse.Namespace) -> dict[str, float]:
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.services.context import AppContext
    from desktop_app.services.sync import sync_all

    ctx = AppContext.open()
    try:
        ctx.settings.sources = [
            SourceConfig(name=n, kind=SourceKind.OLLAMA, base_url=u) for n, u in zip(HOSTS, urls, strict=True)
        ]
        ctx.save_settings()
        assert all(r.ok for r in await sync_all(ctx))
        two = ["host-a/llama3.2:latest", "host-a/qwen3:8b"]
        pool = "pool/llama3.2:latest"
        await timed_run(ctx, 20, two, 4)  # warm-up: connections, imports
        await timed_run(ctx, 30, [pool], None)
        evals, cpus, pools, singles, bare_evals, bare_pools, pool_cpus = [], [], [], [], [], [], []
        prompts = [f"Question: q{i}" for i in range(args.cases)]
        eval_requests = [(m, p) for p in prompts for m in ("llama3.2:latest", "qwen3:8b")]
        pool_requests = [("llama3.2:latest", f"Question: q{i}") for i in range(args.pool_cases)]
        for _ in range(args.repeat):
            bare_evals.append(await bare(urls[:1], eval_requests, 4))
            bare_pools.append(await bare(urls, pool_requests, 2))
            wall, cpu = await timed_run(ctx, args.cases, two, 4)
            evals.append(wall)
            cpus.append(cpu)
            wall, cpu = await timed_run(ctx, args.pool_cases, [pool], None)
            pools.append(wall)
            pool_cpus.append(cpu)
        for _ in range(max(1, args.repeat // 2)):
            singles.append((await timed_run(ctx, args.pool_cases, ["host-a/llama3.2:latest"], None))[0])
        return {
            "eval_s": statistics.median(evals),
            "eval_cpu_ms_per_request": statistics.median(cpus) / (args.cases * 2) * 1000,
            "pool_s": statistics.median(pools),
            "pool_cpu_ms_per_request": statistics.median(pool_cpus) / args.pool_cases * 1000,
            "single_s": statistics.median(singles),
            "bare_eval_s": statistics.median(bare_evals),
            "bare_pool_s": statistics.median(bare_pools),
        }
    finally:
        await ctx.aclose()
        ctx.close()


def run(args: argparse.Namespace) -> bool:
    extra = ["--chat-delay", str(args.latency), "--reply", REPLY, "--thinking", ""]
    with fake_ollama_processes(3, models=2, generation="new", extra=extra) as urls:
        r = asyncio.run(measure(urls, args))
    floor = args.cases * 2 * args.latency / 4
    pool_floor = args.pool_cases * args.latency / (3 * 2)
    ok_eval = r["eval_s"] <= 1.3 * floor
    ok_pool = r["pool_s"] <= 1.15 * pool_floor and r["pool_s"] <= 0.4 * r["single_s"]
    ms = args.latency * 1000
    print(
        f"Throughput over HTTP (fake Ollama processes answering after {ms:.0f} ms), median of {args.repeat}"
    )
    print()
    print(f"{'run':44}{'wall s':>8}{'floor s':>9}{'× floor':>9}{'target':>9}{'bare s':>9}{'× bare':>8}")
    print(
        f"{f'eval {args.cases} cases × 2 models, 4 in flight':44}{r['eval_s']:>8.2f}{floor:>9.2f}"
        f"{r['eval_s'] / floor:>9.2f}{'≤ 1.30':>9}{r['bare_eval_s']:>9.2f}{r['eval_s'] / r['bare_eval_s']:>8.2f}"
        f"  {'OK' if ok_eval else 'OVER TARGET'}"
    )
    print(
        f"{f'pool of 3 hosts × 2 in flight, {args.pool_cases} cases':44}{r['pool_s']:>8.2f}{pool_floor:>9.2f}"
        f"{r['pool_s'] / pool_floor:>9.2f}{'≤ 1.15':>9}{r['bare_pool_s']:>9.2f}{r['pool_s'] / r['bare_pool_s']:>8.2f}"
        f"  {'OK' if ok_pool else 'OVER TARGET'}"
    )
    single_floor = args.pool_cases * args.latency / 2
    print(
        f"{f'one host × 2 in flight, {args.pool_cases} cases':44}{r['single_s']:>8.2f}{single_floor:>9.2f}"
        f"{r['single_s'] / single_floor:>9.2f}"
    )
    print(f"pool / one host: {r['pool_s'] / r['single_s']:.2f} (target ≤ 0.40)")
    print(
        f"ModelDesk CPU per request: eval run {r['eval_cpu_ms_per_request']:.2f} ms, "
        f"pool run {r['pool_cpu_ms_per_request']:.2f} ms"
    )
    print(
        f"bare httpx vs the theoretical floor (what the fakes and httpx cost here): eval "
        f"{r['bare_eval_s'] / floor:.2f}×, pool {r['bare_pool_s'] / pool_floor:.2f}×"
    )
    return ok_eval and ok_pool


def main() -> int:
    require_fresh()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--pool-cases", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modeldesk-bench-") as home:
        os.environ["MODELDESK_HOME"] = home
        os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
        return 0 if run(args) else 1


if __name__ == "__main__":
    sys.exit(main())
