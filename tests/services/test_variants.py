"""services.variants over the real registry and the fake Ollama: create/list/rm, grids, surviving
syncs, and materializing a variant through /api/create."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from desktop_app.core.chat import ChatMessage, ChatOptions
from desktop_app.core.errors import InvalidInput, ModelNotFound
from desktop_app.core.models import Category, ModelStatus, ModelType, ServingType, SourceConfig, SourceKind
from desktop_app.core.variants import SystemOption, VariantSpec
from desktop_app.services import variants as service
from desktop_app.services.context import AppContext
from desktop_app.services.serving import chat_once, resolve
from desktop_app.services.sync import sync_source
from tests.fakes.github_models import FakeGitHubModels
from tests.fakes.ollama import FakeOllama

LLAMA = "ollama/llama3.2:latest"


@pytest.fixture
async def ctx(fake_ollama: FakeOllama) -> AsyncIterator[AppContext]:
    context = AppContext.open()
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url)
    context.settings.sources = [config]
    context.save_settings()
    assert (await sync_source(context, config)).ok
    yield context
    await context.aclose()
    context.close()


def test_create_list_show_and_names(ctx: AppContext) -> None:
    spec = VariantSpec(name="", system_prompt="Be terse.", parameters=ChatOptions(temperature=0.2))
    first = service.create_variant(ctx, LLAMA, spec)
    assert first.id == "exp/llama3.2-temp0.2-sys-custom"
    second = service.create_variant(ctx, LLAMA, spec)  # same settings: the name gets a number
    assert second.id == "exp/llama3.2-temp0.2-sys-custom-2"
    stored = ctx.registry.get("exp/llama3.2-temp0.2-sys-custom")
    assert stored.model_type is ModelType.EXPERIMENTAL and stored.parent_id == LLAMA
    assert stored.categories == [Category.EXPERIMENTAL, Category.FUNCTION_CALLING, Category.TEXT]
    assert (stored.serving_type, stored.provider) == (ServingType.LOCAL, "ollama")
    assert service.get_variant(ctx, "llama3.2-temp0.2-sys-custom").id == first.id
    assert [v.id for v in service.list_variants(ctx)] == [first.id, second.id]
    assert [v.id for v in service.list_variants(ctx, LLAMA)] == [first.id, second.id]
    assert service.list_variants(ctx, "ollama/qwen3:8b") == []
    with pytest.raises(InvalidInput, match="is a base model, not a variant"):
        service.get_variant(ctx, LLAMA)
    with pytest.raises(ModelNotFound, match="No variant 'nope'"):
        service.get_variant(ctx, "nope")


def test_names_are_unique_unless_replaced(ctx: AppContext) -> None:
    service.create_variant(ctx, LLAMA, VariantSpec(name="cold", parameters=ChatOptions(temperature=0)))
    with pytest.raises(InvalidInput) as info:
        service.create_variant(ctx, LLAMA, VariantSpec(name="cold"))
    assert info.value.message == "A variant named cold already exists; use --replace or another name."
    replaced = service.create_variant(ctx, "ollama/qwen3:8b", VariantSpec(name="cold"), replace=True)
    assert replaced.parent_id == "ollama/qwen3:8b" and replaced.parameters == {}


def test_variant_of_a_variant_resolves_through_the_chain(ctx: AppContext) -> None:
    service.create_variant(
        ctx, LLAMA, VariantSpec(name="a", system_prompt="A", parameters=ChatOptions(temperature=0.5, seed=1))
    )
    b = service.create_variant(ctx, "exp/a", VariantSpec(name="b", parameters=ChatOptions(temperature=0.9)))
    base, system, options = service.effective_settings(ctx, b)
    assert base.id == LLAMA and system == "A"
    assert options == ChatOptions(temperature=0.9, seed=1)
    target = resolve(ctx, b)
    assert target.native_name == "llama3.2:latest" and target.system_prompt == "A"


async def test_variants_survive_syncs(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    service.create_variant(ctx, LLAMA, VariantSpec(name="keep", system_prompt="x"))
    config = ctx.settings.source("ollama")
    assert (await sync_source(ctx, config)).ok
    assert ctx.registry.get("exp/keep").status is ModelStatus.AVAILABLE
    # The host goes down: its models go offline, the variant too (it runs there), and nothing is deleted.
    fake_ollama.stop()
    assert not (await sync_source(ctx, config)).ok
    assert ctx.registry.get(LLAMA).status is ModelStatus.OFFLINE
    assert ctx.registry.get("exp/keep").status is ModelStatus.OFFLINE
    # The base disappears from the host: the base goes, the variant stays and says why it cannot run.
    fake_ollama.start()
    fake_ollama.remove_model("llama3.2:latest")
    assert (await sync_source(ctx, config)).ok
    assert ctx.registry.find(LLAMA) is None
    orphan = ctx.registry.get("exp/keep")
    assert orphan.status is ModelStatus.ERROR and LLAMA in orphan.status_message
    with pytest.raises(ModelNotFound, match="no longer in the registry"):
        resolve(ctx, orphan)


def test_grid_creates_every_combination_in_one_go(ctx: AppContext) -> None:
    made = service.create_grid(
        ctx,
        LLAMA,
        {"temperature": [0.2, 0.7]},
        [SystemOption("a", "Prompt A"), SystemOption("b", "Prompt B")],
    )
    assert [v.id for v in made] == [
        "exp/llama3.2-temp0.2-sys-a",
        "exp/llama3.2-temp0.2-sys-b",
        "exp/llama3.2-temp0.7-sys-a",
        "exp/llama3.2-temp0.7-sys-b",
    ]
    assert ctx.registry.get("exp/llama3.2-temp0.7-sys-b").system_prompt == "Prompt B"
    assert ctx.registry.get("exp/llama3.2-temp0.7-sys-b").parameters == {"temperature": 0.7}
    with pytest.raises(InvalidInput, match="already exists"):
        service.create_grid(
            ctx, LLAMA, {"temperature": [0.2, 0.9]}, [SystemOption("a", "x"), SystemOption("b", "y")]
        )
    parent, specs = service.plan_grid(ctx, LLAMA, {"seed": [1, 2, 3]}, prefix="try")
    assert parent.id == LLAMA and [s.name for s in specs] == ["try-seed1", "try-seed2", "try-seed3"]
    assert ctx.registry.find("exp/try-seed1") is None  # planning stores nothing


async def test_remove_refuses_with_children_unless_forced(ctx: AppContext) -> None:
    service.create_variant(ctx, LLAMA, VariantSpec(name="p"))
    service.create_variant(ctx, "exp/p", VariantSpec(name="c"))
    with pytest.raises(InvalidInput) as info:
        await service.remove_variant(ctx, "p")
    assert info.value.message == "1 variant(s) are built on exp/p (exp/c)."
    report = await service.remove_variant(ctx, "p", force=True)
    assert report.removed == ["exp/p", "exp/c"]
    assert service.list_variants(ctx) == []


async def test_materialize_creates_a_real_ollama_model(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    service.create_variant(
        ctx,
        LLAMA,
        VariantSpec(
            name="Pirate",
            system_prompt="Talk like a pirate.",
            parameters=ChatOptions(temperature=0.2, max_tokens=64),
        ),
    )
    statuses = [p.status async for p in service.materialize(ctx, "exp/Pirate")]
    assert statuses[-1] == "success"
    assert fake_ollama.last_bodies["/api/create"] == {
        "model": "pirate:latest",
        "from": "llama3.2:latest",
        "system": "Talk like a pirate.",
        "parameters": {"temperature": 0.2, "num_predict": 64},
        "stream": True,
    }
    created = fake_ollama.find("pirate:latest")
    assert created is not None and created["system"] == "Talk like a pirate."
    variant = ctx.registry.get("exp/Pirate")
    assert variant.ollama_name == "pirate:latest" and "materialized" in variant.tags
    assert variant.local_endpoint == fake_ollama.url
    # From now on requests go to the materialized model, which carries the system prompt itself.
    await chat_once(ctx, variant, [ChatMessage(role="user", content="hi")])
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["model"] == "pirate:latest" and [m["role"] for m in body["messages"]] == ["user"]
    # A sync shows the new model on the host and keeps the variant.
    assert (await sync_source(ctx, ctx.settings.source("ollama"))).ok
    assert ctx.registry.get("ollama/pirate:latest").model_type is ModelType.BASE
    assert ctx.registry.get("exp/Pirate").ollama_name == "pirate:latest"
    # Removing it with --delete-local deletes the model from the host and its registry entry.
    report = await service.remove_variant(ctx, "Pirate", delete_local=True)
    assert report.deleted_local == ["pirate:latest"] and report.removed == ["exp/Pirate"]
    assert fake_ollama.find("pirate:latest") is None
    assert ctx.registry.find("ollama/pirate:latest") is None


async def test_materialize_refuses_a_name_taken_on_the_host(ctx: AppContext) -> None:
    service.create_variant(ctx, LLAMA, VariantSpec(name="x"))
    with pytest.raises(InvalidInput, match="already has a model named qwen3:8b"):
        async for _ in service.materialize(ctx, "x", name="qwen3:8b"):
            pass


async def test_remote_variants_cannot_be_materialized(
    ctx: AppContext, fake_github: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fake_github.api_key
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.api_key)
    config = SourceConfig(name="gh", kind=SourceKind.GITHUB_MODELS, base_url=fake_github.url)
    ctx.settings.sources.append(config)
    ctx.save_settings()
    assert (await sync_source(ctx, config)).ok
    v = service.create_variant(
        ctx, "gh/openai/gpt-4.1", VariantSpec(name="json-gpt", parameters=ChatOptions(seed=3))
    )
    assert v.serving_type is ServingType.REMOTE and v.rate_limit_tier == "high"
    with pytest.raises(InvalidInput, match="a remote model; only variants of local Ollama models"):
        async for _ in service.materialize(ctx, v.id):
            pass


def test_the_delete_check_names_the_variants_built_on_a_model(ctx: AppContext) -> None:
    """The window's confirm box and `modeldesk rm` say the same thing before a delete."""
    from desktop_app.services.library import delete_check

    base = ctx.registry.get(LLAMA)
    assert delete_check(ctx, base).allowed and delete_check(ctx, base).warning == ""
    service.create_variant(ctx, LLAMA, VariantSpec(name="terse", system_prompt="Be brief."))
    check = delete_check(ctx, base)
    assert check.allowed and [v.id for v in check.variants] == ["exp/terse"]
    assert "1 variant is built on it (exp/terse)" in check.warning
    variant = ctx.registry.get("exp/terse")
    refused = delete_check(ctx, variant)
    assert not refused.allowed and "only those can be deleted" in refused.reason
