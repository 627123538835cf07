"""Ollama cloud models: stubs in /api/tags whose requests the daemon passes on to ollama.com.

What the real daemon does (ollama/ollama ``server/routes.go``, ``server/cloud_proxy.go``): 401
``{"error": "unauthorized", "signin_url": ...}`` when it is not signed in, 403 ``ollama cloud is
disabled: ...`` when cloud is turned off, and when ollama.com cannot be reached a stub's chat answers 500
and (v0.18-v0.29) its proxied ``/api/show`` 502.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from desktop_app.adapters._http import make_client
from desktop_app.adapters.ollama import OllamaBackend
from desktop_app.core.chat import ChatMessage, ChatRequest
from desktop_app.core.errors import AuthError, SourceTimeout, SourceUnavailable
from desktop_app.core.models import Category, ModelStatus, ServingType, SourceConfig, SourceKind
from tests.fakes.ollama import FakeOllama, default_models, make_cloud_model

USER = [ChatMessage(role="user", content="Hi")]
CLOUD = "gpt-oss:120b-cloud"


def cloud_models() -> list[dict[str, object]]:
    return [make_cloud_model(CLOUD), make_cloud_model("qwen3-coder:480b-cloud", ["completion", "tools"])]


@pytest.fixture(params=["new", "old"])
async def mixed(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeOllama, OllamaBackend]]:
    """A daemon with the default local models and two cloud models, of either generation."""
    with FakeOllama(default_models() + cloud_models(), generation=request.param) as fake:
        backend = OllamaBackend(SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake.url))
        try:
            yield fake, backend
        finally:
            await backend.aclose()


async def chat(backend: OllamaBackend, model: str) -> None:
    async for _ in backend.chat(ChatRequest(model, USER)):
        pass


async def test_a_cloud_model_is_hybrid_without_a_size_on_disk(
    mixed: tuple[FakeOllama, OllamaBackend],
) -> None:
    _, backend = mixed
    models = {m.name: m for m in await backend.list_models()}
    cloud = models[CLOUD]
    assert cloud.serving_type is ServingType.HYBRID and cloud.tags == ["cloud"]
    assert cloud.size_bytes is None  # the 384-byte stub is not the model's size
    assert "on disk" not in cloud.description and "runs on ollama.com" in cloud.description
    assert (cloud.remote_id, cloud.remote_endpoint) == ("gpt-oss:120b", "https://ollama.com:443")
    assert cloud.status is ModelStatus.AVAILABLE
    # It runs remotely, so it sorts with remote models: its publisher's cloud branch, then capabilities.
    assert cloud.publisher == "openai"
    assert cloud.categories == [Category.CLOUD_TEXT, Category.FUNCTION_CALLING, Category.REASONING]
    coder = models["qwen3-coder:480b-cloud"]
    assert coder.categories == [Category.CLOUD_GENERAL, Category.FUNCTION_CALLING]
    local = models["llama3.2:latest"]
    assert local.serving_type is ServingType.LOCAL and local.size_bytes and not local.tags


async def test_a_cloud_name_alone_makes_a_cloud_model() -> None:
    """A server that does not list remote_* (or a proxy that drops them): the name says it."""
    stub = make_cloud_model("kimi-k2:1t-cloud")
    del stub["remote_model"], stub["remote_host"]
    with FakeOllama([stub]) as fake:
        backend = OllamaBackend(SourceConfig(name="o", kind=SourceKind.OLLAMA, base_url=fake.url))
        try:
            (model,) = await backend.list_models()
        finally:
            await backend.aclose()
    assert model.serving_type is ServingType.HYBRID and model.size_bytes is None
    assert model.remote_endpoint == "https://ollama.com:443"


async def test_offline_cloud_models_do_not_mark_an_old_daemon_down() -> None:
    """v0.18-v0.29 pass /api/show of a cloud model on to ollama.com: offline, each answers 502. The
    daemon answered /api/tags and every /api/show; it is up, and its cloud models are marked."""
    with FakeOllama(cloud_models(), generation="old") as fake:
        fake.cloud_reachable = False
        backend = OllamaBackend(SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake.url))
        try:
            models = await backend.list_models()
        finally:
            await backend.aclose()
        assert fake.requests["/api/show"] == 2
    assert {m.name for m in models} == {CLOUD, "qwen3-coder:480b-cloud"}
    for m in models:
        assert m.status is ModelStatus.ERROR
        assert "ollama.com" in m.status_message and "internet" in m.status_message


async def test_offline_cloud_models_beside_local_ones(mixed: tuple[FakeOllama, OllamaBackend]) -> None:
    fake, backend = mixed
    fake.cloud_reachable = False
    models = {m.name: m for m in await backend.list_models()}
    assert models["qwen3:8b"].status is ModelStatus.AVAILABLE and not models["qwen3:8b"].status_message
    # New servers describe cloud models from their cache; old ones cannot, and say so on the model.
    expected = ModelStatus.AVAILABLE if fake.generation == "new" else ModelStatus.ERROR
    assert models[CLOUD].status is expected


async def test_a_daemon_that_stops_answering_is_still_down() -> None:
    """Only an HTTP answer from the daemon proves it up: cloud models' /api/show calls that get no answer
    at all still report the host down."""
    with FakeOllama(cloud_models(), generation="old") as fake:
        fake.hang = "/api/show"
        client = make_client(fake.url, timeout=httpx.Timeout(0.3))
        backend = OllamaBackend(
            SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake.url), client=client
        )
        try:
            with pytest.raises(SourceTimeout) as info:
                await backend.list_models()
        finally:
            await client.aclose()
    assert info.value.status_code is None


async def test_signed_out_says_ollama_signin_and_shows_the_signin_url(
    mixed: tuple[FakeOllama, OllamaBackend],
) -> None:
    fake, backend = mixed
    fake.cloud_signed_in = False
    with pytest.raises(AuthError) as info:
        await chat(backend, CLOUD)
    assert info.value.status_code == 401
    assert "ollama signin" in info.value.hint and fake.signin_url in info.value.hint
    assert "modeldesk key set" not in str(info.value)


async def test_cloud_turned_off_says_so(mixed: tuple[FakeOllama, OllamaBackend]) -> None:
    fake, backend = mixed
    fake.cloud_disabled = True
    with pytest.raises(AuthError) as info:
        await chat(backend, CLOUD)
    assert info.value.status_code == 403 and "ollama cloud is disabled" in info.value.message
    assert "OLLAMA_NO_CLOUD" in info.value.hint and "modeldesk key set" not in str(info.value)


async def test_cloud_unreachable_in_chat_blames_ollama_com_not_the_daemon(
    mixed: tuple[FakeOllama, OllamaBackend],
) -> None:
    fake, backend = mixed
    fake.cloud_reachable = False
    with pytest.raises(SourceUnavailable) as info:
        await chat(backend, CLOUD)
    assert info.value.status_code == 500 and "local models still work" in info.value.hint
    await chat(backend, "llama3.2")  # the daemon's own models answer


async def test_a_401_from_a_proxy_in_front_of_ollama_blames_the_proxy(fake_ollama: FakeOllama) -> None:
    fake_ollama.status_override["/api/chat"] = (401, b"<html><body>401 Authorization Required</body></html>")
    backend = OllamaBackend(SourceConfig(name="o", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    try:
        with pytest.raises(AuthError) as info:
            await chat(backend, "llama3.2")
    finally:
        await backend.aclose()
    assert "proxy" in info.value.hint and "ollama signin" not in info.value.hint
    assert "modeldesk key set" not in str(info.value)


async def test_a_malformed_remote_host_does_not_fail_the_sync() -> None:
    with FakeOllama([make_cloud_model(CLOUD, remote_host="http://[::1")]) as fake:
        backend = OllamaBackend(SourceConfig(name="o", kind=SourceKind.OLLAMA, base_url=fake.url))
        try:
            (model,) = await backend.list_models()
        finally:
            await backend.aclose()
    assert model.serving_type is ServingType.HYBRID and "runs on ollama.com" in model.description
