"""The fake Ollama's /v1 (the benchmark's direct baseline) reads like the real one to the openai SDK."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes.ollama import DEFAULT_REPLY, FakeOllama
from tests.serve.test_serve_api import WEATHER_TOOL


def client(fake: FakeOllama) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="ollama", max_retries=0, timeout=20)


def test_stream_with_usage_tools_and_errors(fake_ollama: FakeOllama) -> None:
    sdk = client(fake_ollama)
    assert "llama3.2:latest" in {m.id for m in sdk.models.list()}
    chunks = list(
        sdk.chat.completions.create(
            model="llama3.2",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DEFAULT_REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage and chunks[-1].usage.completion_tokens > 0
    assert fake_ollama.requests["/v1/chat/completions"] == 1
    reply = sdk.chat.completions.create(
        model="qwen3:8b",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    with pytest.raises(openai.NotFoundError) as err:
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert err.value.body["type"] == "not_found_error"  # type: ignore[index]
