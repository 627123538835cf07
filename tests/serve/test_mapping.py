"""OpenAI wire ↔ core mapping, without a server."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from desktop_app.core.chat import ChatChunk, ChatMetrics, ToolCall
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    InvalidInput,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    ServiceRetired,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedCapability,
)
from desktop_app.serve.mapping import (
    StreamEncoder,
    chat_call,
    embedding_body,
    embedding_inputs,
    error_reply,
    think_level,
)
from desktop_app.serve.wire import ChatCompletionRequest


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ModelNotFound("x"), 404, "model_not_found"),
        (UnsupportedCapability("x"), 400, "unsupported_capability"),
        (InvalidInput("x"), 400, None),
        (AuthError("x", status_code=401), 502, "upstream_auth_failed"),  # never the client's 401
        (SourceUnavailable("x"), 503, "upstream_unavailable"),
        (SourceTimeout("x"), 503, "upstream_unavailable"),
        (BadResponse("x"), 502, "bad_upstream_response"),
        (ServiceRetired("x"), 410, "model_retired"),
        (RequestRejected("x", status_code=422), 422, "upstream_rejected"),
        (RequestRejected("x", status_code=403), 502, "upstream_rejected"),
        (RequestRejected("x", status_code=500), 502, "upstream_rejected"),
    ],
)
def test_errors_map_to_openai_shape_and_status(exc: Exception, status: int, code: str | None) -> None:
    reply = error_reply(exc)  # type: ignore[arg-type]
    assert reply.status == status
    assert (
        set(reply.body["error"]) == {"message", "type", "param", "code"}
        and reply.body["error"]["code"] == code
    )


def test_rate_limit_retry_after_rounds_up() -> None:
    assert error_reply(RateLimited("slow", retry_after=2.2)).headers == {"Retry-After": "3"}
    assert error_reply(RateLimited("slow")).headers == {}


def test_request_mapping() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    req = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "42"},
            ],
            "max_completion_tokens": 9,
            "max_tokens": 5,
            "stop": "##",
            "tool_choice": "none",
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "reasoning_effort": "minimal",
        }
    )
    call = chat_call(req)
    system, user, assistant, tool = call.messages
    assert system.role == "system" and user.images == [png] and user.content == "look"
    assert assistant.tool_calls == [ToolCall(id="c1", name="f", arguments={"a": 1})]
    assert tool.tool_name == "f"
    assert call.options.max_tokens == 9 and call.options.stop == ["##"]
    assert call.tools is None and call.think == "low"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]},
            "does not fetch",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}],
            },
            "not valid base64",
        ),
        ({"role": "user", "content": [{"type": "input_audio"}]}, "not supported"),
        (
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{nope"}}]},
            "not valid JSON",
        ),
    ],
)
def test_bad_requests_say_what_is_wrong(message: dict[str, object], error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        chat_call(ChatCompletionRequest.model_validate({"model": "m", "messages": [message]}))


def test_think_levels() -> None:
    assert [think_level(x) for x in (None, "none", "low", "medium", "high", "xhigh")] == [
        None,
        False,
        "low",
        "medium",
        "high",
        "high",
    ]
    with pytest.raises(InvalidInput, match="reasoning_effort"):
        think_level("extreme")


def test_stream_encoder_events() -> None:
    enc = StreamEncoder("ollama/m", include_usage=True)
    events = [
        enc.start(),
        enc.chunk(ChatChunk(thinking="hm")),
        enc.chunk(ChatChunk(tool_calls=[ToolCall(name="f", arguments={"a": 1})])),
    ]
    events.append(enc.chunk(ChatChunk(done=True, metrics=ChatMetrics(prompt_tokens=3, completion_tokens=4))))
    objs = [json.loads(part[6:]) for e in events for part in e.decode().split("\n\n") if part]
    assert objs[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} and objs[0]["usage"] is None
    assert objs[1]["choices"][0]["delta"] == {"reasoning_content": "hm"}
    call = objs[2]["choices"][0]["delta"]["tool_calls"][0]
    assert (
        call["index"] == 0
        and call["id"].startswith("call_")
        and json.loads(call["function"]["arguments"]) == {"a": 1}
    )
    assert objs[3]["choices"][0]["finish_reason"] == "tool_calls"
    assert objs[4]["choices"] == [] and objs[4]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
    }
    assert len({o["id"] for o in objs}) == 1


def test_embeddings_base64_is_little_endian_float32() -> None:
    body = embedding_body("m", [[1.0, -0.5]], "base64")
    assert struct.unpack("<2f", base64.b64decode(body["data"][0]["embedding"])) == (1.0, -0.5)
    assert embedding_inputs("one") == ["one"]
    with pytest.raises(InvalidInput, match="token ids"):
        embedding_inputs([1, 2, 3])


def test_replies_validate_against_the_openai_sdks_types() -> None:
    """The SDK builds replies without validating them; validate ours against its types explicitly."""
    from openai.types import CreateEmbeddingResponse, Model
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    from desktop_app.core.chat import ChatResult
    from desktop_app.core.models import UnifiedModel
    from desktop_app.serve.mapping import completion_body, model_entry

    enc = StreamEncoder("ollama/m", include_usage=True)
    raw = enc.start() + enc.chunk(ChatChunk(content="hi", tool_calls=[ToolCall(id="c", name="f")]))
    raw += enc.chunk(ChatChunk(done=True, metrics=ChatMetrics(done_reason="length")))
    for part in raw.decode().split("\n\n"):
        if part:
            ChatCompletionChunk.model_validate_json(part.removeprefix("data: "), strict=False)
    result = ChatResult(content="", tool_calls=[ToolCall(id="c", name="f", arguments={"x": 1})])
    done = ChatCompletion.model_validate(completion_body("ollama/m", result))
    assert done.choices[0].message.content is None and done.choices[0].finish_reason == "tool_calls"
    CreateEmbeddingResponse.model_validate(embedding_body("m", [[0.5]], "float"))
    Model.model_validate(model_entry(UnifiedModel(id="ollama/m", name="m", provider="ollama")))
