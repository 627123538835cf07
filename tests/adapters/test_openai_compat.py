"""OpenAICompatBackend against the fake OpenAI-compatible server (and a few odd servers via MockTransport)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from desktop_app.adapters.openai_compat import (
    OpenAICompatBackend,
    StreamState,
    build_chat_payload,
    infer_capabilities,
    messages_to_wire,
    response_format_to_wire,
)
from desktop_app.core.backend import ModelBackend
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatRequest, ChatResult, ToolCall
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    ContentFiltered,
    InvalidInput,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    ServiceRetired,
    SourceError,
    SourceUnavailable,
    StreamInterrupted,
)
from desktop_app.core.models import Category, ServingType, SourceConfig, SourceKind
from tests.fakes.openai_compat import FakeOpenAIServer

HI = [ChatMessage(role="user", content="hi there")]
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def config(url: str, name: str = "work", **extra: Any) -> SourceConfig:
    return SourceConfig(name=name, kind=SourceKind.OPENAI_COMPAT, base_url=url, **extra)


@pytest.fixture
async def oa(fake_openai: FakeOpenAIServer) -> AsyncIterator[OpenAICompatBackend]:
    backend = OpenAICompatBackend(config(fake_openai.url), api_key=fake_openai.api_key)
    yield backend
    await backend.aclose()


async def collect(stream: AsyncIterator[ChatChunk]) -> tuple[ChatResult, list[ChatChunk]]:
    result = ChatResult()
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        result.add(chunk)
    return result, chunks


# ------------------------------------------------------------------------------------------ models


async def test_implements_the_backend_protocol(oa: OpenAICompatBackend) -> None:
    assert isinstance(oa, ModelBackend)
    assert await oa.version() is None


async def test_list_models_are_remote_unified_models(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    models = {m.remote_id: m for m in await oa.list_models()}
    assert set(models) == set(fake_openai.model_ids)
    mini = models["gpt-4o-mini"]
    assert mini.id == "work/gpt-4o-mini"
    assert mini.provider == "work"
    assert mini.source is SourceKind.OPENAI_COMPAT
    assert mini.serving_type is ServingType.REMOTE
    assert mini.remote_endpoint == f"{fake_openai.url}/chat/completions"
    assert mini.capabilities == ["completion", "vision"]
    # A bare "gpt-…" id is guessed to be OpenAI's, so the publisher rule applies.
    assert mini.categories == [Category.CLOUD_TEXT, Category.MULTIMODAL]
    assert mini.category is Category.CLOUD_TEXT and mini.publisher == "openai"
    emb = models["text-embedding-3-small"]
    assert emb.capabilities == ["embedding"] and Category.EMBEDDING in emb.categories
    assert emb.remote_endpoint == f"{fake_openai.url}/embeddings"
    assert Category.REASONING in models["o3-mini"].categories
    assert Category.REASONING in models["deepseek-r1-distill-qwen-7b"].categories
    assert Category.MULTIMODAL in models["qwen2.5-vl-7b-instruct"].categories
    [req] = fake_openai.calls("/models")
    assert req.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert req.headers["user-agent"].startswith("ModelDesk/")


async def test_publisher_rules_apply_to_namespaced_ids(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.models = [("openai/gpt-4o", "openai"), ("deepseek/deepseek-r1", "deepseek"), ("x/y", "x")]
    backend = OpenAICompatBackend(config(fake_openai.url, "router"), api_key=fake_openai.api_key)
    try:
        cats = {m.remote_id: m.categories for m in await backend.list_models()}
    finally:
        await backend.aclose()
    assert cats["openai/gpt-4o"][0] is Category.CLOUD_TEXT
    assert cats["deepseek/deepseek-r1"] == [Category.CLOUD_CODE, Category.REASONING]
    assert cats["x/y"] == [Category.CLOUD_GENERAL]


@pytest.mark.parametrize(
    ("name", "caps"),
    [
        ("nomic-embed-text", ["embedding"]),
        ("text-embedding-3-large", ["embedding"]),
        ("gpt-4o", ["completion", "vision"]),
        ("llama-3.2-11b-vision-instruct", ["completion", "vision"]),
        ("Qwen2.5-VL-7B", ["completion", "vision"]),
        ("o1", ["completion", "thinking"]),
        ("o4-mini", ["completion", "thinking"]),
        ("o3mini", ["completion", "thinking"]),
        ("deepseek-r1:14b", ["completion", "thinking"]),
        ("magistral-reasoning", ["completion", "thinking"]),
        ("qwen3-thinking-2507", ["completion", "thinking"]),
        ("llama3.2", ["completion"]),
        ("mistral-large-2411", ["completion"]),
        ("gpt-4.1-nano", ["completion"]),
    ],
)
def test_infer_capabilities_from_names(name: str, caps: list[str]) -> None:
    assert infer_capabilities(name) == caps


async def test_user_capabilities_win_over_inferred(fake_openai: FakeOpenAIServer) -> None:
    cfg = config(
        fake_openai.url, options={"capabilities": {"llama3.2:latest": ["completion", "tools", "vision"]}}
    )
    backend = OpenAICompatBackend(cfg, api_key=fake_openai.api_key)
    try:
        models = {m.remote_id: m for m in await backend.list_models()}
    finally:
        await backend.aclose()
    llama = models["llama3.2:latest"]
    assert llama.user_capabilities == ["completion", "tools", "vision"]
    assert llama.capabilities == ["completion", "tools", "vision"]
    assert llama.categories == [Category.CLOUD_TEXT, Category.MULTIMODAL, Category.FUNCTION_CALLING]
    assert models["gpt-4o-mini"].user_capabilities is None


async def test_model_list_entries_without_id_are_skipped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "good", "extra": {"x": 1}}, {"object": "model"}, "junk", {"id": ""}],
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = OpenAICompatBackend(config("http://127.0.0.1:9/v1"), api_key=None, client=client)
        assert [m.remote_id for m in await backend.list_models()] == ["good"]


async def test_a_404_model_list_says_the_url_is_probably_missing_v1(fake_openai: FakeOpenAIServer) -> None:
    backend = OpenAICompatBackend(config(fake_openai.url.removesuffix("/v1")), api_key=fake_openai.api_key)
    try:
        with pytest.raises(RequestRejected) as info:
            await backend.list_models()
    finally:
        await backend.aclose()
    assert "/v1" in info.value.hint and info.value.status_code == 404


# ------------------------------------------------------------------------------------------ chat


async def test_chat_streams_chunks_and_ends_with_metrics(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    result, chunks = await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))
    assert result.content == "Hello! You said: hi there"
    content_chunks = [c for c in chunks if c.content]
    assert len(content_chunks) == 5  # streamed word by word, not in one piece
    assert [c.done for c in chunks] == [False] * (len(chunks) - 1) + [True]
    m = chunks[-1].metrics
    assert m is not None
    assert m.completion_tokens == 5 and m.prompt_tokens and m.prompt_tokens > 0
    assert m.done_reason == "stop"
    assert m.ttft_s is not None and m.total_s is not None and m.total_s >= m.ttft_s
    [req] = fake_openai.calls("/chat/completions")
    assert req.json["stream"] is True
    assert req.json["stream_options"] == {"include_usage": True}
    assert req.json["messages"] == [{"role": "user", "content": "hi there"}]
    assert req.headers["accept"] == "text/event-stream"
    assert req.headers["authorization"] == f"Bearer {fake_openai.api_key}"


async def test_chat_without_a_done_line_still_completes_on_finish_reason(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.send_done = False
    fake_openai.sse_comments = False
    result, _ = await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))
    assert result.content.startswith("Hello!") and result.metrics.done_reason == "stop"


async def test_chat_options_are_mapped_to_openai_names(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    opts = ChatOptions(
        temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop=["END"], top_k=40, num_ctx=4096
    )
    await collect(oa.chat(ChatRequest("gpt-4o-mini", HI, opts, think="high")))
    body = fake_openai.calls("/chat/completions")[0].json
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["max_tokens"] == 64
    assert body["seed"] == 7 and body["stop"] == ["END"]
    assert body["reasoning_effort"] == "high"
    assert "top_k" not in body and "num_ctx" not in body and "options" not in body


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas_become_thinking(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer, field: str
) -> None:
    fake_openai.reasoning = "Let me think about it."
    fake_openai.reasoning_field = field
    result, chunks = await collect(oa.chat(ChatRequest("o3-mini", HI)))
    assert result.thinking == "Let me think about it."
    assert result.content == "Hello! You said: hi there"
    assert chunks[0].thinking and not chunks[0].content


async def test_tool_call_fragments_are_assembled_by_index(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.tool_arguments = {"city": "Paris", "unit": "celsius", "days": [1, 2]}
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    result, chunks = await collect(oa.chat(ChatRequest("gpt-4o-mini", HI, tools=tools)))
    assert result.tool_calls == [
        ToolCall(
            id="call_fake_1",
            name="get_weather",
            arguments={"city": "Paris", "unit": "celsius", "days": [1, 2]},
        )
    ]
    assert chunks[-1].done and chunks[-1].tool_calls
    assert result.metrics.done_reason == "tool_calls"
    assert fake_openai.calls("/chat/completions")[0].json["tools"] == tools


def test_stream_state_assembles_parallel_tool_calls_and_keeps_bad_arguments() -> None:
    state = StreamState()
    frames: list[dict[str, Any]] = [
        {"index": 0, "id": "a", "function": {"name": "one", "arguments": '{"x"'}},
        {"index": 1, "id": "b", "function": {"name": "two", "arguments": "not json"}},
        {"index": 0, "function": {"arguments": ": 1}"}},
    ]
    for frame in frames:
        state.feed({"choices": [{"index": 0, "delta": {"tool_calls": [frame]}}]})
    state.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    calls = state.final().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "one", {"x": 1}), ("b", "two", {})]
    assert calls[1].model_extra == {"raw_arguments": "not json"}


@pytest.mark.parametrize(
    ("given", "wire"),
    [
        ("json", {"type": "json_object"}),
        ("text", None),
        (None, None),
        (
            {"type": "object", "title": "Answer", "properties": {"a": {"type": "string"}}},
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "Answer",
                    "schema": {"type": "object", "title": "Answer", "properties": {"a": {"type": "string"}}},
                },
            },
        ),
        (
            {"name": "person", "schema": {"type": "object"}, "strict": True},
            {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": {"type": "object"}, "strict": True},
            },
        ),
        (  # gh sends the whole jsonSchema object as written (description and all)
            {"name": "p", "description": "A person", "schema": {"type": "object"}, "strict": True, "x-k": 1},
            {
                "type": "json_schema",
                "json_schema": {
                    "name": "p",
                    "description": "A person",
                    "schema": {"type": "object"},
                    "strict": True,
                    "x-k": 1,
                },
            },
        ),
        ({"type": "json_object"}, {"type": "json_object"}),
    ],
)
def test_response_format_mapping(given: Any, wire: Any) -> None:
    assert response_format_to_wire(given) == wire


def test_unknown_response_format_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        response_format_to_wire("yaml")


async def test_response_format_json_is_sent(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer) -> None:
    result, _ = await collect(oa.chat(ChatRequest("gpt-4o-mini", HI, response_format="json")))
    assert fake_openai.calls("/chat/completions")[0].json["response_format"] == {"type": "json_object"}
    assert json.loads(result.content) == {"reply": "Hello! You said: hi there"}


async def test_images_become_image_url_parts_with_data_urls(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    msg = ChatMessage(role="user", content="what is this?", images=[PNG_1PX, "/9j/4AAQSkZJRg=="])
    result, _ = await collect(oa.chat(ChatRequest("gpt-4o-mini", [msg])))
    content = fake_openai.calls("/chat/completions")[0].json["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert content[1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}}
    assert content[2]["image_url"]["url"].startswith("data:image/jpeg;base64,/9j/")
    assert result.content.endswith("[2 images]")


def test_tool_results_get_the_id_of_their_call() -> None:
    msgs = [
        ChatMessage(role="user", content="weather?"),
        ChatMessage(
            role="assistant",
            tool_calls=[ToolCall(name="weather", arguments={"city": "Oslo"}), ToolCall(id="t2", name="time")],
        ),
        ChatMessage(role="tool", content="12:00", tool_name="time"),
        ChatMessage(role="tool", content="rain", tool_name="weather"),
    ]
    wire = messages_to_wire(msgs)
    assert wire[1]["content"] is None
    assert wire[1]["tool_calls"][0] == {
        "id": "call_1_0",
        "type": "function",
        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
    }
    assert wire[2]["tool_call_id"] == "t2" and wire[3]["tool_call_id"] == "call_1_0"


def test_chat_payload_never_contains_non_openai_fields() -> None:
    body = build_chat_payload(ChatRequest("m", HI, ChatOptions(num_ctx=8), think=True))
    assert set(body) == {"model", "messages", "stream", "stream_options"}


async def test_server_that_ignores_stream_true_is_read_whole() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "whole"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = OpenAICompatBackend(config("http://127.0.0.1:9/v1"), api_key="k", client=client)
        result, chunks = await collect(backend.chat(ChatRequest("m", HI)))
        await backend.aclose()
        assert not client.is_closed  # an injected client belongs to the caller
    assert result.content == "whole" and result.metrics.completion_tokens == 1 and chunks[-1].done


async def test_error_event_mid_stream_is_mapped() -> None:
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
        'data: {"error":{"code":"content_filter","message":"filtered"}}\n\n'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = OpenAICompatBackend(config("http://127.0.0.1:9/v1"), api_key="k", client=client)
        with pytest.raises(ContentFiltered):
            await collect(backend.chat(ChatRequest("m", HI)))


async def test_stream_that_ends_without_finish_or_done_is_interrupted() -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"half a rep"}}]}\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = OpenAICompatBackend(config("http://127.0.0.1:9/v1"), api_key="k", client=client)
        with pytest.raises(StreamInterrupted) as info:
            await collect(backend.chat(ChatRequest("m", HI)))
    assert info.value.partial == "half a rep"


# ------------------------------------------------------------------------------------------ embeddings


async def test_embed_returns_vectors_in_order(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer) -> None:
    vectors = await oa.embed("text-embedding-3-small", ["alpha", "beta", "gamma"])
    assert vectors == [fake_openai.vector(t) for t in ("alpha", "beta", "gamma")]
    [req] = fake_openai.calls("/embeddings")
    assert req.json == {"model": "text-embedding-3-small", "input": ["alpha", "beta", "gamma"]}
    assert await oa.embed("text-embedding-3-small", []) == []


# ------------------------------------------------------------------------------------------ faults


async def test_expired_key_is_an_auth_error_without_the_key(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "unauthorized"
    fake_openai.echo_key = True  # a server that echoes the key back must not leak it through us
    for call in (
        oa.list_models(),
        collect(oa.chat(ChatRequest("gpt-4o-mini", HI))),
        oa.embed("text-embedding-3-small", ["x"]),
    ):
        with pytest.raises(AuthError) as info:
            await call
        assert info.value.status_code == 401
        assert "401" in info.value.message
        text = f"{info.value} {info.value!r} {info.value.args} {info.value.hint}"
        assert fake_openai.api_key is not None and fake_openai.api_key not in text
        assert "***" in info.value.message
        assert "modeldesk key set work" in info.value.hint


async def test_wrong_key_is_refused_by_the_server(fake_openai: FakeOpenAIServer) -> None:
    backend = OpenAICompatBackend(config(fake_openai.url), api_key="sk-wrong-0000")
    try:
        with pytest.raises(AuthError, match="refused the key"):
            await backend.list_models()
    finally:
        await backend.aclose()
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-wrong-0000"


async def test_no_key_sends_no_authorization_header(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.api_key = None  # a local server (vLLM, LM Studio) needs none
    backend = OpenAICompatBackend(config(fake_openai.url), api_key=None)
    try:
        assert await backend.list_models()
    finally:
        await backend.aclose()
    assert "authorization" not in fake_openai.requests[-1].headers


@pytest.mark.parametrize(
    ("variant", "low", "high"),
    [
        ("x-ratelimit-timeremaining", 7.0, 7.0),
        ("retry-after", 7.0, 7.0),
        ("retry-after-date", 4.0, 7.5),
        ("none", None, None),
    ],
)
async def test_429_carries_the_wait_from_each_header(
    oa: OpenAICompatBackend,
    fake_openai: FakeOpenAIServer,
    variant: str,
    low: float | None,
    high: float | None,
) -> None:
    fake_openai.mode = "rate_limited"
    fake_openai.rate_limit_header = variant
    fake_openai.rate_limit_wait = 7
    with pytest.raises(RateLimited) as info:
        await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))
    wait = info.value.retry_after
    if low is None:
        assert wait is None
    else:
        assert wait is not None and high is not None and low <= wait <= high
    assert info.value.status_code == 429 and "Rate limit reached" in info.value.message


async def test_429_storm_then_success(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.rate_limit_count = 2
    for _ in range(2):
        with pytest.raises(RateLimited):
            await oa.list_models()
    assert await oa.list_models()


async def test_content_filter(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.mode = "content_filter"
    with pytest.raises(ContentFiltered, match="content filter"):
        await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))


async def test_unknown_model(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer) -> None:
    with pytest.raises(ModelNotFound, match="'no-such-model'") as info:
        await collect(oa.chat(ChatRequest("no-such-model", HI)))
    assert info.value.status_code == 404
    fake_openai.mode = "unknown_model"
    with pytest.raises(ModelNotFound):
        await oa.embed("text-embedding-3-small", ["x"])


async def test_mid_stream_disconnect_keeps_the_partial_text(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "disconnect"
    fake_openai.disconnect_after = 3
    seen = ""
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in oa.chat(ChatRequest("gpt-4o-mini", HI)):
            seen += chunk.content
    assert info.value.partial == seen == "Hello! You said: "
    assert "work stopped answering mid-reply" in info.value.message


async def test_cut_json_body_is_a_bad_response(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "disconnect"
    with pytest.raises(BadResponse):
        await oa.list_models()


async def test_non_json_bodies_are_bad_responses(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "non_json"
    with pytest.raises(BadResponse, match="not valid JSON"):
        await oa.list_models()
    with pytest.raises(BadResponse, match="not an event stream"):
        await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))
    with pytest.raises(BadResponse):
        await oa.embed("text-embedding-3-small", ["x"])


@pytest.mark.parametrize("mode", ["retired", "retired_403", "brownout"])
async def test_retired_service(oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer, mode: str) -> None:
    fake_openai.mode = mode
    with pytest.raises(ServiceRetired) as info:
        await oa.list_models()
    if mode == "retired_403":
        assert info.value.retired_on == "2026-07-30" and info.value.status_code == 403
    else:
        assert info.value.status_code == 410
    assert "source add openai" in info.value.hint
    with pytest.raises(ServiceRetired):
        await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))


async def test_unreachable_server_is_source_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAICompatBackend(config(f"http://127.0.0.1:{port}/v1"), api_key="k")
    try:
        with pytest.raises(SourceUnavailable, match="cannot connect"):
            await backend.list_models()
        with pytest.raises(SourceUnavailable):
            await collect(backend.chat(ChatRequest("m", HI)))
    finally:
        await backend.aclose()


@pytest.mark.parametrize(
    "url", ["ftp://host/v1", "http://", "http://host:99999/v1", "not a url", "http://h/v1?x=1"]
)
async def test_invalid_base_url_is_rejected_on_use_without_any_request(url: str) -> None:
    backend = OpenAICompatBackend(config(url), api_key="k")  # constructing never raises: one bad source
    try:  # must not stop a sync of the others
        for call in (
            backend.list_models(),
            collect(backend.chat(ChatRequest("m", HI))),
            backend.embed("m", ["x"]),
            backend.version(),
        ):
            with pytest.raises(InvalidInput, match="not a valid URL"):
                await call
    finally:
        await backend.aclose()


async def test_one_client_is_reused_and_handles_concurrent_requests(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    await oa.list_models()
    await oa.embed("text-embedding-3-small", ["x"])
    await oa.list_models()
    ports = {r.client_port for r in fake_openai.requests}
    assert len(ports) == 1  # keep-alive on one long-lived client
    fake_openai.delay = 0.2
    results = await asyncio.gather(*(collect(oa.chat(ChatRequest("gpt-4o-mini", HI))) for _ in range(4)))
    assert all(r.content for r, _ in results)
    assert fake_openai.max_in_flight >= 2


def test_repr_never_shows_the_key() -> None:
    backend = OpenAICompatBackend(config("http://127.0.0.1:1/v1"), api_key="sk-secret-repr")
    assert "sk-secret-repr" not in repr(backend) and "sk-secret-repr" not in str(vars(backend).get("config"))


# ------------------------------------------------------------------------------------------ real servers
@pytest.fixture
async def llama_cpp() -> AsyncIterator[tuple[FakeOpenAIServer, OpenAICompatBackend]]:
    """llama-cpp-python's server: no key, one model, interrupts a running stream for a new request."""
    with FakeOpenAIServer(models=[("qwen2.5-7b-instruct", "me")]) as fake:
        fake.flavor = "llama_cpp"
        backend = OpenAICompatBackend(config(fake.url, name="llama"), api_key=None)
        try:
            yield fake, backend
        finally:
            await backend.aclose()


async def test_llama_cpp_complete_stream_has_a_finish_reason(
    llama_cpp: tuple[FakeOpenAIServer, OpenAICompatBackend],
) -> None:
    _, backend = llama_cpp
    result, _ = await collect(backend.chat(ChatRequest("qwen2.5-7b-instruct", HI)))
    assert result.content == "Hello! You said: hi there"
    assert result.metrics.done_reason == "stop"
    [model] = await backend.list_models()
    assert model.remote_id == "qwen2.5-7b-instruct"


async def test_done_without_a_finish_reason_is_an_interrupted_reply_not_a_stop(
    llama_cpp: tuple[FakeOpenAIServer, OpenAICompatBackend],
) -> None:
    fake, backend = llama_cpp
    fake.interrupt_next = 1
    fake.disconnect_after = 2
    seen = ""
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in backend.chat(ChatRequest("qwen2.5-7b-instruct", HI)):
            seen += chunk.content
    assert info.value.partial == seen == "Hello! You "
    assert "ended the stream with [DONE] without saying why the reply stopped" in info.value.message
    assert "--concurrency 1" in info.value.hint


async def test_a_second_request_interrupts_the_first_on_llama_cpp(
    llama_cpp: tuple[FakeOpenAIServer, OpenAICompatBackend],
) -> None:
    """What the real server does when two requests overlap: the first ends early with [DONE] only.
    The first stream is held open (a long reply, read slowly) until the second is waiting."""
    fake, backend = llama_cpp
    fake.chunk_delay = 0.005  # a model generates a token at a time
    long = [ChatMessage(role="user", content=" ".join(f"w{i}" for i in range(2000)))]
    first = backend.chat(ChatRequest("qwen2.5-7b-instruct", long))
    got = await anext(first)  # the first is generating and holds the model lock
    second = asyncio.create_task(collect(backend.chat(ChatRequest("qwen2.5-7b-instruct", HI))))
    with pytest.raises(StreamInterrupted, match=r"\[DONE\] without saying why"):
        async for chunk in first:
            got = chunk
            await asyncio.sleep(0.001)  # let the second request reach the server
    result, _ = await second
    assert result.metrics.done_reason == "stop" and result.content == "Hello! You said: hi there"
    assert got is not None


def test_a_stream_that_just_stops_has_no_invented_done_reason() -> None:
    state = StreamState()
    state.feed({"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]})
    state.done_seen = True
    assert not state.complete
    assert state.final().metrics is not None and state.final().metrics.done_reason is None


async def test_a_server_killed_mid_request_stopped_answering_and_is_retryable(
    oa: OpenAICompatBackend, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.mode = "killed"
    with pytest.raises(StreamInterrupted) as info:
        await collect(oa.chat(ChatRequest("gpt-4o-mini", HI)))
    assert info.value.message.startswith("work stopped answering mid-reply")
    assert "kind of server" not in str(info.value)
    assert "still running" in info.value.hint


@pytest.mark.parametrize("flavor", ["openai", "litellm"])
async def test_no_key_set_and_refused_says_no_key_is_set(flavor: str) -> None:
    with FakeOpenAIServer(api_key="sk-master-1234") as fake:  # LiteLLM with a master key
        fake.flavor = flavor
        backend = OpenAICompatBackend(config(fake.url, name="proxy"), api_key=None)
        try:
            with pytest.raises(AuthError) as info:
                await backend.list_models()
        finally:
            await backend.aclose()
    assert info.value.message.startswith("proxy: no key is set, and 127.0.0.1")
    assert info.value.hint == "Set the key with `modeldesk key set proxy`."


async def test_no_key_set_and_a_500_says_no_key_is_set() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "Internal error", "type": "None"}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        backend = OpenAICompatBackend(
            config("http://127.0.0.1:4000/v1", name="proxy"), api_key=None, client=client
        )
        with pytest.raises(SourceError) as info:
            await backend.list_models()
        with_key = OpenAICompatBackend(
            config("http://127.0.0.1:4000/v1", name="proxy"), api_key="sk-1234", client=client
        )
        with pytest.raises(SourceError) as keyed:
            await with_key.list_models()
    assert "No key is set for proxy; if the server needs one, set it with `modeldesk key set proxy`." in str(
        info.value
    )
    assert "No key is set" not in str(keyed.value)


async def test_litellm_model_extras_give_context_length_and_embedding_category() -> None:
    with FakeOpenAIServer(models=[("team-chat", "openai"), ("team-embed", "openai")]) as fake:
        fake.flavor = "litellm"
        fake.model_info = {
            "team-chat": {"max_input_tokens": 128000, "max_output_tokens": 16384, "mode": "chat"},
            "team-embed": {"max_input_tokens": 8191, "mode": "embedding"},
        }
        backend = OpenAICompatBackend(config(fake.url, name="lite"), api_key=None)
        try:
            models = {m.remote_id: m for m in await backend.list_models()}
        finally:
            await backend.aclose()
    chat, embed = models["team-chat"], models["team-embed"]
    assert chat.context_length == 128000 and chat.max_output_tokens == 16384
    assert "embedding" not in chat.capabilities
    assert embed.capabilities == ["embedding"] and Category.EMBEDDING in embed.categories
    assert Category.EMBEDDING not in chat.categories
    assert embed.context_length == 8191 and embed.remote_endpoint.endswith("/embeddings")


@pytest.mark.parametrize(("think", "effort"), [("low", "low"), ("High", "high"), ("max", "high")])
def test_think_levels_map_to_reasoning_effort(think: str, effort: str) -> None:
    from desktop_app.adapters.openai_compat import build_chat_payload

    assert build_chat_payload(ChatRequest("o3", HI, think=think))["reasoning_effort"] == effort


def test_boolean_think_sends_no_reasoning_effort() -> None:
    from desktop_app.adapters.openai_compat import build_chat_payload

    assert "reasoning_effort" not in build_chat_payload(ChatRequest("o3", HI, think=True))
