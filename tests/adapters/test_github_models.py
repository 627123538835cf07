"""GitHubModelsBackend against the fake GitHub Models service, before and after its retirement."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.adapters.github_models import (
    DEFAULT_BASE_URL,
    GitHubModelsBackend,
    catalog_capabilities,
    retired_error,
)
from desktop_app.core.chat import ChatMessage, ChatRequest, ChatResult
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    ContentFiltered,
    ModelNotFound,
    RateLimited,
    ServiceRetired,
    StreamInterrupted,
)
from desktop_app.core.models import Category, ServingType, SourceConfig, SourceKind
from tests.fakes.github_models import FakeGitHubModels

HI = [ChatMessage(role="user", content="hello")]


def config(url: str, name: str = "github", **extra: Any) -> SourceConfig:
    return SourceConfig(name=name, kind=SourceKind.GITHUB_MODELS, base_url=url, **extra)


@pytest.fixture
async def gh(fake_github: FakeGitHubModels) -> AsyncIterator[GitHubModelsBackend]:
    backend = GitHubModelsBackend(config(fake_github.url), api_key=fake_github.api_key)
    yield backend
    await backend.aclose()


async def chat(backend: GitHubModelsBackend, model: str = "openai/gpt-4.1") -> ChatResult:
    result = ChatResult()
    async for chunk in backend.chat(ChatRequest(model, HI)):
        result.add(chunk)
    return result


# ------------------------------------------------------------------------------------------ catalog


async def test_catalog_request_headers(gh: GitHubModelsBackend, fake_github: FakeGitHubModels) -> None:
    await gh.list_models()
    [req] = fake_github.calls("/catalog/models")
    assert req.method == "GET"
    assert req.headers["accept"] == "application/vnd.github+json"
    assert req.headers["x-github-api-version"] == "2022-11-28"
    assert req.headers["authorization"] == f"Bearer {fake_github.api_key}"


@pytest.mark.parametrize(
    ("remote_id", "categories", "capabilities"),
    [
        (
            "openai/gpt-4.1",
            ["cloud_text", "multimodal", "function_calling"],
            ["vision", "tools", "completion"],
        ),
        ("openai/text-embedding-3-small", ["cloud_text", "embedding"], ["embedding"]),
        ("meta/llama-3.3-70b-instruct", ["cloud_text"], ["completion"]),
        ("deepseek/deepseek-r1", ["cloud_code", "reasoning"], ["thinking", "completion"]),
        (
            "microsoft/phi-4-multimodal-instruct",
            ["cloud_multimodal", "multimodal"],
            ["vision", "audio", "completion"],
        ),
        (
            "mistral-ai/mistral-small-2503",
            ["cloud_general", "multimodal", "function_calling"],
            ["vision", "tools", "completion"],
        ),
        (
            "openai/o3-mini",
            ["cloud_text", "function_calling", "reasoning"],
            ["tools", "thinking", "completion"],
        ),
    ],
)
async def test_catalog_categories(
    gh: GitHubModelsBackend, remote_id: str, categories: list[str], capabilities: list[str]
) -> None:
    model = {m.remote_id: m for m in await gh.list_models()}[remote_id]
    assert [c.value for c in model.categories] == categories
    assert model.category.value == categories[0]
    assert model.capabilities == capabilities


async def test_catalog_fields_are_carried_over(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels
) -> None:
    models = {m.remote_id: m for m in await gh.list_models()}
    assert len(models) == len(fake_github.catalog)
    m = models["openai/gpt-4.1"]
    assert m.id == "github/openai/gpt-4.1"
    assert m.name == "OpenAI GPT-4.1"
    assert m.provider == "github"
    assert m.source is SourceKind.GITHUB_MODELS and m.serving_type is ServingType.REMOTE
    assert m.publisher == "OpenAI" and m.version == "2025-04-14"
    assert m.description.startswith("gpt-4.1 outperforms gpt-4o")
    assert m.rate_limit_tier == "high"
    assert m.context_length == 1048576 and m.max_output_tokens == 32768
    assert m.tags == ["multipurpose", "multilingual", "multimodal"]
    assert m.remote_endpoint == f"{fake_github.url}/inference/chat/completions"
    r1 = models["deepseek/deepseek-r1"]
    assert r1.family is None, "the catalog's registry (azureml-deepseek) is not a family"
    emb = models["openai/text-embedding-3-small"]
    assert emb.max_output_tokens is None and emb.rate_limit_tier == "embeddings"
    assert emb.remote_endpoint == f"{fake_github.url}/inference/embeddings"


async def test_catalog_tolerates_missing_unknown_and_broken_entries(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels
) -> None:
    fake_github.catalog = [
        {"id": "acme/bare"},  # only an id
        {
            "id": "acme/odd",
            "name": 7,
            "limits": None,
            "tags": "solo",
            "capabilities": None,
            "supported_input_modalities": "image",
            "rate_limit_tier": ["x"],
            "future_field": {"a": [1]},
            "version": 3,
        },
        {"name": "no id at all", "publisher": "Nobody"},  # skipped, not fatal
        {"id": None},
        "not an object",
        {"id": "acme/bare"},  # duplicate
    ]
    models = {m.remote_id: m for m in await gh.list_models()}
    assert list(models) == ["acme/bare", "acme/odd"]
    bare = models["acme/bare"]
    assert bare.name == "acme/bare" and bare.publisher == "acme" and bare.description == ""
    assert bare.context_length is None and bare.tags == [] and bare.capabilities == ["completion"]
    assert bare.categories == [Category.CLOUD_GENERAL]
    odd = models["acme/odd"]
    assert odd.name == "7" and odd.version == "3" and odd.tags == ["solo"] and odd.rate_limit_tier is None
    assert odd.capabilities == ["vision", "completion"]


@pytest.mark.parametrize(
    ("entry", "caps"),
    [
        ({"supported_output_modalities": ["embeddings"]}, ["embedding"]),
        (
            {"supported_input_modalities": ["text", "image"], "supported_output_modalities": ["text"]},
            ["vision", "completion"],
        ),
        (
            {"capabilities": ["streaming", "tool-calling"], "supported_output_modalities": ["text"]},
            ["tools", "completion"],
        ),
        ({"tags": ["Reasoning"], "supported_output_modalities": ["text"]}, ["thinking", "completion"]),
        ({}, ["completion"]),
    ],
)
def test_catalog_capabilities(entry: dict[str, Any], caps: list[str]) -> None:
    assert catalog_capabilities(entry) == caps


async def test_user_capabilities_win(fake_github: FakeGitHubModels) -> None:
    cfg = config(
        fake_github.url, options={"capabilities": {"meta/llama-3.3-70b-instruct": ["completion", "tools"]}}
    )
    backend = GitHubModelsBackend(cfg, api_key=fake_github.api_key)
    try:
        llama = {m.remote_id: m for m in await backend.list_models()}["meta/llama-3.3-70b-instruct"]
    finally:
        await backend.aclose()
    assert llama.user_capabilities == ["completion", "tools"]
    assert llama.categories == [Category.CLOUD_TEXT, Category.FUNCTION_CALLING]


async def test_catalog_that_is_not_a_list_or_not_json(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels
) -> None:
    fake_github.catalog = {"message": "hello"}  # type: ignore[assignment]
    with pytest.raises(BadResponse, match="not a list"):
        await gh.list_models()
    fake_github.mode = "non_json"
    with pytest.raises(BadResponse, match="not valid JSON"):
        await gh.list_models()


def test_base_url_defaults_to_models_github_ai() -> None:
    backend = GitHubModelsBackend(config(""), api_key="t")
    assert backend.base == DEFAULT_BASE_URL == "https://models.github.ai"
    assert backend._chat_url() == "https://models.github.ai/inference/chat/completions"
    assert backend._models_url() == "https://models.github.ai/catalog/models"


# ------------------------------------------------------------------------------------------ inference


async def test_chat_uses_the_inference_endpoint(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels
) -> None:
    result = await chat(gh)
    assert result.content == "Hello! You said: hello"
    assert result.metrics.prompt_tokens and result.metrics.completion_tokens == 4
    [req] = fake_github.calls("/chat/completions")
    assert req.path == "/inference/chat/completions"
    assert req.json["model"] == "openai/gpt-4.1" and req.json["stream"] is True
    assert req.headers["authorization"] == f"Bearer {fake_github.api_key}"


async def test_org_scoped_inference(fake_github: FakeGitHubModels) -> None:
    backend = GitHubModelsBackend(config(fake_github.url, org="acme-corp"), api_key=fake_github.api_key)
    try:
        await chat(backend)
        vectors = await backend.embed("openai/text-embedding-3-small", ["a", "b"])
        models = await backend.list_models()
    finally:
        await backend.aclose()
    assert len(vectors) == 2
    paths = [r.path for r in fake_github.requests]
    assert paths == [
        "/orgs/acme-corp/inference/chat/completions",
        "/orgs/acme-corp/inference/embeddings",
        "/catalog/models",
    ]
    assert {r.extra.get("org") for r in fake_github.requests[:2]} == {"acme-corp"}
    assert models[0].remote_endpoint == f"{fake_github.url}/orgs/acme-corp/inference/chat/completions"


async def test_embeddings(gh: GitHubModelsBackend, fake_github: FakeGitHubModels) -> None:
    assert await gh.embed("openai/text-embedding-3-small", ["x"]) == [fake_github.vector("x")]
    assert fake_github.calls("/embeddings")[0].path == "/inference/embeddings"


# ------------------------------------------------------------------------------------------ retirement


@pytest.mark.parametrize("mode", ["retired", "retired_403", "brownout"])
async def test_retirement_is_detected_on_every_call(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels, mode: str
) -> None:
    fake_github.mode = mode
    for call in (gh.list_models(), chat(gh), gh.embed("openai/text-embedding-3-small", ["x"])):
        with pytest.raises(ServiceRetired) as info:
            await call
        err = info.value
        assert err.retired_on == "2026-07-30"
        assert err.successor == "Azure AI Foundry"
        assert "retired on 2026-07-30" in err.message
        assert "modeldesk source add openai NAME URL" in err.hint and "Azure AI Foundry" in err.hint
        assert err.status_code == (403 if mode == "retired_403" else 410)
        assert err.source == "github"
    if mode == "brownout":
        assert "brownout" in err.message


async def test_403_with_only_a_deprecation_header_is_retirement_for_github() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, headers={"Deprecation": "@1777939200"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = GitHubModelsBackend(config("http://127.0.0.1:9"), api_key="t", client=client)
        with pytest.raises(ServiceRetired):
            await backend.list_models()


def test_retired_error_is_plain() -> None:
    err = retired_error("gh")
    assert str(err).startswith("gh: GitHub Models was retired on 2026-07-30")
    assert "Traceback" not in str(err)


# ------------------------------------------------------------------------------------------ faults


async def test_missing_token_is_an_auth_error_with_a_hint(fake_github: FakeGitHubModels) -> None:
    backend = GitHubModelsBackend(config(fake_github.url, name="gh-work"), api_key=None)
    try:
        for call in (backend.list_models(), chat(backend)):
            with pytest.raises(AuthError) as info:
                await call
            assert "no GitHub token" in info.value.message
            assert "GITHUB_TOKEN" in info.value.hint and "modeldesk key set gh-work" in info.value.hint
        assert all("authorization" not in r.headers for r in fake_github.requests)
        fake_github.mode = "retired"  # with no token, a retired service still reads as retired
        with pytest.raises(ServiceRetired):
            await backend.list_models()
    finally:
        await backend.aclose()


async def test_expired_token(gh: GitHubModelsBackend, fake_github: FakeGitHubModels) -> None:
    fake_github.mode = "unauthorized"
    fake_github.echo_key = True
    with pytest.raises(AuthError) as info:
        await gh.list_models()
    assert "Bad credentials" in info.value.message and "GITHUB_TOKEN" in info.value.hint
    assert fake_github.api_key is not None and fake_github.api_key not in str(info.value)


async def test_unknown_model_code(gh: GitHubModelsBackend) -> None:
    with pytest.raises(ModelNotFound) as info:
        await chat(gh, "openai/gpt-9")
    assert info.value.status_code == 400 and "Unknown model: openai/gpt-9" in info.value.message


@pytest.mark.parametrize(
    ("variant", "expected"), [("x-ratelimit-timeremaining", 42.0), ("retry-after", 42.0), ("none", None)]
)
async def test_rate_limit_reached(
    gh: GitHubModelsBackend, fake_github: FakeGitHubModels, variant: str, expected: float | None
) -> None:
    fake_github.mode = "rate_limited"
    fake_github.rate_limit_header = variant
    fake_github.rate_limit_wait = 42
    with pytest.raises(RateLimited) as info:
        await chat(gh)
    assert info.value.retry_after == expected
    assert "UserByModelByDay" in info.value.message


async def test_content_filter(gh: GitHubModelsBackend, fake_github: FakeGitHubModels) -> None:
    fake_github.mode = "content_filter"
    with pytest.raises(ContentFiltered):
        await chat(gh)


async def test_disconnect_mid_stream(gh: GitHubModelsBackend, fake_github: FakeGitHubModels) -> None:
    fake_github.mode = "disconnect"
    fake_github.disconnect_after = 1
    with pytest.raises(StreamInterrupted) as info:
        await chat(gh)
    assert info.value.partial == "Hello! "


def test_fake_runs_standalone_in_retired_mode() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.github_models", "--port", "0", "--mode", "retired"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.rsplit(" at ", 1)[1].strip()
        resp = httpx.get(f"{url}/catalog/models", timeout=5)
        assert resp.status_code == 410
    finally:
        proc.terminate()
        proc.wait(timeout=5)
