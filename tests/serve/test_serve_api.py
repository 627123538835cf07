"""`modeldesk serve` with the official openai SDK as its client, against the fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from desktop_app.services.context import AppContext
from tests.fakes.ollama import DEFAULT_REPLY, FakeOllama, tiny_png_base64
from tests.fakes.openai_compat import FakeOpenAIServer
from tests.serve.conftest import VARIANT_SYSTEM

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_models_lists_local_and_experimental_with_modeldesk_facts(serve: Callable[..., Any]) -> None:
    with serve() as srv:
        models = {m.id: m for m in srv.client().models.list()}
    assert {"ollama/qwen3:8b", "ollama/llama3.2:latest", "exp/pirate"} <= set(models)
    qwen = models["ollama/qwen3:8b"]
    assert qwen.object == "model" and qwen.owned_by == "ollama"
    extra = qwen.model_extra or {}
    assert extra["serving_type"] == "local" and extra["context_length"] == 40_960
    assert set(extra["capabilities"]) >= {"tools", "thinking"} and "reasoning" in extra["categories"]
    assert (models["exp/pirate"].model_extra or {})["parent_id"] == "ollama/llama3.2:latest"


def test_remote_models_hidden_without_allow_remote(serve: Callable[..., Any]) -> None:
    with serve() as srv:
        ids = {m.id for m in srv.client().models.list()}
        assert not any(i.startswith("work/") for i in ids)
        with pytest.raises(openai.NotFoundError) as err:
            srv.client().chat.completions.create(
                model="work/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
    assert "--allow-remote" in err.value.message
    assert err.value.body["code"] == "model_not_found"  # type: ignore[index]


def test_stream_from_fake_ollama_with_usage_in_last_chunk(serve: Callable[..., Any]) -> None:
    with serve() as srv:
        stream = srv.client().chat.completions.create(
            model="ollama/llama3.2:latest",
            messages=[{"role": "user", "content": "Why is the sky blue?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == DEFAULT_REPLY
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (
        last.usage.completion_tokens > 0
        and last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    )
    assert all(c.model == "ollama/llama3.2:latest" and c.id == chunks[0].id for c in chunks)


def test_stream_from_fake_remote_model_with_allow_remote(
    serve: Callable[..., Any], fake_openai: FakeOpenAIServer
) -> None:
    with serve(allow_remote=True) as srv:
        ids = {m.id for m in srv.client().models.list()}
        assert "work/gpt-4o-mini" in ids
        stream = srv.client().chat.completions.create(
            model="work/gpt-4o-mini", messages=[{"role": "user", "content": "ping"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Hello! You said: ping"
    # ModelDesk sent the source's key itself.
    assert (
        fake_openai.calls("/chat/completions")[-1].headers["authorization"] == f"Bearer {fake_openai.api_key}"
    )


def test_variant_system_prompt_applied_and_request_parameters_win(
    serve: Callable[..., Any], fake_ollama: FakeOllama, registry: AppContext
) -> None:
    with serve() as srv:
        reply = srv.client().chat.completions.create(
            model="exp/pirate", messages=[{"role": "user", "content": "hi"}], temperature=0.9, max_tokens=50
        )
    assert reply.choices[0].message.content == DEFAULT_REPLY
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["model"] == "llama3.2:latest"
    assert body["messages"][0] == {"role": "system", "content": VARIANT_SYSTEM}
    assert body["options"]["temperature"] == 0.9 and body["options"]["num_predict"] == 50


def test_tool_calls_round_trip_with_ids(serve: Callable[..., Any], fake_ollama: FakeOllama) -> None:
    with serve() as srv:
        client = srv.client()
        first = client.chat.completions.create(
            model="ollama/qwen3:8b",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            reasoning_effort="low",
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        call = choice.message.tool_calls[0]  # type: ignore[index]
        assert call.id and call.function.name == "get_weather"  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
        assert fake_ollama.last_bodies["/api/chat"]["think"] == "low"
        # Streamed, the call arrives as one delta with its id and index.
        stream = client.chat.completions.create(
            model="ollama/qwen3:8b",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            stream=True,
        )
        deltas = [tc for c in stream if c.choices for tc in c.choices[0].delta.tool_calls or []]
        assert len(deltas) == 1 and deltas[0].index == 0 and deltas[0].id and deltas[0].type == "function"
        # The result goes back with the call's id; Ollama gets it under the tool's name.
        client.chat.completions.create(
            model="ollama/qwen3:8b",
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
            ],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        )
    sent = fake_ollama.last_bodies["/api/chat"]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    assert sent[2] == {"role": "tool", "content": '{"temp": 21}', "tool_name": "get_weather"}


def test_tool_call_ids_reach_a_remote_source(
    serve: Callable[..., Any], fake_openai: FakeOpenAIServer
) -> None:
    with serve(allow_remote=True) as srv:
        client = srv.client()
        first = client.chat.completions.create(
            model="work/gpt-4o-mini",
            messages=[{"role": "user", "content": "Weather?"}],
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        )
        call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert call.id == "call_fake_1"
        client.chat.completions.create(
            model="work/gpt-4o-mini",
            messages=[
                {"role": "user", "content": "Weather?"},
                first.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            ],
        )
    sent = fake_openai.calls("/chat/completions")[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_fake_1"
    assert sent[2]["tool_call_id"] == "call_fake_1" and sent[2]["content"] == "sunny"


def test_images_json_mode_and_think(serve: Callable[..., Any], fake_ollama: FakeOllama) -> None:
    png = tiny_png_base64()
    with serve() as srv:
        client = srv.client()
        client.chat.completions.create(
            model="ollama/llava:7b",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    ],
                }
            ],
        )
        assert fake_ollama.last_bodies["/api/chat"]["messages"][0]["images"] == [png]
        reply = client.chat.completions.create(
            model="ollama/llama3.2:latest",
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_object"},
        )
        assert fake_ollama.last_bodies["/api/chat"]["format"] == "json"
        assert json.loads(reply.choices[0].message.content or "") == {"response": DEFAULT_REPLY}
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
        client.chat.completions.create(
            model="ollama/llama3.2:latest",
            messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
        )
        assert fake_ollama.last_bodies["/api/chat"]["format"] == {"title": "reply", **schema}
        stream = client.chat.completions.create(
            model="ollama/qwen3:8b",
            messages=[{"role": "user", "content": "Why?"}],
            reasoning_effort="high",
            stream=True,
        )
        reasoning = "".join(
            (c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in stream if c.choices
        )
    assert fake_ollama.last_bodies["/api/chat"]["think"] == "high"
    assert reasoning == fake_ollama.thinking_text


def test_embeddings_float_and_base64(serve: Callable[..., Any]) -> None:
    with serve() as srv:
        client = srv.client()
        as_sdk = client.embeddings.create(model="ollama/nomic-embed-text:latest", input=["one", "two"])
        as_float = client.embeddings.create(
            model="ollama/nomic-embed-text:latest", input="one", encoding_format="float"
        )
    assert [d.index for d in as_sdk.data] == [0, 1] and len(as_sdk.data[0].embedding) == 768
    assert as_sdk.data[0].embedding == pytest.approx(as_float.data[0].embedding, rel=1e-6)


def test_unknown_model_is_404_in_openais_shape(serve: Callable[..., Any]) -> None:
    with serve() as srv:
        with pytest.raises(openai.NotFoundError) as err:
            srv.client().chat.completions.create(
                model="nope/none", messages=[{"role": "user", "content": "x"}]
            )
        import httpx

        raw = httpx.post(f"{srv.url}/embeddings", json={"model": "nope/none", "input": "x"})
        bad = httpx.post(f"{srv.url}/chat/completions", json={"model": "ollama/qwen3:8b"})
        nojson = httpx.post(
            f"{srv.url}/chat/completions", content=b"{", headers={"content-type": "application/json"}
        )
    assert err.value.status_code == 404 and err.value.code == "model_not_found"
    assert raw.status_code == 404
    body = raw.json()["error"]
    assert set(body) == {"message", "type", "param", "code"} and "nope/none" in body["message"]
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]
    assert nojson.status_code == 400 and "not valid JSON" in nojson.json()["error"]["message"]
