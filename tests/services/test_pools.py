"""Pools over three fake Ollama hosts serving the same model: pooled evaluations spread their cases,
a host killed mid-run loses and repeats no case, chat fails over before the first token only, the
least busy (or already loaded) host is chosen, and different digests are never pooled."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from desktop_app.core.errors import ModelNotFound, StreamInterrupted
from desktop_app.core.evaluation import RunStatus
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.suite_parse import parse_suite
from desktop_app.services import serving
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress, EvaluationRunner
from desktop_app.services.pools import find_pool, list_pools, pool_model, pool_state
from desktop_app.services.sync import sync_all
from tests.fakes.ollama import FakeOllama, make_model

POOL = "pool/llama3.2:latest"
NAMES = ("gpu-a", "gpu-b", "gpu-c")


@pytest.fixture
def hosts() -> Iterator[dict[str, FakeOllama]]:
    fakes = {name: FakeOllama().start() for name in NAMES}
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture
async def ctx(hosts: dict[str, FakeOllama]) -> AsyncIterator[AppContext]:
    context = AppContext.open()
    context.settings.sources = [
        SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=fake.url) for name, fake in hosts.items()
    ]
    context.save_settings()
    reports = await sync_all(context)
    assert all(r.ok for r in reports)
    for fake in hosts.values():
        fake.reset_counters()
    yield context
    await context.aclose()
    context.close()


def suite(cases: int) -> str:
    rows = "\n".join(f"  - q: question {i}" for i in range(cases))
    return (
        "name: Pool\nmessages:\n  - role: user\n    content: '{{q}}'\n"
        "evaluators:\n  - name: said\n    string: {contains: 'sky'}\n"
        f"testData:\n{rows}\n"
    )


def chats(fake: FakeOllama) -> int:
    return fake.requests["/api/chat"]


async def test_three_hosts_with_the_same_model_form_one_pool(ctx: AppContext) -> None:
    pool = find_pool(ctx, POOL)
    assert pool.sources == list(NAMES)
    assert pool.label == "llama3.2:latest · 3 hosts"
    assert "pool/qwen3:8b" in list_pools(ctx)
    ctx.settings.preferences.pooling = False
    assert list_pools(ctx) == {}
    with pytest.raises(ModelNotFound, match="pooling is off"):
        find_pool(ctx, POOL)


async def test_different_digest_is_never_pooled(ctx: AppContext, hosts: dict[str, FakeOllama]) -> None:
    hosts["gpu-c"].add_model(make_model("llama3.2:latest", digest="f" * 64))
    await sync_all(ctx)
    assert find_pool(ctx, POOL).sources == ["gpu-a", "gpu-b"]


async def test_pooled_evaluation_spreads_cases_over_the_hosts(
    ctx: AppContext, hosts: dict[str, FakeOllama]
) -> None:
    for fake in hosts.values():
        fake.delays["/api/chat"] = 0.02
    runner = EvaluationRunner(ctx, parse_suite(suite(18), file="pool.prompt.yml"), [POOL])
    run = await runner.run()
    assert run.status is RunStatus.COMPLETE and run.done == 18 and not run.any_failed
    assert run.model_ids == [POOL]
    answered = Counter(c.host for c in run.cases)
    assert set(answered) == {f"{n}/llama3.2:latest" for n in NAMES}
    assert all(chats(f) >= 1 for f in hosts.values())
    assert sum(chats(f) for f in hosts.values()) == 18  # each case asked exactly once
    assert max(f.max_in_flight_by_path["/api/chat"] for f in hosts.values()) <= 2  # each host's own limit
    lines = [json.loads(x) for x in runner.run_path.read_text().splitlines()]
    assert {x["case"]["host"] for x in lines if x["type"] == "case"} == set(answered)


async def test_a_host_killed_mid_run_loses_and_repeats_no_case(
    ctx: AppContext, hosts: dict[str, FakeOllama]
) -> None:
    for fake in hosts.values():
        fake.delays["/api/chat"] = 0.01
    victim = hosts["gpu-b"]
    victim.hang = "/api/chat"  # its cases stay in flight until it dies
    killed = False

    def progress(event: EvalProgress) -> None:
        nonlocal killed
        if event.event == "case" and not killed and event.overall_done >= 4:
            killed = True
            assert victim.wait_for(lambda: victim.in_flight_by_path["/api/chat"] == 2)
            victim.stop()  # with two cases in flight, and more waiting for its slots

    runner = EvaluationRunner(
        ctx, parse_suite(suite(30), file="pool.prompt.yml"), [POOL], on_progress=progress
    )
    run = await runner.run()
    assert killed
    assert [c.error for c in run.cases if c.error] == []
    assert run.status is RunStatus.COMPLETE and not run.any_failed
    assert sorted(c.key for c in run.cases) == [(POOL, i) for i in range(30)]  # every case, once
    lines = [json.loads(x) for x in runner.run_path.read_text().splitlines()]
    recorded = [x["case"] for x in lines if x["type"] == "case"]
    assert sorted(c["case_index"] for c in recorded) == list(range(30))  # the run file has each once
    assert {c["host"] for c in recorded} == {"gpu-a/llama3.2:latest", "gpu-c/llama3.2:latest"}
    # The survivors answered each case exactly once: none lost, none asked twice.
    assert chats(hosts["gpu-a"]) + chats(hosts["gpu-c"]) == 30


async def test_chat_fails_over_before_the_first_token(ctx: AppContext, hosts: dict[str, FakeOllama]) -> None:
    hosts["gpu-a"].stop()  # ranked first (all idle, by name): down since the last sync
    answered: list[str] = []
    text = ""
    async for chunk in serving.stream_chat(
        ctx, POOL, [serving.ChatMessage(role="user", content="hi")], on_host=answered.append
    ):
        text += chunk.content
    assert "sky" in text
    assert answered == ["gpu-b/llama3.2:latest"]
    assert pool_state(ctx).is_down("gpu-a")
    # The next request goes to a host that is up, without trying the failed one first.
    answered.clear()
    await serving.chat_once(
        ctx, POOL, [serving.ChatMessage(role="user", content="hi")], on_host=answered.append
    )
    assert answered[0] != "gpu-a/llama3.2:latest"


async def test_a_failure_after_the_first_token_is_reported_not_retried(
    ctx: AppContext, hosts: dict[str, FakeOllama]
) -> None:
    for fake in hosts.values():
        fake.error_midstream = "/api/chat"
    with pytest.raises(StreamInterrupted):
        await serving.chat_once(ctx, POOL, [serving.ChatMessage(role="user", content="hi")])
    assert sum(chats(f) for f in hosts.values()) == 1


async def test_least_busy_then_loaded_host_answers(ctx: AppContext, hosts: dict[str, FakeOllama]) -> None:
    hosts["gpu-c"].running = ["llama3.2:latest"]  # /api/ps: only gpu-c has it in memory
    answered: list[str] = []
    message = [serving.ChatMessage(role="user", content="hi")]
    await serving.chat_once(ctx, POOL, message, on_host=answered.append)
    assert answered == ["gpu-c/llama3.2:latest"]
    state = pool_state(ctx)
    state.in_flight["gpu-c"] += 1  # busy now (another chat): the least busy host takes the next
    state.in_flight["gpu-a"] += 1
    await serving.chat_once(ctx, POOL, message, on_host=answered.append)
    assert answered[-1] == "gpu-b/llama3.2:latest"
    # The pool as a model object (what the window and the evaluation hold) is routed the same way.
    state.in_flight["gpu-b"] += 2
    state.in_flight["gpu-c"] += 2
    await serving.chat_once(ctx, pool_model(ctx, find_pool(ctx, POOL)), message, on_host=answered.append)
    assert answered[-1] == "gpu-a/llama3.2:latest"
