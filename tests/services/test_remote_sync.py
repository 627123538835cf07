"""Remote sources through the services: sync beside Ollama, retirement during sync, chat streaming with
metrics and rate-limit retries through serving.stream_chat, and no key anywhere it must not be."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatResult
from desktop_app.core.errors import (
    ModelDeskError,
    RateLimited,
    ServiceRetired,
    StreamInterrupted,
)
from desktop_app.core.models import (
    Category,
    ModelStatus,
    ServingType,
    SourceConfig,
    SourceHealth,
    SourceKind,
    UnifiedModel,
)
from desktop_app.services import serving
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import ModelFilter
from tests.fakes.github_models import FakeGitHubModels
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer

HI = [ChatMessage(role="user", content="hi")]


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


def configure(
    ctx: AppContext,
    github: FakeGitHubModels | None = None,
    openai: FakeOpenAIServer | None = None,
    ollama: FakeOllama | None = None,
) -> None:
    """Settings with only the given fakes as sources; keys stored the way `modeldesk key set` does."""
    sources = []
    if ollama is not None:
        sources.append(SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=ollama.url))
    if github is not None:
        sources.append(SourceConfig(name="github", kind=SourceKind.GITHUB_MODELS, base_url=github.url))
        assert github.api_key is not None
        ctx.keys.set("github", github.api_key)
    if openai is not None:
        sources.append(SourceConfig(name="work", kind=SourceKind.OPENAI_COMPAT, base_url=openai.url))
        assert openai.api_key is not None
        ctx.keys.set("work", openai.api_key)
    ctx.settings.sources = sources
    ctx.save_settings()


def models_of(ctx: AppContext, provider: str) -> dict[str, UnifiedModel]:
    return {m.remote_id or m.name: m for m in ctx.registry.list_models(ModelFilter(provider=provider))}


async def collect(stream: AsyncIterator[ChatChunk]) -> tuple[ChatResult, list[ChatChunk]]:
    result, chunks = ChatResult(), []
    async for chunk in stream:
        chunks.append(chunk)
        result.add(chunk)
    return result, chunks


# ------------------------------------------------------------------------------------------ sync


async def test_sync_puts_local_and_remote_models_side_by_side(
    ctx: AppContext, fake_github: FakeGitHubModels, fake_openai: FakeOpenAIServer, fake_ollama: FakeOllama
) -> None:
    configure(ctx, fake_github, fake_openai, fake_ollama)
    reports = await sync_all(ctx)
    assert [(r.source, r.health) for r in reports] == [
        ("ollama", SourceHealth.OK),
        ("github", SourceHealth.OK),
        ("work", SourceHealth.OK),
    ]
    gh = models_of(ctx, "github")
    assert len(gh) == len(fake_github.catalog)
    assert gh["openai/gpt-4.1"].categories[:1] == [Category.CLOUD_TEXT]
    assert gh["deepseek/deepseek-r1"].category is Category.CLOUD_CODE
    assert gh["microsoft/phi-4-multimodal-instruct"].category is Category.CLOUD_MULTIMODAL
    assert gh["mistral-ai/mistral-small-2503"].category is Category.CLOUD_GENERAL
    assert all(
        m.serving_type is ServingType.REMOTE and m.status is ModelStatus.AVAILABLE for m in gh.values()
    )
    assert len(models_of(ctx, "work")) == len(fake_openai.models)
    local = ctx.registry.list_models(ModelFilter(provider="ollama"))
    assert local and all(m.serving_type is ServingType.LOCAL for m in local)
    # One capability filter finds local and remote models alike.
    embedders = {m.provider for m in ctx.registry.list_models(ModelFilter(category="embedding"))}
    assert {"github", "work"} <= embedders
    states = ctx.registry.source_states()
    assert states["github"].health is SourceHealth.OK and states["github"].model_count == len(gh)


async def test_retired_github_during_sync_keeps_its_models_and_the_other_source_syncs(
    ctx: AppContext, fake_github: FakeGitHubModels, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, fake_github, fake_openai)
    await sync_all(ctx)
    before = set(models_of(ctx, "github"))
    assert before
    fake_github.mode = "retired"
    fake_openai.models.append(("gpt-4.1-nano", "system"))  # the healthy source changed meanwhile
    reports = {r.source: r for r in await sync_all(ctx)}
    gh_report = reports["github"]
    assert gh_report.health is SourceHealth.RETIRED
    assert "retired on 2026-07-30" in gh_report.message
    assert "modeldesk source add openai NAME URL" in gh_report.hint
    assert gh_report.model_count == len(before) and gh_report.removed == 0
    kept = models_of(ctx, "github")
    assert set(kept) == before
    for m in kept.values():
        assert m.status is ModelStatus.RETIRED
        assert "2026-07-30" in m.status_message and "source add openai" in m.status_message
    assert reports["work"].health is SourceHealth.OK and reports["work"].added == 1
    work = models_of(ctx, "work")
    assert "gpt-4.1-nano" in work and all(m.status is ModelStatus.AVAILABLE for m in work.values())
    state = ctx.registry.source_states()["github"]
    assert state.health is SourceHealth.RETIRED and "Azure AI Foundry" in state.message
    # Chatting with a retired model is a plain refusal, not a crash or a network call.
    calls = len(fake_github.requests)
    with pytest.raises(ServiceRetired, match="retired"):
        await collect(serving.stream_chat(ctx, "github/openai/gpt-4.1", HI))
    assert len(fake_github.requests) == calls


@pytest.mark.parametrize("mode", ["retired_403", "brownout"])
async def test_brownout_answers_also_read_as_retired(
    ctx: AppContext, fake_github: FakeGitHubModels, mode: str
) -> None:
    configure(ctx, fake_github)
    fake_github.mode = mode
    [report] = await sync_all(ctx)
    assert report.health is SourceHealth.RETIRED


async def test_expired_key_marks_the_source_down_and_keeps_models_offline(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, openai=fake_openai)
    await sync_all(ctx)
    fake_openai.mode = "unauthorized"
    [report] = await sync_all(ctx)
    assert report.health is SourceHealth.DOWN and "401" in report.message
    assert "modeldesk key set" in report.hint
    work = models_of(ctx, "work")
    assert len(work) == len(fake_openai.models)
    assert all(m.status is ModelStatus.OFFLINE for m in work.values())


async def test_invalid_base_url_fails_only_its_own_source(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, openai=fake_openai)
    ctx.settings.sources.append(
        SourceConfig(name="typo", kind=SourceKind.OPENAI_COMPAT, base_url="htp:/oops")
    )
    ctx.save_settings()
    reports = {r.source: r for r in await sync_all(ctx)}
    assert reports["typo"].health is SourceHealth.DOWN and "not a valid URL" in reports["typo"].message
    assert reports["work"].health is SourceHealth.OK


# ------------------------------------------------------------------------------------------ serving


async def test_chat_streams_from_a_remote_model_with_metrics(
    ctx: AppContext, fake_github: FakeGitHubModels, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, fake_github, fake_openai)
    await sync_all(ctx)
    for model_ref, served, fake in (
        ("github/openai/gpt-4.1", "openai/gpt-4.1", fake_github),
        ("work/gpt-4o-mini", "gpt-4o-mini", fake_openai),
    ):
        result, chunks = await collect(serving.stream_chat(ctx, model_ref, HI))
        assert result.content == "Hello! You said: hi"
        assert sum(1 for c in chunks if c.content) > 1 and chunks[-1].done
        m = result.metrics
        assert m.prompt_tokens and m.completion_tokens == 4
        assert m.ttft_s is not None and m.total_s is not None and m.tokens_per_s and m.tokens_per_s > 0
        assert m.done_reason == "stop"
        assert fake.calls("/chat/completions")[-1].json["model"] == served
    assert await serving.embed(ctx, "github/openai/text-embedding-3-small", ["a"]) == [
        fake_github.vector("a")
    ]


async def test_think_tags_from_a_remote_model_become_thinking(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, openai=fake_openai)
    await sync_all(ctx)
    fake_openai.reply = "<think>hmm, a greeting</think>Hello there"
    result, _ = await collect(serving.stream_chat(ctx, "work/deepseek-r1-distill-qwen-7b", HI))
    assert result.thinking == "hmm, a greeting" and result.content == "Hello there"


@pytest.mark.parametrize("header", ["x-ratelimit-timeremaining", "retry-after", "none"])
async def test_429_storm_is_waited_out_and_the_user_is_told(
    ctx: AppContext, fake_github: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    configure(ctx, fake_github)
    await sync_all(ctx)
    monkeypatch.setattr(serving, "CHAT_RETRY", replace(serving.CHAT_RETRY, default_wait=0.02))
    fake_github.rate_limit_header = header
    fake_github.rate_limit_wait = 0.01
    fake_github.rate_limit_count = 3
    waits: list[tuple[float, str]] = []
    result, _ = await collect(
        serving.stream_chat(ctx, "github/openai/gpt-4.1", HI, on_wait=lambda s, msg: waits.append((s, msg)))
    )
    assert result.content == "Hello! You said: hi"
    expected = 0.02 if header == "none" else 0.01
    assert [w for w, _ in waits] == [expected] * 3
    assert "retry 3/3" in waits[-1][1] and "UserByModelByDay" in waits[0][1]
    assert len(fake_github.calls("/chat/completions")) == 4


async def test_429_storm_longer_than_the_retries_gives_up(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, openai=fake_openai)
    await sync_all(ctx)
    fake_openai.rate_limit_wait = 0.01
    fake_openai.rate_limit_count = 10
    with pytest.raises(RateLimited):
        await collect(serving.stream_chat(ctx, "work/gpt-4o-mini", HI))
    assert len(fake_openai.calls("/chat/completions")) == 1 + (serving.CHAT_RETRY.max_retries or 0)


async def test_cut_stream_keeps_the_partial_reply_through_chat_once(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    configure(ctx, openai=fake_openai)
    await sync_all(ctx)
    fake_openai.mode = "disconnect"
    fake_openai.disconnect_after = 2
    with pytest.raises(StreamInterrupted) as info:
        await serving.chat_once(ctx, "work/gpt-4o-mini", HI)
    assert info.value.partial == "Hello! You "


# ------------------------------------------------------------------------------------------ no key leaks


async def test_no_key_in_logs_errors_registry_settings_or_json_output(
    ctx: AppContext,
    fake_github: FakeGitHubModels,
    fake_openai: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    configure(ctx, fake_github, fake_openai)
    keys = [fake_github.api_key, fake_openai.api_key]
    assert all(keys)
    texts: list[str] = []
    await sync_all(ctx)
    texts.append((await collect(serving.stream_chat(ctx, "work/gpt-4o-mini", HI)))[0].model_dump_json())
    # Every failure path, with servers that echo the key back.
    fake_github.echo_key = fake_openai.echo_key = True
    fake_github.rate_limit_wait = fake_openai.rate_limit_wait = 0.01  # serving retries 429s; keep it fast
    for mode in ("unauthorized", "rate_limited", "content_filter", "disconnect", "non_json", "retired"):
        fake_github.mode = fake_openai.mode = mode
        reports = await sync_all(ctx)
        texts.extend(r.model_dump_json() for r in reports)
        for ref in ("work/gpt-4o-mini", "github/openai/gpt-4.1"):
            try:
                await serving.chat_once(ctx, ref, HI)
            except ModelDeskError as exc:
                texts += [str(exc), repr(exc), exc.hint, repr(exc.args), repr(vars(exc))]
    fake_github.mode = fake_openai.mode = "normal"
    await sync_all(ctx)
    texts.append(ctx.registry.dump_json())
    texts.append(json.dumps({k: v.model_dump(mode="json") for k, v in ctx.registry.source_states().items()}))
    texts.append(repr(ctx.backend("work")) + repr(ctx.backend("github")))
    # The CLI's --json outputs.
    capsys.readouterr()
    for argv in (
        ["list", "--json"],
        ["sync", "--json"],
        ["source", "list", "--json"],
        ["key", "list", "--json"],
    ):
        await asyncio.to_thread(main, argv)  # the CLI runs its own event loop
        out, err = capsys.readouterr()
        assert json.loads(out), argv  # each really dumped something
        texts += [out, err]
    texts.append(caplog.text)
    files = [isolated_home / "settings.json", *isolated_home.glob("registry.db*")]
    blob = "\n".join(texts).encode() + b"".join(p.read_bytes() for p in files)
    assert b"gpt-4o-mini" in blob and b"openai/gpt-4.1" in blob  # the haystack is real
    for key in keys:
        assert key is not None and key.encode() not in blob
    # …while the keys really did go out, in the Authorization header only.
    assert any(
        r.headers.get("authorization") == f"Bearer {fake_openai.api_key}" for r in fake_openai.requests
    )
    for fake in (fake_github, fake_openai):
        assert fake.api_key is not None
        for r in fake.requests:
            assert fake.api_key not in r.path + r.query + r.body.decode()


async def test_missing_github_token_reads_as_an_auth_problem_in_sync(
    ctx: AppContext, fake_github: FakeGitHubModels
) -> None:
    ctx.settings.sources = [
        SourceConfig(name="github", kind=SourceKind.GITHUB_MODELS, base_url=fake_github.url)
    ]
    ctx.save_settings()
    [report] = await sync_all(ctx)
    assert report.health is SourceHealth.DOWN
    assert "no GitHub token" in report.message and "GITHUB_TOKEN" in report.hint


async def test_github_token_from_the_environment(
    ctx: AppContext, fake_github: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fake_github.api_key is not None
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.api_key)
    ctx.settings.sources = [
        SourceConfig(name="github", kind=SourceKind.GITHUB_MODELS, base_url=fake_github.url)
    ]
    ctx.save_settings()
    [report] = await sync_all(ctx)
    assert report.health is SourceHealth.OK
