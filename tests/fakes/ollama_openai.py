"""The fake Ollama's OpenAI-compatible endpoints (``/v1/chat/completions``, ``/v1/models``).

As in the real server (ollama/ollama ``openai/openai.go``: ``FromChatRequest``, ``ToChunk``,
``ToChatCompletion``, ``NewError``), they wrap the native ``/api/chat``: the OpenAI request becomes an
Ollama chat request, the native handler runs, and each NDJSON line it would send becomes one
``data: {chat.completion.chunk}`` event (``delta.role`` always ``assistant``, ``content`` always
present, thinking as ``reasoning``, tool calls with JSON-string arguments, ``finish_reason`` on the
done line, ``tool_calls`` when a call was sent), then a usage chunk with no choices when
``stream_options.include_usage`` is set, then ``data: [DONE]``. Errors are
``{"error": {"message", "type", "param": null, "code": null}}``.

Kept apart from ``ollama.py`` (which only calls ``install``) so the native fake can change freely.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable
from typing import Any

__all__ = ["install"]

_LEVELS = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high"}


def install(routes: dict[str, dict[str, Callable[..., None]]]) -> None:
    """Add the /v1 routes to the native fake's route table."""
    routes["/v1/chat/completions"] = {"POST": chat_completions}
    routes["/v1/models"] = {"GET": list_models}


def _error(handler: Any, status: int, message: str) -> None:
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    body = json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}}).encode()
    handler._send(status, body, "application/json")


class _BadRequest(Exception):
    pass


def _native_message(msg: dict[str, Any], all_messages: list[Any]) -> list[dict[str, Any]]:
    role = msg.get("role")
    tool_name = ""
    if role == "tool":
        tool_name = msg.get("name") or ""
        if not tool_name and msg.get("tool_call_id"):
            for m in all_messages:
                for tc in (m.get("tool_calls") or []) if isinstance(m, dict) else []:
                    if tc.get("id") == msg["tool_call_id"]:
                        tool_name = tc.get("function", {}).get("name", "")
    calls = []
    for tc in msg.get("tool_calls") or []:
        try:
            args = json.loads(tc["function"]["arguments"])
        except (KeyError, TypeError, ValueError):
            raise _BadRequest("invalid tool call arguments") from None
        calls.append(
            {"id": tc.get("id", ""), "function": {"name": tc["function"].get("name", ""), "arguments": args}}
        )
    content = msg.get("content")
    out: list[dict[str, Any]] = []
    if isinstance(content, str) or (content is None and calls):
        out.append({"role": role, "content": content or ""})
    elif isinstance(content, list):
        for part in content:
            if part.get("type") == "text":
                out.append({"role": role, "content": part.get("text", "")})
            elif part.get("type") == "image_url":
                url = (
                    part.get("image_url", {}).get("url", "")
                    if isinstance(part.get("image_url"), dict)
                    else ""
                )
                data = url.split(";base64,", 1)[1] if url.startswith("data:") and ";base64," in url else None
                if data is None:
                    raise _BadRequest("invalid image input")
                base64.b64decode(data)
                out.append({"role": role, "images": [data]})
            else:
                raise _BadRequest("invalid message format")
    else:
        raise _BadRequest(f"invalid message content type: {type(content).__name__}")
    if calls:
        out[-1]["tool_calls"] = calls
    if tool_name:
        out[-1]["tool_name"] = tool_name
    return out


def _native_request(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages") or []
    native: list[dict[str, Any]] = []
    for msg in messages:
        native += _native_message(msg, messages)
    options: dict[str, Any] = {}
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = [s for s in stop if isinstance(s, str)]
    for src, dst in (
        ("max_tokens", "num_predict"),
        ("temperature", "temperature"),
        ("seed", "seed"),
        ("top_p", "top_p"),
    ):
        if body.get(src) is not None:
            options[dst] = body[src]
    request: dict[str, Any] = {
        "model": body.get("model", ""),
        "messages": native,
        "options": options,
        "stream": bool(body.get("stream")),
    }
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        request["format"] = "json"
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        request["format"] = (fmt.get("json_schema") or {}).get("schema")
    if body.get("tools"):
        request["tools"] = body["tools"]
    effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
    if effort:
        if effort not in _LEVELS:
            raise _BadRequest(
                f'invalid reasoning value: \'{effort}\' (must be "high", "medium", "low", or "none")'
            )
        request["think"] = _LEVELS[effort]
    return request


def _tool_calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": c.get("id", ""),
            "index": c.get("function", {}).get("index", 0),
            "type": "function",
            "function": {
                "name": c["function"]["name"],
                "arguments": json.dumps(c["function"].get("arguments", {})),
            },
        }
        for c in message.get("tool_calls") or []
    ]


def _usage(line: dict[str, Any]) -> dict[str, int]:
    p, e = int(line.get("prompt_eval_count") or 0), int(line.get("eval_count") or 0)
    return {"prompt_tokens": p, "completion_tokens": e, "total_tokens": p + e}


def chat_completions(handler: Any, body: dict[str, Any]) -> None:
    try:
        native = _native_request(body)
    except _BadRequest as exc:
        _error(handler, 400, str(exc))
        return
    captured: dict[str, Any] = {}

    def on_json(status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        captured["json"] = (status, obj)

    def on_stream(path: str, lines: list[dict[str, Any]], before_last: Any = None) -> None:
        captured["lines"] = lines
        if before_last is not None:
            before_last()

    handler._json, handler._stream = on_json, on_stream
    try:
        type(handler)._chat(handler, native)
    finally:
        del handler._json, handler._stream
    cid = f"chatcmpl-{random.randrange(999)}"
    if "json" in captured:
        status, obj = captured["json"]
        if status >= 400:
            message = obj.get("error") if isinstance(obj, dict) else None
            _error(handler, status, str(message or "error"))
            return
        if not native["stream"]:
            message = obj.get("message") or {}
            calls = _tool_calls(message)
            reply: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
            if message.get("thinking"):
                reply["reasoning"] = message["thinking"]
            if calls:
                reply["tool_calls"] = calls
            finish = "tool_calls" if calls else obj.get("done_reason") or None
            out = {
                "id": cid,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": obj.get("model", native["model"]),
                "system_fingerprint": "fp_ollama",
                "choices": [{"index": 0, "message": reply, "finish_reason": finish}],
                "usage": _usage(obj),
            }
            handler._send(200, json.dumps(out).encode(), "application/json")
            return
        captured["lines"] = [obj]
    _write_events(handler, body, cid, captured["lines"])


def _write_events(handler: Any, body: dict[str, Any], cid: str, lines: list[dict[str, Any]]) -> None:
    fake = handler.fake
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    sent_call = False
    for i, line in enumerate(lines):
        if i and fake.chunk_delay:
            fake._pause(fake.chunk_delay)
        message = line.get("message") or {}
        calls = _tool_calls(message)
        sent_call = sent_call or bool(calls)
        delta: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
        if message.get("thinking"):
            delta["reasoning"] = message["thinking"]
        if calls:
            delta["tool_calls"] = calls
        reason = line.get("done_reason") if line.get("done") else None
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": line.get("model", ""),
            "system_fingerprint": "fp_ollama",
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": ("tool_calls" if sent_call or calls else reason) if reason else None,
                }
            ],
        }
        handler._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        if line.get("done") and include_usage:
            usage = {**chunk, "choices": [], "usage": _usage(line)}
            handler._chunk(b"data: " + json.dumps(usage).encode() + b"\n\n")
    handler._chunk(b"data: [DONE]\n\n")
    handler._end_stream()


def list_models(handler: Any, body: dict[str, Any]) -> None:
    data = [
        {"id": m["name"], "object": "model", "created": 1_760_000_000, "owned_by": "library"}
        for m in list(handler.fake.models)
    ]
    handler._send(200, json.dumps({"object": "list", "data": data}).encode(), "application/json")
