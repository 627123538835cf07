"""OllamaBackend over real sockets against the fake Ollama server (tests/fakes/ollama.py)."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest

from desktop_app.adapters._http import make_client
from desktop_app.adapters.ollama import OllamaBackend
from desktop_app.adapters.ollama_wire import RunningModel, ShowResponse
from desktop_app.core.backend import ModelBackend
from desktop_app.core.chat import (
    ChatChunk,
    ChatMessage,
    ChatOptions,
    ChatRequest,
    ChatResult,
    PullProgress,
    ToolCall,
)
from desktop_app.core.errors import (
    BadResponse,
    InvalidInput,
    ModelDeskError,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    SourceTimeout,
    SourceUnavailable,
    StreamInterrupted,
    UnsupportedCapability,
)
from desktop_app.core.models import Category, ServingType, SourceConfig, SourceKind
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama, fake_vector, make_model, tiny_png_base64

USER = [ChatMessage(role="user", content="Why is the sky blue?")]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["location", "days"],
        },
    },
}


def config(url: str, name: str = "local") -> SourceConfig:
    return SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=url)


@pytest.fixture
async def backend(fake_ollama: FakeOllama) -> AsyncIterator[OllamaBackend]:
    b = OllamaBackend(config(fake_ollama.url))
    yield b
    await b.aclose()


@pytest.fixture
async def old_backend(fake_ollama_old: FakeOllama) -> AsyncIterator[OllamaBackend]:
    b = OllamaBackend(config(fake_ollama_old.url), show_concurrency=2)
    yield b
    await b.aclose()


async def collect(stream: AsyncIterator[ChatChunk]) -> tuple[ChatResult, list[ChatChunk]]:
    result = ChatResult()
    chunks = []
    async for chunk in stream:
        chunks.append(chunk)
        result.add(chunk)
    return result, chunks


def assert_core_error(exc: BaseException) -> None:
    """Raised ``from None`` and never an httpx exception."""
    assert isinstance(exc, ModelDeskError)
    assert not isinstance(exc, httpx.HTTPError)
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------- basics


async def test_satisfies_the_backend_protocol(backend: OllamaBackend) -> None:
    assert isinstance(backend, ModelBackend)
    assert backend.config.name == "local"


async def test_version(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.version = "0.31.2"
    assert await backend.version() == "0.31.2"


async def test_one_client_is_reused_across_calls(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    await backend.version()
    client = backend._client
    await backend.list_models()
    await backend.show("llama3.2:latest")
    await backend.embed("nomic-embed-text", ["x"])
    assert backend._client is client
    assert fake_ollama.connections_opened == 1  # keep-alive: one connection for sequential calls


async def test_streams_leave_the_connection_reusable(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    for _ in range(3):
        await collect(backend.chat(ChatRequest("llama3.2", USER)))
    async with aclosing(backend.chat(ChatRequest("llama3.2", USER))) as stream:
        async for chunk in stream:
            if chunk.done:
                break  # a caller that stops at the final chunk
    _ = [p async for p in backend.pull("llama3.2")]
    await backend.version()
    assert fake_ollama.requests["/api/chat"] == 4
    assert fake_ollama.connections_opened == 1


async def test_aclose_closes_own_client_but_not_a_borrowed_one(fake_ollama: FakeOllama) -> None:
    own = OllamaBackend(config(fake_ollama.url))
    await own.version()
    client = own._client
    assert client is not None
    await own.aclose()
    assert client.is_closed
    borrowed = make_client(fake_ollama.url)
    b = OllamaBackend(config(fake_ollama.url), client=borrowed)
    await b.version()
    await b.aclose()
    assert not borrowed.is_closed
    await borrowed.aclose()


# ------------------------------------------------------------------------------------ list_models


async def test_new_generation_lists_from_tags_alone(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    models = await backend.list_models()
    assert [m.name for m in models] == list(DEFAULT_MODELS)
    assert fake_ollama.requests["/api/tags"] == 1
    assert fake_ollama.requests["/api/show"] == 0
    llama = models[0]
    assert llama.id == "local/llama3.2:latest"
    assert llama.ollama_name == "llama3.2:latest"
    assert llama.provider == "local"
    assert llama.source is SourceKind.OLLAMA
    assert llama.serving_type is ServingType.LOCAL
    assert llama.local_endpoint == fake_ollama.url
    assert llama.capabilities == ["completion", "tools"]
    assert llama.family == "llama"
    assert llama.parameter_size == "3.2B"
    assert llama.quantization == "Q4_K_M"
    assert llama.size_bytes == 2_019_393_189
    assert llama.digest == fake_ollama.find("llama3.2")["digest"]  # type: ignore[index]
    assert llama.context_length == 131_072
    assert "3.2B" in llama.description and "tools" in llama.description


async def test_old_generation_makes_exactly_one_show_per_model_with_bounded_concurrency(
    old_backend: OllamaBackend, fake_ollama_old: FakeOllama
) -> None:
    fake_ollama_old.delays["/api/show"] = 0.05  # so that requests overlap
    models = await old_backend.list_models()
    assert fake_ollama_old.requests["/api/show"] == len(DEFAULT_MODELS)
    assert (
        fake_ollama_old.max_in_flight_by_path["/api/show"] == 2
    )  # show_concurrency=2: bounded, yet parallel
    assert fake_ollama_old.connections_opened <= 3  # the same client's pool, not a client per request
    by_name = {m.name: m for m in models}
    assert by_name["qwen3:8b"].capabilities == ["completion", "tools", "thinking"]
    assert by_name["qwen3:8b"].context_length == 40_960  # from model_info["qwen3.context_length"]
    assert by_name["llava:7b"].category is Category.MULTIMODAL


async def test_both_generations_give_the_same_registry_view(
    backend: OllamaBackend, old_backend: OllamaBackend
) -> None:
    new = await backend.list_models()
    old = await old_backend.list_models()

    def view(models: list[Any]) -> list[tuple[Any, ...]]:
        return [(m.name, m.categories, m.capabilities, m.context_length, m.family) for m in models]

    assert view(new) == view(old)


@pytest.mark.parametrize(
    ("name", "categories"),
    [
        ("llama3.2:latest", [Category.FUNCTION_CALLING, Category.TEXT]),
        ("qwen3:8b", [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]),
        ("llava:7b", [Category.MULTIMODAL, Category.TEXT]),
        ("nomic-embed-text:latest", [Category.EMBEDDING]),
        ("gemma3:4b", [Category.MULTIMODAL, Category.TEXT]),
        ("deepseek-r1:7b", [Category.REASONING, Category.TEXT]),
    ],
)
async def test_categories_from_capabilities(
    backend: OllamaBackend, name: str, categories: list[Category]
) -> None:
    model = next(m for m in await backend.list_models() if m.name == name)
    assert model.categories == categories
    assert model.category is categories[0]


@pytest.mark.parametrize("generation", ["new", "old"])
async def test_no_capabilities_means_text_and_unknown_ones_are_kept_but_ignored(generation: str) -> None:
    models = [
        make_model("bare:latest", capabilities=[]),
        make_model("future:latest", capabilities=["completion", "teleportation", "vision"]),
    ]
    with FakeOllama(models, generation=generation) as fake:
        b = OllamaBackend(config(fake.url))
        try:
            bare, future = await b.list_models()
        finally:
            await b.aclose()
    assert bare.categories == [Category.TEXT] and bare.category is Category.TEXT
    assert future.capabilities == ["completion", "teleportation", "vision"]
    assert future.categories == [Category.MULTIMODAL, Category.TEXT]


async def test_unknown_fields_are_tolerated(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.extra_fields = {"server_epoch": 7, "shiny_new_thing": {"a": [1, 2]}}
    fake_ollama.models[0]["details"]["quantization_scheme"] = "k-quant"
    fake_ollama.models[0]["sparkles"] = True
    models = await backend.list_models()
    assert models[0].name == "llama3.2:latest"
    show = await backend.show("llama3.2:latest")
    assert show.model_extra is not None and show.model_extra["server_epoch"] == 7
    assert await backend.version() == fake_ollama.version


async def test_remote_models_are_hybrid(fake_ollama: FakeOllama) -> None:
    fake_ollama.models = [
        make_model(
            "gpt-oss:120b-cloud", ["completion", "tools", "thinking"], remote_host="https://ollama.com:443"
        )
    ]
    b = OllamaBackend(config(fake_ollama.url))
    try:
        (model,) = await b.list_models()
    finally:
        await b.aclose()
    assert model.serving_type is ServingType.HYBRID
    assert model.remote_endpoint == "https://ollama.com:443"
    assert "ollama.com" in model.description


async def test_one_failing_show_does_not_fail_the_sync(
    old_backend: OllamaBackend, fake_ollama_old: FakeOllama
) -> None:
    fake_ollama_old.broken_models = {"llava:7b"}
    models = {m.name: m for m in await old_backend.list_models()}
    assert len(models) == len(DEFAULT_MODELS)
    llava = models["llava:7b"]
    assert llava.family == "llama" and llava.size_bytes == 4_733_363_377  # what /api/tags said
    assert llava.categories == [Category.TEXT]
    assert "Capabilities unknown" in llava.status_message
    assert models["qwen3:8b"].categories == [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]


async def test_a_host_that_stops_answering_show_reports_down(fake_ollama_old: FakeOllama) -> None:
    fake_ollama_old.hang = "/api/show"
    client = make_client(fake_ollama_old.url, timeout=httpx.Timeout(0.3))
    b = OllamaBackend(config(fake_ollama_old.url), client=client)
    try:
        with pytest.raises(SourceTimeout) as info:
            await b.list_models()
    finally:
        await client.aclose()
    assert_core_error(info.value)


# ---------------------------------------------------------------------------------------- show, ps


async def test_show(backend: OllamaBackend) -> None:
    show = await backend.show("qwen3:8b")
    assert isinstance(show, ShowResponse)
    assert show.capabilities == ["completion", "tools", "thinking"]
    assert show.architecture == "qwen3"
    assert show.context_length == 40_960
    assert show.details.parameter_size == "8.2B"
    assert "temperature" in (show.parameters or "")


async def test_show_unknown_model(backend: OllamaBackend) -> None:
    with pytest.raises(ModelNotFound) as info:
        await backend.show("nope:1b")
    assert "nope" in info.value.message
    assert_core_error(info.value)


async def test_ps_lists_loaded_models(backend: OllamaBackend) -> None:
    assert await backend.ps() == []
    await collect(backend.chat(ChatRequest("llama3.2", USER)))
    (running,) = await backend.ps()
    assert isinstance(running, RunningModel)
    assert running.name == "llama3.2:latest"
    assert running.size_vram == running.size == 2_019_393_189
    assert running.context_length == 4096
    assert running.expires_at is not None and running.expires_at.tzinfo is not None


# -------------------------------------------------------------------------------------------- pull


async def test_pull_streams_progress_until_success(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    lines = [p async for p in backend.pull("phi3:mini")]
    assert all(isinstance(p, PullProgress) for p in lines)
    assert lines[0].status == "pulling manifest"
    assert [p.status for p in lines[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [p for p in lines if p.digest]
    assert layers and all(p.status.startswith("pulling ") and p.total for p in layers)
    assert layers[0].completed is None  # early lines carry no `completed`
    fractions = [
        p.fraction or 0.0 for p in layers if p.completed is not None and p.digest == layers[0].digest
    ]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 3
    assert fake_ollama.find("phi3:mini") is not None
    assert "phi3:mini" in [m.name for m in await backend.list_models()]


async def test_pull_unknown_model_error_inside_the_stream(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    seen: list[str] = []
    with pytest.raises(ModelNotFound) as info:
        async for p in backend.pull("no-such-model"):
            seen.append(p.status)
    assert seen == ["pulling manifest"]  # the error came as a line of a 200 stream
    assert "file does not exist" in info.value.message
    assert_core_error(info.value)


async def test_pull_other_error_line_is_rejected_with_the_servers_message(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.error_midstream = "/api/pull"
    fake_ollama.midstream_error = "max retries exceeded: connection reset by peer"
    with pytest.raises(RequestRejected) as info:
        async for _ in backend.pull("phi3:mini"):
            pass
    assert "max retries exceeded" in info.value.message
    assert fake_ollama.find("phi3:mini") is None


async def test_closing_the_pull_iterator_cancels_on_the_server(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.chunk_delay = 0.05
    got = []
    async with aclosing(backend.pull("phi3:mini")) as stream:
        async for progress in stream:
            got.append(progress)
            if len(got) == 3:
                break
    assert len(got) == 3
    # The server notices the closed connection on its next write.
    assert await asyncio.to_thread(fake_ollama.wait_for, lambda: fake_ollama.disconnects["/api/pull"] == 1)
    assert fake_ollama.find("phi3:mini") is None
    assert await backend.version()  # the backend keeps working


async def test_cancelling_the_pull_task_closes_the_connection(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.chunk_delay = 0.05
    first = asyncio.Event()

    async def run() -> None:
        async for _ in backend.pull("phi3:mini"):
            first.set()

    task = asyncio.create_task(run())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(fake_ollama.wait_for, lambda: fake_ollama.disconnects["/api/pull"] == 1)
    assert fake_ollama.find("phi3:mini") is None


async def test_truncated_pull_is_an_interrupted_stream(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.truncate_stream = True
    with pytest.raises(StreamInterrupted) as info:
        async for _ in backend.pull("phi3:mini"):
            pass
    assert_core_error(info.value)


# ---------------------------------------------------------------------------- delete, copy, create


async def test_delete(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    await backend.delete("gemma3:4b")
    assert fake_ollama.find("gemma3:4b") is None
    assert fake_ollama.last_bodies["/api/delete"] == {"model": "gemma3:4b"}
    with pytest.raises(ModelNotFound) as info:
        await backend.delete("gemma3:4b")
    assert info.value.status_code == 404
    assert_core_error(info.value)


async def test_copy(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    await backend.copy("llama3.2:latest", "my-llama:latest")
    names = [m.name for m in await backend.list_models()]
    assert "llama3.2:latest" in names and "my-llama:latest" in names
    with pytest.raises(ModelNotFound):
        await backend.copy("ghost:1b", "x:latest")


async def test_create_from_a_base_with_system_and_parameters(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    lines = [
        p
        async for p in backend.create(
            "pirate:latest",
            from_="llama3.2:latest",
            system="Talk like a pirate.",
            parameters={"temperature": 0.9},
        )
    ]
    assert lines[-1].status == "success"
    assert any(p.status.startswith("creating new layer") for p in lines)
    body = fake_ollama.last_bodies["/api/create"]
    assert body["from"] == "llama3.2:latest" and "from_" not in body
    assert body["system"] == "Talk like a pirate." and body["parameters"] == {"temperature": 0.9}
    assert "template" not in body  # None fields are not sent
    show = await backend.show("pirate:latest")
    assert show.system == "Talk like a pirate."
    pirate = next(m for m in await backend.list_models() if m.name == "pirate:latest")
    assert pirate.categories == [Category.FUNCTION_CALLING, Category.TEXT]


async def test_create_from_unknown_base(backend: OllamaBackend) -> None:
    with pytest.raises(ModelNotFound):
        async for _ in backend.create("x:latest", from_="ghost:1b"):
            pass


# -------------------------------------------------------------------------------------------- chat


async def test_chat_streams_incrementally(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.reply_text = "one two three four five"
    gate = threading.Event()
    fake_ollama.stream_gate = gate  # the server holds the final line until we open the gate
    received: list[ChatChunk] = []
    async with aclosing(backend.chat(ChatRequest("llama3.2", USER))) as stream:
        async for chunk in stream:
            received.append(chunk)
            if not gate.is_set() and "".join(c.content for c in received) == "one two three four five":
                assert not any(c.done for c in received)  # every piece arrived before the end
                gate.set()
    assert len([c for c in received if c.content]) == 5
    assert received[-1].done and received[-1].metrics is not None
    assert sum(c.done for c in received) == 1


async def test_chat_metrics_math(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.ns_per_token = 20_000_000
    fake_ollama.load_duration_ns = 1_500_000_000
    result, chunks = await collect(backend.chat(ChatRequest("llama3.2", USER)))
    final = chunks[-1]
    m = final.metrics
    assert m is not None
    n = len(fake_ollama.reply_text.split())
    assert m.completion_tokens == n
    assert m.prompt_tokens == len(USER[0].content.split()) + 10
    assert m.tokens_per_s == pytest.approx(n / (n * 20_000_000) * 1e9) == pytest.approx(50.0)
    assert m.load_s == pytest.approx(1.5)
    eval_ns = n * 20_000_000
    prompt_ns = m.prompt_tokens * 1_000_000
    assert m.total_s == pytest.approx((1_500_000_000 + prompt_ns + eval_ns + 1_000_000) / 1e9)
    assert m.done_reason == "stop"
    assert result.content == fake_ollama.reply_text


async def test_chat_request_mapping(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    image = tiny_png_base64()
    options = ChatOptions(
        temperature=0.2, top_p=0.9, top_k=40, num_ctx=8192, seed=7, stop=["END"], max_tokens=64
    )
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="What is this?", images=[image]),
        ChatMessage(role="assistant", content="", tool_calls=[ToolCall(name="look", arguments={"x": 1})]),
        ChatMessage(role="tool", content="a pixel", tool_name="look"),
    ]
    result, _ = await collect(
        backend.chat(ChatRequest("llava:7b", messages, options, response_format=schema))
    )
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["stream"] is True
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "num_ctx": 8192,
        "seed": 7,
        "stop": ["END"],
        "num_predict": 64,
    }
    assert body["format"] == schema
    assert "think" not in body and "tools" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1]["images"] == [image]
    assert body["messages"][2]["tool_calls"] == [{"function": {"name": "look", "arguments": {"x": 1}}}]
    assert body["messages"][3] == {"role": "tool", "content": "a pixel", "tool_name": "look"}
    assert result.content == json.dumps({"answer": fake_ollama.reply_text})

    await collect(backend.chat(ChatRequest("qwen3:8b", USER, response_format="json", think="high")))
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["format"] == "json" and body["think"] == "high" and "options" not in body


@pytest.mark.parametrize("level", ["low", "medium", "high", "max"])
async def test_every_think_level_the_server_takes_is_sent(
    backend: OllamaBackend, fake_ollama: FakeOllama, level: str
) -> None:
    result, _ = await collect(backend.chat(ChatRequest("qwen3:8b", USER, think=level.upper())))
    assert fake_ollama.last_bodies["/api/chat"]["think"] == level
    assert result.thinking == fake_ollama.thinking_text


async def test_a_thinking_model_thinks_unless_told_not_to(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    """Real thinking models think when ``think`` is omitted; the thinking arrives apart from the answer."""
    result, _ = await collect(backend.chat(ChatRequest("qwen3:8b", USER)))
    assert "think" not in fake_ollama.last_bodies["/api/chat"]
    assert result.thinking == fake_ollama.thinking_text and result.content == fake_ollama.reply_text
    result, _ = await collect(backend.chat(ChatRequest("qwen3:8b", USER, think=False)))
    assert result.thinking == "" and result.content == fake_ollama.reply_text


async def test_invalid_think_level_is_refused_before_sending(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    with pytest.raises(InvalidInput):
        await collect(backend.chat(ChatRequest("qwen3:8b", USER, think="extreme")))
    assert fake_ollama.requests["/api/chat"] == 0


async def test_thinking_comes_first(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    result, chunks = await collect(backend.chat(ChatRequest("qwen3:8b", USER, think=True)))
    assert result.thinking == fake_ollama.thinking_text
    assert result.content == fake_ollama.reply_text
    first_content = next(i for i, c in enumerate(chunks) if c.content)
    last_thinking = max(i for i, c in enumerate(chunks) if c.thinking)
    assert last_thinking < first_content
    assert fake_ollama.last_bodies["/api/chat"]["think"] is True


async def test_thinking_on_a_model_without_it(backend: OllamaBackend) -> None:
    with pytest.raises(UnsupportedCapability) as info:
        await collect(backend.chat(ChatRequest("llama3.2", USER, think=True)))
    assert "does not support thinking" in info.value.message
    assert info.value.status_code == 400
    assert_core_error(info.value)


async def test_tool_calls(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    result, _ = await collect(backend.chat(ChatRequest("llama3.2", USER, tools=[WEATHER_TOOL])))
    (call,) = result.tool_calls
    assert (call.name, call.arguments) == ("get_current_weather", {"location": "Paris", "days": 3})
    assert call.id is not None and call.id.startswith("call_")  # the server's id (since v0.12.10) is kept
    assert fake_ollama.last_bodies["/api/chat"]["tools"] == [WEATHER_TOOL]
    # ...and goes back with the call when the conversation continues.
    turn = [*USER, ChatMessage(role="assistant", content="", tool_calls=[call])]
    turn.append(ChatMessage(role="tool", content="21 C", tool_name=call.name))
    await collect(backend.chat(ChatRequest("llama3.2", turn)))
    sent = fake_ollama.last_bodies["/api/chat"]["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == call.id
    with pytest.raises(UnsupportedCapability):
        await collect(backend.chat(ChatRequest("llava:7b", USER, tools=[WEATHER_TOOL])))


async def test_chat_with_an_embedding_model(backend: OllamaBackend) -> None:
    with pytest.raises(UnsupportedCapability):
        await collect(backend.chat(ChatRequest("nomic-embed-text", USER)))


async def test_error_midstream_keeps_the_partial_text(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.reply_text = "alpha beta gamma delta"
    fake_ollama.error_midstream = True
    fake_ollama.midstream_after = 2
    seen = []
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in backend.chat(ChatRequest("llama3.2", USER)):
            seen.append(chunk.content)
    assert info.value.partial == "alpha beta " == "".join(seen)
    assert "unexpected EOF" in info.value.message
    assert_core_error(info.value)


async def test_truncated_stream_keeps_the_partial_text(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.reply_text = "alpha beta gamma delta"
    fake_ollama.truncate_stream = "/api/chat"
    fake_ollama.midstream_after = 3
    with pytest.raises(StreamInterrupted) as info:
        await collect(backend.chat(ChatRequest("llama3.2", USER)))
    assert info.value.partial == "alpha beta gamma "
    assert_core_error(info.value)
    # The next request works on a fresh connection.
    fake_ollama.truncate_stream = False
    result, _ = await collect(backend.chat(ChatRequest("llama3.2", USER)))
    assert result.content == "alpha beta gamma delta"


async def test_a_stream_that_ends_without_done(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.status_override["/api/chat"] = (
        200,
        b'{"message":{"role":"assistant","content":"Hel"},"done":false}\n'
        b'{"message":{"role":"assistant","content":"lo"},"done":false}\n',
    )
    with pytest.raises(StreamInterrupted) as info:
        await collect(backend.chat(ChatRequest("llama3.2", USER)))
    assert info.value.partial == "Hello"


@pytest.mark.parametrize(
    ("override", "error", "text"),
    [
        (404, ModelNotFound, ""),
        ((404, "model 'ghost' not found"), ModelNotFound, "ghost"),
        ((400, '"llama3.2" does not support tools'), UnsupportedCapability, "does not support tools"),
        ((429, "too many requests", {"Retry-After": "7"}), RateLimited, "too many requests"),
        (503, SourceUnavailable, "maximum pending requests"),
        ((500, "llama runner process has terminated: signal: killed"), RequestRejected, "signal: killed"),
        ((401, "unauthorized"), ModelDeskError, "unauthorized"),
    ],
)
async def test_error_statuses_before_streaming(
    backend: OllamaBackend, fake_ollama: FakeOllama, override: Any, error: type[Exception], text: str
) -> None:
    fake_ollama.status_override["/api/chat"] = override
    with pytest.raises(error) as info:
        await collect(backend.chat(ChatRequest("llama3.2", USER)))
    assert text in str(info.value)
    assert_core_error(info.value)
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0


async def test_missing_model_in_chat(backend: OllamaBackend) -> None:
    with pytest.raises(ModelNotFound) as info:
        await collect(backend.chat(ChatRequest("ghost:1b", USER)))
    assert "ghost" in info.value.message


# ------------------------------------------------------------------------------------------- embed


async def test_embed(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    vectors = await backend.embed("nomic-embed-text", ["hello", "world", "hello"])
    assert len(vectors) == 3 and all(len(v) == 768 for v in vectors)
    assert vectors[0] == vectors[2] != vectors[1]
    assert vectors[0] == pytest.approx(fake_vector("hello", 768))
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0, rel_tol=1e-6)
    assert fake_ollama.last_bodies["/api/embed"] == {
        "model": "nomic-embed-text",
        "input": ["hello", "world", "hello"],
    }


async def test_embed_nothing_sends_nothing(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    assert await backend.embed("nomic-embed-text", []) == []
    assert fake_ollama.requests["/api/embed"] == 0


async def test_embed_count_mismatch_is_a_bad_response(
    backend: OllamaBackend, fake_ollama: FakeOllama
) -> None:
    fake_ollama.status_override["/api/embed"] = (200, {"model": "x", "embeddings": [[0.1, 0.2]]})
    with pytest.raises(BadResponse) as info:
        await backend.embed("nomic-embed-text", ["a", "b"])
    assert "1 vectors for 2 inputs" in info.value.message


# ------------------------------------------------------------------------------------ transport faults


async def test_host_down_is_source_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    b = OllamaBackend(config(url))
    try:
        for call in (b.version(), b.list_models(), b.show("x"), b.ps(), b.embed("x", ["y"]), b.delete("x")):
            with pytest.raises(SourceUnavailable) as info:
                await call
            assert not isinstance(info.value, SourceTimeout)
            assert_core_error(info.value)
        for stream in (b.chat(ChatRequest("x", USER)), b.pull("x"), b.create("y", from_="x")):
            with pytest.raises(SourceUnavailable) as info:
                await anext(aiter(stream))
            assert_core_error(info.value)
    finally:
        await b.aclose()


async def test_stopped_fake_refuses_connections(fake_ollama: FakeOllama) -> None:
    b = OllamaBackend(config(fake_ollama.url))
    try:
        assert await b.version()
        fake_ollama.stop()
        with pytest.raises(SourceUnavailable) as info:
            await b.list_models()
        assert_core_error(info.value)
    finally:
        await b.aclose()


@pytest.mark.parametrize("path", ["/api/tags", "/api/chat"])
async def test_host_that_accepts_and_never_answers_times_out(fake_ollama: FakeOllama, path: str) -> None:
    fake_ollama.hang = {path}
    client = make_client(fake_ollama.url, timeout=httpx.Timeout(0.3))
    b = OllamaBackend(config(fake_ollama.url), client=client)
    started = time.perf_counter()
    try:
        with pytest.raises(SourceTimeout) as info:
            if path == "/api/chat":
                await collect(b.chat(ChatRequest("llama3.2", USER)))
            else:
                await b.list_models()
    finally:
        await client.aclose()
    assert time.perf_counter() - started < 3
    assert_core_error(info.value)


async def test_stream_that_stalls_midway_keeps_the_partial_text(fake_ollama: FakeOllama) -> None:
    fake_ollama.reply_text = "alpha beta gamma"
    fake_ollama.stream_gate = threading.Event()  # never opened: the final line never comes
    client = make_client(fake_ollama.url, timeout=httpx.Timeout(0.3))
    b = OllamaBackend(config(fake_ollama.url), client=client)
    try:
        with pytest.raises(StreamInterrupted) as info:
            await collect(b.chat(ChatRequest("llama3.2", USER)))
    finally:
        fake_ollama.stream_gate.set()
        await client.aclose()
    assert info.value.partial == "alpha beta gamma"
    assert_core_error(info.value)


@pytest.mark.parametrize(
    "path", ["/api/version", "/api/tags", "/api/show", "/api/ps", "/api/embed", "/api/chat"]
)
async def test_malformed_json_is_a_bad_response(
    backend: OllamaBackend, fake_ollama: FakeOllama, path: str
) -> None:
    fake_ollama.malformed_json = path
    calls = {
        "/api/version": backend.version,
        "/api/tags": backend.list_models,
        "/api/show": lambda: backend.show("llama3.2"),
        "/api/ps": backend.ps,
        "/api/embed": lambda: backend.embed("nomic-embed-text", ["x"]),
        "/api/chat": lambda: collect(backend.chat(ChatRequest("llama3.2", USER))),
    }
    with pytest.raises(BadResponse) as info:
        await calls[path]()
    assert not isinstance(info.value, StreamInterrupted)
    assert "not" in info.value.message and path in info.value.message
    assert_core_error(info.value)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"models": "nope"}, "models"),
        ({"models": [{"size": 3}]}, "name"),
        ({"models": [{"name": "x", "size": "big"}]}, "size"),
        ([1, 2, 3], "top level"),
    ],
)
async def test_wrong_shape_names_what_was_wrong(
    backend: OllamaBackend, fake_ollama: FakeOllama, body: Any, where: str
) -> None:
    fake_ollama.status_override["/api/tags"] = (200, body)
    with pytest.raises(BadResponse) as info:
        await backend.list_models()
    assert where in info.value.message and "/api/tags" in info.value.message
    assert_core_error(info.value)


async def test_null_lists_are_empty(backend: OllamaBackend, fake_ollama: FakeOllama) -> None:
    fake_ollama.status_override["/api/tags"] = (200, {"models": None})
    fake_ollama.status_override["/api/ps"] = (200, {"models": None})
    assert await backend.list_models() == []
    assert await backend.ps() == []


async def test_invalid_base_url_is_invalid_input() -> None:
    b = OllamaBackend(config("ftp://example"))
    with pytest.raises(InvalidInput):
        await b.version()
    await b.aclose()
