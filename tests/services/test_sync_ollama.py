"""services.sync against fake Ollama hosts, through AppContext and the real SQLite registry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from desktop_app.core.models import (
    Category,
    ModelStatus,
    ServingType,
    SourceConfig,
    SourceHealth,
    SourceKind,
    UnifiedModel,
)
from desktop_app.services.context import AppContext
from desktop_app.services.library import pull_model
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import ModelFilter
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama, make_cloud_model, make_model

GPU_MODELS = [
    make_model("mistral:7b", ["completion", "tools"], "llama", "7.2B", "Q4_K_M", 4_113_301_824, 32_768),
    make_model("llama3.2:latest", ["completion", "tools"]),
    make_model(
        "bge-m3:latest", ["embedding"], "bert", "567M", "F16", 1_157_672_605, 8_192, embedding_length=1024
    ),
]


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


@pytest.fixture
def gpu_box() -> Iterator[FakeOllama]:
    with FakeOllama(GPU_MODELS) as fake:
        yield fake


def point_at(ctx: AppContext, local: FakeOllama, gpu: FakeOllama | None = None) -> None:
    """The default ``ollama`` source → ``local``; optionally a second host ``gpu-box``."""
    ollama = ctx.settings.source("ollama").model_copy(update={"base_url": local.url})
    sources = [ollama]
    if gpu is not None:
        sources.append(SourceConfig(name="gpu-box", kind=SourceKind.OLLAMA, base_url=gpu.url))
    ctx.settings.sources = sources
    ctx.save_settings()


def models_of(ctx: AppContext, provider: str) -> dict[str, UnifiedModel]:
    return {m.name: m for m in ctx.registry.list_models(ModelFilter(provider=provider))}


async def test_models_land_in_the_registry(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    point_at(ctx, fake_ollama)
    (report,) = await sync_all(ctx)
    assert report.ok and report.source == "ollama"
    assert report.model_count == report.added == len(DEFAULT_MODELS)
    models = models_of(ctx, "ollama")
    assert sorted(models) == sorted(DEFAULT_MODELS)
    assert all(
        m.serving_type is ServingType.LOCAL and m.status is ModelStatus.AVAILABLE for m in models.values()
    )
    assert models["llava:7b"].categories == [Category.MULTIMODAL, Category.TEXT]
    assert models["nomic-embed-text:latest"].category is Category.EMBEDDING
    assert models["qwen3:8b"].categories == [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]
    assert models["llama3.2:latest"].id == "ollama/llama3.2:latest"
    assert models["llama3.2:latest"].local_endpoint == fake_ollama.url
    multimodal = {m.name for m in ctx.registry.list_models(ModelFilter(category="multimodal"))}
    assert multimodal == {"llava:7b", "gemma3:4b"}
    state = ctx.registry.source_states()["ollama"]
    assert state.health is SourceHealth.OK and state.version == fake_ollama.version and state.model_count == 6
    # A second sync of an unchanged host adds and removes nothing.
    (again,) = await sync_all(ctx)
    assert again.ok and again.added == again.removed == 0


async def test_an_older_server_syncs_the_same(ctx: AppContext, fake_ollama_old: FakeOllama) -> None:
    point_at(ctx, fake_ollama_old)
    (report,) = await sync_all(ctx)
    assert report.ok
    assert fake_ollama_old.requests["/api/show"] == len(DEFAULT_MODELS)
    models = models_of(ctx, "ollama")
    assert models["llava:7b"].categories == [Category.MULTIMODAL, Category.TEXT]
    assert models["qwen3:8b"].context_length == 40_960


async def test_two_hosts(ctx: AppContext, fake_ollama: FakeOllama, gpu_box: FakeOllama) -> None:
    point_at(ctx, fake_ollama, gpu_box)
    reports = await sync_all(ctx)
    assert [(r.source, r.ok, r.model_count) for r in reports] == [("ollama", True, 6), ("gpu-box", True, 3)]
    gpu = models_of(ctx, "gpu-box")
    assert sorted(gpu) == ["bge-m3:latest", "llama3.2:latest", "mistral:7b"]
    assert gpu["llama3.2:latest"].id == "gpu-box/llama3.2:latest"
    assert gpu["llama3.2:latest"].local_endpoint == gpu_box.url
    assert ctx.registry.find("ollama/llama3.2:latest") is not None  # same tag, two hosts, two models
    assert gpu["bge-m3:latest"].categories == [Category.EMBEDDING]


async def test_a_stopped_host_keeps_its_models_offline(
    ctx: AppContext, fake_ollama: FakeOllama, gpu_box: FakeOllama
) -> None:
    point_at(ctx, fake_ollama, gpu_box)
    await sync_all(ctx)
    gpu_box.stop()
    local, gpu = await sync_all(ctx)
    assert local.ok and local.model_count == 6
    assert gpu.health is SourceHealth.DOWN
    assert "cannot connect" in gpu.message
    assert gpu.model_count == 3 and gpu.removed == 0
    kept = models_of(ctx, "gpu-box")
    assert sorted(kept) == ["bge-m3:latest", "llama3.2:latest", "mistral:7b"]
    for model in kept.values():
        assert model.status is ModelStatus.OFFLINE
        assert "cannot connect" in model.status_message
        assert model.categories  # nothing about the model was lost
    assert kept["bge-m3:latest"].categories == [Category.EMBEDDING]
    assert all(m.status is ModelStatus.AVAILABLE for m in models_of(ctx, "ollama").values())
    assert ctx.registry.source_states()["gpu-box"].health is SourceHealth.DOWN

    gpu_box.start()  # back on the same port
    _, gpu = await sync_all(ctx)
    assert gpu.ok
    assert all(
        m.status is ModelStatus.AVAILABLE and not m.status_message for m in models_of(ctx, "gpu-box").values()
    )


async def test_a_model_removed_from_a_healthy_host_disappears(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    point_at(ctx, fake_ollama)
    await sync_all(ctx)
    first_seen = ctx.registry.get("ollama/llama3.2:latest").created_at
    fake_ollama.remove_model("gemma3:4b")
    (report,) = await sync_all(ctx)
    assert report.ok and report.removed == 1 and report.added == 0 and report.model_count == 5
    assert ctx.registry.find("ollama/gemma3:4b") is None
    assert ctx.registry.get("ollama/llama3.2:latest").created_at == first_seen  # kept across syncs


async def test_a_malformed_reply_reports_the_source_down_and_loses_nothing(
    ctx: AppContext, fake_ollama: FakeOllama, gpu_box: FakeOllama
) -> None:
    point_at(ctx, fake_ollama, gpu_box)
    await sync_all(ctx)
    fake_ollama.malformed_json = "/api/tags"
    local, gpu = await sync_all(ctx)
    assert local.health is SourceHealth.DOWN and "not valid JSON" in local.message
    assert local.removed == 0
    kept = models_of(ctx, "ollama")
    assert sorted(kept) == sorted(DEFAULT_MODELS)
    assert all(m.status is ModelStatus.OFFLINE for m in kept.values())
    assert gpu.ok and all(m.status is ModelStatus.AVAILABLE for m in models_of(ctx, "gpu-box").values())


async def test_a_host_down_from_the_start_is_reported(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    point_at(ctx, fake_ollama)
    fake_ollama.stop()
    (report,) = await sync_all(ctx)
    assert report.health is SourceHealth.DOWN and report.model_count == 0
    assert report.hint  # tells the user what to check
    assert ctx.registry.count() == 0


async def test_pull_then_the_registry_has_the_model(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    point_at(ctx, fake_ollama)
    await sync_all(ctx)
    statuses = [p.status async for p in pull_model(ctx, "phi3:mini")]
    assert statuses[-1] == "success"
    assert ctx.registry.get("ollama/phi3:mini").status is ModelStatus.AVAILABLE


async def test_ollama_host_with_a_path_prefix_reaches_a_daemon_behind_a_proxy(
    monkeypatch: pytest.MonkeyPatch, fake_ollama: FakeOllama
) -> None:
    """``OLLAMA_HOST=':<port>/ollama'`` (quoted, as shell profiles often write it): this machine, that
    port, and every request under ``/ollama/api/...``."""
    fake_ollama.prefix = "/ollama"
    monkeypatch.setenv("OLLAMA_HOST", f"':{fake_ollama.port}/ollama'")
    context = AppContext.open()
    try:
        assert context.settings.source("ollama").base_url == f"http://127.0.0.1:{fake_ollama.port}/ollama"
        (report,) = await sync_all(context)
        assert report.ok and report.model_count == len(DEFAULT_MODELS)
        assert fake_ollama.requests["/api/tags"] == 1
        assert fake_ollama.requests["/<outside prefix>"] == 0
    finally:
        await context.aclose()
        context.close()


async def test_an_offline_old_daemon_with_only_cloud_models_syncs_ok(ctx: AppContext) -> None:
    """v0.18-v0.29 answer /api/show of a cloud model with 502 when ollama.com is out of reach: the daemon
    is up (it answered), so the sync is OK and the cloud models are marked, with why."""
    with FakeOllama([make_cloud_model("gpt-oss:120b-cloud")], generation="old") as fake:
        fake.cloud_reachable = False
        point_at(ctx, fake)
        (report,) = await sync_all(ctx)
    assert report.ok and report.model_count == 1
    model = models_of(ctx, "ollama")["gpt-oss:120b-cloud"]
    assert model.status is ModelStatus.ERROR and "ollama.com" in model.status_message
    assert ctx.registry.source_states()["ollama"].health is SourceHealth.OK
