"""One source that never answers, stalls, trickles, or sends an endless, huge or absurdly nested
reply, or whose URL is nonsense, is marked down with a message saying so while the others sync."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from desktop_app.core.models import SourceConfig, SourceHealth, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.doctor import run_checks
from desktop_app.services.sync import SyncReport, sync_all
from desktop_app.store.registry import ModelFilter
from tests.fakes.hostile import Behaviour, HostileServer
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama, make_model

# Short limits so the tests run fast; the defaults (5 s, 300 s, 30 s) are for real servers.
FAST = {"connect_timeout": 1, "read_timeout": 0.5, "sync_timeout": 1}


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


def configure(ctx: AppContext, good: FakeOllama, bad_url: str, **options: object) -> None:
    ctx.settings.sources = [
        SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=good.url),
        SourceConfig(name="bad", kind=SourceKind.OLLAMA, base_url=bad_url, options=dict(options)),
    ]
    ctx.save_settings()


def assert_good_synced(ctx: AppContext, good: SyncReport) -> None:
    assert good.ok, good.message
    names = {m.name for m in ctx.registry.list_models(ModelFilter(provider="ollama"))}
    assert names == set(DEFAULT_MODELS)


@pytest.mark.parametrize("behaviour", ["silent", "stall_after_headers", "trickle"])
async def test_a_slow_or_stalled_source_times_out_and_the_others_sync(
    ctx: AppContext, fake_ollama: FakeOllama, behaviour: Behaviour
) -> None:
    with HostileServer(behaviour, interval=0.05) as hostile:
        configure(ctx, fake_ollama, hostile.url, **FAST)
        good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.health is SourceHealth.DOWN
    assert "timed out" in bad.message
    state = ctx.registry.source_states()["bad"]
    assert state.health is SourceHealth.DOWN and "timed out" in state.message


async def test_the_sync_deadline_moves_on_while_replies_keep_coming(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    """Each /api/show takes well under the sync timeout but all of them together take longer: a slow
    server with many models still syncs (the deadline is 'no reply for that long', not a total)."""
    # An older server: capabilities only from /api/show, one request per model.
    slow = FakeOllama([make_model(f"m{i}:latest", ["completion"]) for i in range(16)], generation="old")
    slow.delays = {"/api/show": 0.5}
    with slow:
        configure(ctx, fake_ollama, slow.url, sync_timeout=1.5)
        assert 0.5 * 16 / 4 > 1.5  # show_concurrency is 4: the shows take longer than the timeout
        good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.ok, bad.message
    assert bad.model_count == len(slow.models)


async def test_deeply_nested_reply_fails_that_source_only(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    with FakeOllama() as deep:
        deep.status_override = {"/api/tags": (200, b"[" * 200_000 + b"]" * 200_000)}
        configure(ctx, fake_ollama, deep.url)
        good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.health is SourceHealth.DOWN
    assert "nested more than" in bad.message


async def test_endless_model_list_is_cut_at_the_size_cap(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    with HostileServer("endless", paths={"/api/tags"}) as hostile:
        configure(ctx, fake_ollama, hostile.url)
        good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.health is SourceHealth.DOWN
    assert "the reply from bad exceeds 32 MB" in bad.message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://" + "a" * 70_000 + ":11434", "70013 characters long"),
        ("http://[::1", "never closed"),
        ("http://127.0.0.1:99999", "port"),
    ],
)
async def test_bad_url_in_settings_is_an_error_of_that_source(
    ctx: AppContext, fake_ollama: FakeOllama, url: str, reason: str
) -> None:
    configure(ctx, fake_ollama, url)
    good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.health is SourceHealth.DOWN
    assert reason in bad.message and len(bad.message) < 400
    checks = {c.name.split(" (")[0]: c for c in await run_checks(ctx)}
    assert checks["source ollama"].level == "ok"
    assert checks["source bad"].level == "fail" and reason in checks["source bad"].message
    assert all(len(c.name) < 200 for c in checks.values())


class _Exploding:
    """A backend whose reply trips an error no check foresaw (what RecursionError used to be)."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    async def version(self) -> str | None:
        raise RecursionError("maximum recursion depth exceeded")

    async def aclose(self) -> None:
        return None


async def test_an_unforeseen_error_in_one_source_never_aborts_the_others(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    configure(ctx, fake_ollama, "http://127.0.0.1:9")
    ctx._backends["bad"] = _Exploding(ctx.settings.source("bad"))  # type: ignore[assignment]
    good, bad = await sync_all(ctx)
    assert_good_synced(ctx, good)
    assert bad.health is SourceHealth.DOWN and "RecursionError" in bad.message
