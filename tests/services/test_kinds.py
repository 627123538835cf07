"""The kinds table behind services: backends, unknown kinds, source removal with its key, and `ps` over
hosts that do not all answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from desktop_app.core.errors import ModelDeskError, SourceUnavailable, UnsupportedKind
from desktop_app.core.kinds import KINDS, KindSpec
from desktop_app.core.models import ServingType, SourceConfig, SourceHealth, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.library import running_models
from desktop_app.services.sources import add_source, make_backend, remove_source
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import ModelFilter
from tests.fakes.kinds import FAKE_KIND, FakeAnthropicBackend
from tests.fakes.ollama import FakeOllama

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    context.update_settings(lambda s: s.sources.clear())
    yield context
    await context.aclose()
    context.close()


def test_every_kind_in_the_table_has_an_adapter_that_loads() -> None:
    for spec in KINDS.values():
        assert isinstance(spec.factory, str)
        module, _, attribute = spec.factory.partition(":")
        assert callable(getattr(__import__(module, fromlist=[attribute]), attribute)), spec.kind


def test_the_table_answers_what_the_code_used_to_test_kinds_for() -> None:
    ollama = SourceConfig(name="o", kind=SourceKind.OLLAMA, base_url=DEAD)
    remote = SourceConfig(name="r", kind=SourceKind.OPENAI_COMPAT, base_url=DEAD)
    assert ollama.serving_type is ServingType.LOCAL and remote.serving_type is ServingType.REMOTE
    assert ollama.spec is not None and ollama.spec.manages_models and not ollama.spec.needs_key
    assert remote.spec is not None and remote.spec.hand_set_capabilities and remote.spec.needs_key


async def test_a_registered_kind_gets_its_backend_from_the_table(
    ctx: AppContext, fake_kind: KindSpec
) -> None:
    config = add_source(ctx, SourceConfig(name="claude", kind=FAKE_KIND, base_url="http://127.0.0.1:9/v1"))
    ctx.keys.set("claude", "sk-ant-fake-0123456789")
    backend = make_backend(config, ctx.keys, ctx.rules)
    assert isinstance(backend, FakeAnthropicBackend) and backend.api_key == "sk-ant-fake-0123456789"
    (report,) = await sync_all(ctx)
    assert report.ok and report.model_count == 2
    assert {m.source for m in ctx.registry.list_models(ModelFilter(provider="claude"))} == {FAKE_KIND}


async def test_an_unknown_kind_fails_only_its_source(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    add_source(ctx, SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    ctx.update_settings(
        lambda s: s.sources.append(SourceConfig(name="tracking", kind="mlflow", base_url=DEAD))
    )
    with pytest.raises(UnsupportedKind, match="source tracking has kind 'mlflow'"):
        make_backend(ctx.settings.source("tracking"), ctx.keys, ctx.rules)
    ollama, tracking = await sync_all(ctx)
    assert ollama.ok and ollama.model_count == 6
    assert tracking.health is SourceHealth.DOWN
    assert "which this version of ModelDesk cannot use" in tracking.message
    assert ctx.registry.source_states()["tracking"].health is SourceHealth.DOWN


def test_remove_source_forgets_its_key_or_keeps_it(ctx: AppContext) -> None:
    for name in ("a", "b"):
        add_source(ctx, SourceConfig(name=name, kind=SourceKind.OPENAI_COMPAT, base_url=DEAD))
        ctx.keys.set(name, f"sk-{name}-0123456789")
    kept = remove_source(ctx, "a", delete_key=False)
    assert not kept.key_deleted and ctx.keys.get("a") == "sk-a-0123456789"
    gone = remove_source(ctx, "b", delete_key=True)
    assert gone.key_deleted and ctx.keys.get("b") is None
    assert ctx.settings.sources == []


def test_remove_source_keeps_a_key_another_source_shares(ctx: AppContext) -> None:
    for name in ("a", "b"):
        add_source(ctx, SourceConfig(name=name, kind=SourceKind.OPENAI_COMPAT, base_url=DEAD, key_ref="team"))
    ctx.keys.set("team", "sk-team-0123456789")
    done = remove_source(ctx, "a", delete_key=True)
    assert not done.key_deleted and "another source uses it" in done.key_note
    assert ctx.keys.get("team") == "sk-team-0123456789"
    assert remove_source(ctx, "b", delete_key=True).key_deleted


async def test_ps_skips_a_host_that_does_not_answer_but_an_explicit_one_raises(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    add_source(ctx, SourceConfig(name="up", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    add_source(ctx, SourceConfig(name="down", kind=SourceKind.OLLAMA, base_url=DEAD))
    result = await running_models(ctx)
    assert set(result.by_source) == {"up"} and set(result.failures) == {"down"}
    assert result.failures["down"]
    with pytest.raises(SourceUnavailable):
        await running_models(ctx, "down")
    with pytest.raises(ModelDeskError):
        await running_models(ctx, "nowhere")
