"""OpenAI's wire shapes ↔ ModelDesk's core chat types, and core errors → OpenAI error replies.

Pure functions (no web framework, no I/O) so that they are tested on their own and the app stays a
thin layer of routes. Shapes follow openai-python's ``types/chat/chat_completion_chunk.py``,
``chat_completion.py``, ``create_embedding_response.py`` and the ``{"error": {...}}`` body.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatMetrics, ChatOptions, ChatResult, ToolCall
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    ContentFiltered,
    InvalidInput,
    ModelDeskError,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    ServiceRetired,
    SourceUnavailable,
    UnsupportedCapability,
)
from desktop_app.core.models import UnifiedModel
from desktop_app.serve.wire import ChatCompletionRequest, RequestMessage, ResponseFormat

__all__ = [
    "ChatCall",
    "ErrorReply",
    "StreamEncoder",
    "chat_call",
    "completion_body",
    "embedding_body",
    "embedding_inputs",
    "error_body",
    "error_reply",
    "model_entry",
    "think_level",
]

_DATA_PREFIXES = ("data:image/", "data:;base64,")
# reasoning_effort → Ollama's think levels (the openai SDK also knows none/minimal/xhigh/max).
_THINK: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}
_THINK["max"] = "high"
_FINISH = {"stop", "length", "tool_calls", "content_filter"}


# ------------------------------------------------------------------------------------------- errors


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(exc: ModelDeskError) -> ErrorReply:
    """The status and OpenAI-shaped body for a ModelDesk error. A source's own failures are the
    gateway's (502/503), never a 401 the client would read as its token being wrong."""
    text = str(exc)
    if isinstance(exc, RateLimited):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return ErrorReply(429, error_body(text, "requests", "rate_limit_exceeded"), headers)
    if isinstance(exc, ServiceRetired):
        return ErrorReply(410, error_body(text, "invalid_request_error", "model_retired"))
    if isinstance(exc, ModelNotFound):
        return ErrorReply(404, error_body(text, "invalid_request_error", "model_not_found", "model"))
    if isinstance(exc, ContentFiltered):
        return ErrorReply(400, error_body(text, "invalid_request_error", "content_filter"))
    if isinstance(exc, UnsupportedCapability):
        return ErrorReply(400, error_body(text, "invalid_request_error", "unsupported_capability"))
    if isinstance(exc, AuthError):
        return ErrorReply(502, error_body(text, "api_error", "upstream_auth_failed"))
    if isinstance(exc, SourceUnavailable):
        return ErrorReply(503, error_body(text, "api_error", "upstream_unavailable"))
    if isinstance(exc, BadResponse):
        return ErrorReply(502, error_body(text, "api_error", "bad_upstream_response"))
    if isinstance(exc, RequestRejected):
        status = exc.status_code if exc.status_code and 400 <= exc.status_code < 500 else 502
        if status in (401, 403, 407):  # the source refused us, not the client
            status = 502
        kind = "invalid_request_error" if status < 500 else "api_error"
        return ErrorReply(status, error_body(text, kind, "upstream_rejected"))
    if isinstance(exc, InvalidInput):
        return ErrorReply(400, error_body(text, "invalid_request_error"))
    return ErrorReply(500, error_body(text, "api_error"))


# ------------------------------------------------------------------------------------------ request


@dataclass
class ChatCall:
    """What ``services.serving.stream_chat`` takes, read from one chat-completions request."""

    messages: list[ChatMessage]
    options: ChatOptions
    think: bool | str | None = None
    tools: list[dict[str, Any]] | None = None
    response_format: str | dict[str, Any] | None = None


def think_level(effort: str | None) -> bool | str | None:
    if effort is None:
        return None
    level = _THINK.get(effort.strip().lower())
    if level is None:
        raise InvalidInput(
            f"reasoning_effort {effort!r} is not one of {', '.join(sorted(_THINK))}.",
        )
    return level


def _image(url: str) -> str:
    """A data URL → the bare base64 the core's ChatMessage.images holds."""
    if url.startswith(("http://", "https://")):
        raise InvalidInput(
            "ModelDesk does not fetch image URLs; send the image inline as a data: URL "
            "(data:image/png;base64,...)."
        )
    if not url.startswith(_DATA_PREFIXES) or ";base64," not in url:
        raise InvalidInput("An image_url must be a base64 data URL of an image (data:image/png;base64,...).")
    data = url.split(";base64,", 1)[1]
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("An image_url's data is not valid base64.") from None
    return data


def _content(message: RequestMessage, index: int) -> tuple[str, list[str]]:
    content = message.content
    if content is None or isinstance(content, str):
        return content or "", []
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            spec = part.get("image_url")
            url = spec.get("url") if isinstance(spec, dict) else spec
            if not isinstance(url, str):
                raise InvalidInput(f"messages[{index}]: an image_url part needs a url.")
            images.append(_image(url))
        else:
            raise InvalidInput(
                f"messages[{index}]: content parts of type {kind!r} are not supported (text and image_url are)."
            )
    return "\n".join(texts), images


def _tool_call(call: Any, index: int) -> ToolCall:
    args = call.function.arguments
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            raise InvalidInput(
                f"messages[{index}]: the arguments of tool call {call.function.name!r} are not valid JSON."
            ) from None
    if not isinstance(args, dict):
        args = {"value": args}
    return ToolCall(id=call.id, name=call.function.name, arguments=args)


def _response_format(fmt: ResponseFormat | None) -> str | dict[str, Any] | None:
    """json_object → ``"json"``; json_schema → the schema itself (Ollama's ``format``; an OpenAI-
    compatible source wraps it again, named by its title)."""
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return "json"
    spec = fmt.json_schema or {}
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise InvalidInput("response_format json_schema needs json_schema.schema (a JSON schema object).")
    if isinstance(spec.get("name"), str) and "title" not in schema:
        schema = {"title": spec["name"], **schema}
    return schema


def chat_call(req: ChatCompletionRequest) -> ChatCall:
    """The core call for a request; bad input raises InvalidInput naming the field."""
    if req.n is not None and req.n != 1:
        raise InvalidInput("n must be 1: ModelDesk returns one choice per request.")
    messages: list[ChatMessage] = []
    call_names: dict[str, str] = {}
    for i, m in enumerate(req.messages):
        text, images = _content(m, i)
        role = "system" if m.role == "developer" else m.role
        calls = [_tool_call(c, i) for c in m.tool_calls or []] if m.role == "assistant" else []
        for c in calls:
            if c.id:
                call_names[c.id] = c.name
        tool_name = None
        if m.role == "tool":
            tool_name = m.name or call_names.get(m.tool_call_id or "")
        thinking = m.reasoning_content or m.reasoning if m.role == "assistant" else None
        messages.append(
            ChatMessage(
                role=role,
                content=text,
                images=images,
                tool_calls=calls,
                tool_name=tool_name,
                thinking=thinking or None,
            )
        )
    stop = [req.stop] if isinstance(req.stop, str) else req.stop
    options = ChatOptions(
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        num_ctx=req.num_ctx,
        max_tokens=req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens,
        seed=req.seed,
        stop=stop or None,
    )
    tools = req.tools or None
    if req.tool_choice == "none":
        tools = None
    return ChatCall(
        messages, options, think_level(req.reasoning_effort), tools, _response_format(req.response_format)
    )


# ----------------------------------------------------------------------------------------- replies


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def _wire_call(call: ToolCall, index: int) -> dict[str, Any]:
    extra = call.model_extra or {}
    raw = extra.get("raw_arguments")
    arguments = raw if isinstance(raw, str) else json.dumps(call.arguments)
    return {
        "index": index,
        "id": call.id or "call_" + secrets.token_hex(12),
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    }


def _usage(metrics: ChatMetrics | None) -> dict[str, int]:
    prompt = (metrics.prompt_tokens if metrics else None) or 0
    completion = (metrics.completion_tokens if metrics else None) or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(metrics: ChatMetrics | None, had_calls: bool) -> str:
    if had_calls:
        return "tool_calls"
    reason = metrics.done_reason if metrics else None
    return reason if reason in _FINISH else "stop"


class StreamEncoder:
    """Turns ChatChunks into ``data: {chat.completion.chunk}`` SSE events. The part of every event
    that never changes is serialized once; each chunk costs one ``json.dumps`` of its delta."""

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self.id = new_completion_id()
        self.include_usage = include_usage
        self.calls = 0
        head = {"id": self.id, "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        self._head = ("data: " + json.dumps(head)[:-1] + ', "choices": [').encode()
        self._no_usage = b"]" + (b', "usage": null' if include_usage else b"") + b"}\n\n"

    def _event(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return self._head + json.dumps(choice).encode() + self._no_usage

    def start(self) -> bytes:
        return self._event({"role": "assistant", "content": ""})

    def chunk(self, chunk: ChatChunk) -> bytes:
        """The events for one chunk (may be empty); the final chunk adds finish and usage."""
        delta: dict[str, Any] = {}
        if chunk.thinking:
            delta["reasoning_content"] = chunk.thinking
        if chunk.content:
            delta["content"] = chunk.content
        if chunk.tool_calls:
            delta["tool_calls"] = [_wire_call(c, self.calls + i) for i, c in enumerate(chunk.tool_calls)]
            self.calls += len(chunk.tool_calls)
        out = self._event(delta) if delta else b""
        if chunk.done:
            out += self._event({}, _finish(chunk.metrics, self.calls > 0))
            if self.include_usage:
                out += (
                    self._head + b"]" + b', "usage": ' + json.dumps(_usage(chunk.metrics)).encode() + b"}\n\n"
                )
        return out

    @staticmethod
    def error(exc: ModelDeskError) -> bytes:
        """An error after the stream began (its status is already 200): the SDKs raise on it."""
        return b"data: " + json.dumps(error_reply(exc).body).encode() + b"\n\n"

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"


def completion_body(model: str, result: ChatResult) -> dict[str, Any]:
    """A whole ``chat.completion``."""
    calls = [_wire_call(c, i) for i, c in enumerate(result.tool_calls)]
    for c in calls:
        del c["index"]
    message: dict[str, Any] = {"role": "assistant", "content": result.content or (None if calls else "")}
    if result.thinking:
        message["reasoning_content"] = result.thinking
    if calls:
        message["tool_calls"] = calls
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish(result.metrics, bool(calls)),
            }
        ],
        "usage": _usage(result.metrics),
    }


# --------------------------------------------------------------------------------------- embeddings


def embedding_inputs(value: str | list[str] | list[int] | list[list[int]]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    if not value:
        raise InvalidInput("input must be a string or a non-empty array of strings.")
    raise InvalidInput(
        "input as token ids is not supported; send the text (a string or an array of strings)."
    )


def _b64(vector: Sequence[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def embedding_body(model: str, vectors: list[list[float]], encoding: str) -> dict[str, Any]:
    """``encoding`` "base64" packs little-endian float32, as OpenAI does (the SDK asks for it)."""
    data = [
        {"object": "embedding", "index": i, "embedding": _b64(v) if encoding == "base64" else v}
        for i, v in enumerate(vectors)
    ]
    # Sources do not report token counts for embeddings through ModelDesk: zero, not a guess.
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}


# ------------------------------------------------------------------------------------------- models


def model_entry(m: UnifiedModel) -> dict[str, Any]:
    """One ``/v1/models`` entry: OpenAI's four fields, then ModelDesk's facts as extra fields."""
    return {
        "id": m.id,
        "object": "model",
        "created": int(m.created_at.timestamp()),
        "owned_by": m.provider,
        "name": m.name,
        "category": m.category.value,
        "categories": [c.value for c in m.categories],
        "model_type": m.model_type.value,
        "serving_type": m.serving_type.value,
        "source": str(m.source),
        "capabilities": list(m.capabilities),
        "context_length": m.context_length,
        "parameter_size": m.parameter_size,
        "quantization": m.quantization,
        "parent_id": m.parent_id,
        "status": m.status.value,
        "description": m.description,
    }
