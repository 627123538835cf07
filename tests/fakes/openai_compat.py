"""A protocol-faithful fake of an OpenAI-compatible server, on 127.0.0.1 and a random port.

Built from the OpenAI API reference (``GET /v1/models``, ``POST /v1/chat/completions`` with SSE
streaming and ``stream_options.include_usage``, ``POST /v1/embeddings``, error bodies
``{"error": {"message", "type", "param", "code"}}``) and Azure's content-filter error shape.

Runtime-settable ``mode`` (see ``MODES``):

- ``normal``         — answers like the real service (unknown model names still get a not-found error).
- ``unauthorized``   — 401 on every call: an expired or revoked key.
- ``rate_limited``   — 429 on every call, with the header variant in ``rate_limit_header``.
- ``content_filter`` — chat answers 400 with ``code: content_filter``
                        (inner ``ResponsibleAIPolicyViolation``).
- ``unknown_model``  — chat and embeddings answer the service's unknown-model error.
- ``disconnect``     — chat streams ``disconnect_after`` content chunks then drops the connection; other
                        calls send half a body and drop it.
- ``non_json``       — 200 with an HTML page (a captive portal or a web server at the wrong URL).
- ``retired``        — 410 Gone on every call.
- ``retired_403``    — 403 with ``Sunset``, ``Deprecation`` and ``Link`` headers and an empty body.
- ``brownout``       — 410 with a plain-text brownout message.
- ``killed``         — the server process dies while a request is in: the connection closes with no
                        reply at all (what a client sees when ``kill -9`` hits the server mid-request).

``flavor`` makes the fake behave like a real server other than OpenAI's own:

- ``openai``    — OpenAI's API (the default).
- ``llama_cpp`` — llama-cpp-python's server (``llama_cpp.server``): one model lock; no SSE comments and no
                  usage chunk; ``owned_by: "me"``; and, as its ``interrupt_requests`` setting (on by
                  default) does, a stream that another chat request is waiting behind stops after its
                  current chunk with ``data: [DONE]`` and **no** ``finish_reason``. ``interrupt_next = N``
                  makes the next N streams stop that way after ``disconnect_after`` chunks, as if a
                  second request had come in then (deterministic, for tests that need no timing).
- ``litellm``   — LiteLLM proxy: ``/v1/models`` entries carry the model-info extras it knows
                  (``max_input_tokens``, ``max_output_tokens``, ``mode`` such as ``chat`` or ``embedding``,
                  from ``model_info``), and a missing key answers LiteLLM's 401 ``auth_error``.

Independently of the mode, ``rate_limit_count = N`` answers 429 to the next N requests, then carries
on (a 429 storm). ``rate_limit_header`` is one of ``x-ratelimit-timeremaining``, ``retry-after``,
``retry-after-date`` or ``none``; ``rate_limit_wait`` is the number of seconds announced.

Every request is recorded (``requests``: method, path, headers, body, client port) so tests can check
which key was sent; ``in_flight`` / ``max_in_flight`` count concurrent requests.

Run standalone: ``python -m tests.fakes.openai_compat --port 8001 [--mode retired] [--key KEY]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

import pytest

__all__ = ["FLAVORS", "MODES", "FakeOpenAIServer", "RecordedRequest", "fake_openai", "new_test_key"]

MODES = (
    "normal",
    "unauthorized",
    "rate_limited",
    "content_filter",
    "unknown_model",
    "disconnect",
    "non_json",
    "retired",
    "retired_403",
    "brownout",
    "killed",
)
FLAVORS = ("openai", "llama_cpp", "litellm")
RATE_LIMIT_HEADERS = ("x-ratelimit-timeremaining", "retry-after", "retry-after-date", "none")

SUNSET = "Thu, 30 Jul 2026 00:00:00 GMT"
DEPRECATION = "@1777939200"
BROWNOUT_TEXT = "GitHub Models is temporarily unavailable as part of a scheduled retirement brownout"
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"

DEFAULT_MODELS: tuple[tuple[str, str], ...] = (
    ("gpt-4o-mini", "system"),
    ("o3-mini", "system"),
    ("text-embedding-3-small", "system"),
    ("qwen2.5-vl-7b-instruct", "organization-owner"),
    ("deepseek-r1-distill-qwen-7b", "organization-owner"),
    ("llama3.2:latest", "library"),
)


def new_test_key(prefix: str = "sk-test") -> str:
    """A fresh, unmistakable key, so a test can grep everything for it."""
    return f"{prefix}-{secrets.token_hex(12)}"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client_port: int
    json: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "FakeOpenAI/1.0"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        self.server.fake._handle(self)  # type: ignore[attr-defined]

    do_GET = _dispatch
    do_POST = _dispatch
    do_DELETE = _dispatch
    do_PUT = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping a kept-alive connection is normal; anything else is a bug in the fake.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class FakeOpenAIServer:
    """``with FakeOpenAIServer() as fake: ...``; ``fake.url`` is the base URL to configure (ends in /v1)."""

    prefix = "/v1"
    owner_default = "system"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        port: int = 0,
        mode: str = "normal",
        models: list[tuple[str, str]] | None = None,
    ) -> None:
        self.api_key = api_key
        self.port = port
        self.mode = mode
        self.models: list[tuple[str, str]] = list(models if models is not None else DEFAULT_MODELS)
        # Rate limiting.
        self.rate_limit_header = "x-ratelimit-timeremaining"
        self.rate_limit_wait: float = 2
        self.rate_limit_count = 0
        # Replies.
        self.reply: str | None = None
        self.reasoning = ""
        self.reasoning_field = "reasoning_content"
        self.tool_arguments: dict[str, Any] = {"city": "Paris"}
        self.call_tools = True
        self.tool_script: Any = None  # a tests.fakes.tool_script.ToolScript: calls by round, then text
        self.sse_comments = True
        self.prompt_filter_chunk = False
        self.send_done = True
        self.embedding_dim = 8
        self.disconnect_after = 2
        self.echo_key = False
        self.chunk_delay = 0.0
        self.delay = 0.0
        # Server flavour (see the module docstring).
        self.flavor = "openai"
        self.interrupt_next = 0
        self.model_info: dict[str, dict[str, Any]] = {}  # litellm: model id -> model_info extras
        self._model_lock = threading.Lock()  # llama_cpp: one generation at a time
        self._waiting = 0  # llama_cpp: chat requests waiting for the model lock
        # Bookkeeping.
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.interrupted = 0  # llama_cpp flavour: replies cut short because another request waited
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> Self:
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=f"fake-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = self.in_flight
            self.interrupted = 0

    # ------------------------------------------------------------------ queries for tests
    def calls(self, path_suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def model_ids(self) -> list[str]:
        return [m for m, _ in self.models]

    # ---------------------------------------------------------- routing (overridden by the GitHub fake)
    def route(self, method: str, path: str) -> tuple[str | None, dict[str, Any]]:
        if not path.startswith(self.prefix + "/"):
            return None, {}
        rest = path[len(self.prefix) :]
        table = {
            ("GET", "/models"): "models",
            ("POST", "/chat/completions"): "chat",
            ("POST", "/embeddings"): "embeddings",
        }
        return table.get((method, rest)), {}

    # ---------------------------------------------------------- error bodies (overridden by the GitHub fake)
    def body_unauthorized(self, presented: str) -> dict[str, Any]:
        if not presented:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        elif self.echo_key:
            message = f"Incorrect API key provided: {presented}."
        else:
            masked = presented[:3] + "*" * 8 + presented[-4:] if len(presented) > 8 else "****"
            message = f"Incorrect API key provided: {masked}. You can find your API key in your account."
        return {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }

    def body_rate_limited(self, model: str) -> dict[str, Any]:
        return {
            "error": {
                "message": f"Rate limit reached for {model or 'requests'} on requests per min (RPM): "
                f"Limit 3, Used 3, Requested 1. Please try again in {self.rate_limit_wait:g}s.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }

    def unknown_model_response(self, model: str) -> tuple[int, dict[str, Any]]:
        return 404, {
            "error": {
                "message": f"The model `{model}` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
        }

    def body_content_filter(self) -> dict[str, Any]:
        return {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                "management policy. Please modify your prompt and retry.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": {
                        "hate": {"filtered": False, "severity": "safe"},
                        "self_harm": {"filtered": False, "severity": "safe"},
                        "sexual": {"filtered": False, "severity": "safe"},
                        "violence": {"filtered": True, "severity": "medium"},
                    },
                },
            }
        }

    def models_body(self) -> Any:
        if self.flavor == "llama_cpp":  # llama_cpp.server: the configured aliases, owned by "me"
            return {
                "object": "list",
                "data": [
                    {"id": mid, "object": "model", "owned_by": "me", "permissions": []}
                    for mid, _ in self.models
                ],
            }
        data = []
        for mid, owner in self.models:
            entry: dict[str, Any] = {
                "id": mid,
                "object": "model",
                "created": 1_715_367_049,
                "owned_by": owner,
            }
            if self.flavor == "litellm":
                entry.update(self.model_info.get(mid, {}))
            data.append(entry)
        return {"object": "list", "data": data}

    # ------------------------------------------------------------------ request handling
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=h.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
            client_port=h.client_address[1],
            json=parsed,
        )
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            self._respond(h, record)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, h: BaseHTTPRequestHandler, req: RecordedRequest) -> None:
        route, params = self.route(req.method, req.path)
        req.extra.update(params)
        mode = self.mode
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        # A retired service answers the same whatever the path.
        if mode == "retired":
            return self._send(h, 410, b"", ctype="text/plain; charset=utf-8")
        if mode == "brownout":
            return self._send(h, 410, BROWNOUT_TEXT.encode(), ctype="text/plain; charset=utf-8")
        if mode == "retired_403":
            return self._send(
                h,
                403,
                b"",
                ctype="text/plain; charset=utf-8",
                headers={
                    "Sunset": SUNSET,
                    "Deprecation": DEPRECATION,
                    "Link": '<https://github.blog/changelog/github-models-retirement>; rel="deprecation"',
                },
            )
        if route is None:
            return self._json(
                h,
                404,
                {
                    "error": {
                        "message": f"Invalid URL ({req.method} {req.path})",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        if mode == "non_json":
            return self._send(h, 200, HTML_PAGE, ctype="text/html; charset=utf-8")
        if mode == "killed":
            return self._drop(h)
        presented = req.headers.get("authorization", "")
        presented = presented[7:].strip() if presented.lower().startswith("bearer ") else presented.strip()
        if mode == "unauthorized" or (self.api_key is not None and presented != self.api_key):
            if self.flavor == "litellm":
                return self._json(h, 401, self.body_litellm_auth(presented))
            return self._json(h, 401, self.body_unauthorized(presented))
        payload = req.json if isinstance(req.json, dict) else {}
        model = str(payload.get("model") or "")
        with self._lock:
            storm = self.rate_limit_count > 0
            if storm:
                self.rate_limit_count -= 1
        if mode == "rate_limited" or storm:
            return self._json(h, 429, self.body_rate_limited(model), headers=self._rate_headers())
        if mode == "disconnect" and route != "chat":
            return self._cut_body(h)
        if route == "models":
            return self._json(h, 200, self.models_body())
        if req.method == "POST" and not isinstance(req.json, dict):
            return self._json(
                h,
                400,
                {
                    "error": {
                        "message": "We could not parse the JSON body of your request.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
        if mode == "unknown_model" or model not in self.model_ids:
            status, err = self.unknown_model_response(model)
            return self._json(h, status, err)
        if route == "embeddings":
            return self._embeddings(h, payload, model)
        if mode == "content_filter":
            return self._json(h, 400, self.body_content_filter())
        if self.flavor == "llama_cpp" and payload.get("stream"):
            return self._llama_cpp_chat(h, payload, model, cut=mode == "disconnect")
        return self._chat(h, payload, model, cut=mode == "disconnect")

    @staticmethod
    def body_litellm_auth(presented: str) -> dict[str, Any]:
        """LiteLLM proxy's ``ProxyException`` for a missing or wrong key (``user_api_key_auth``)."""
        message = (
            "Authentication Error, No api key passed in."
            if not presented
            else "Authentication Error, Invalid proxy server token passed."
        )
        return {"error": {"message": message, "type": "auth_error", "param": "None", "code": "401"}}

    def _llama_cpp_chat(
        self, h: BaseHTTPRequestHandler, payload: dict[str, Any], model: str, *, cut: bool
    ) -> None:
        """llama-cpp-python's streaming chat: requests take turns on the model lock, and the one
        generating stops early, ``[DONE]`` without a finish_reason, when another is waiting."""
        with self._lock:
            self._waiting += 1
        try:
            self._model_lock.acquire()
        finally:
            with self._lock:
                self._waiting -= 1
        try:
            with self._lock:
                interrupt = self.interrupt_next > 0
                if interrupt:
                    self.interrupt_next -= 1
            text = self.reply_text(payload)
            pieces = re.findall(r"\S+\s*", text)
            base = {
                "id": "chatcmpl-llama01",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
            }

            def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
                obj = {
                    **base,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                }
                return f"data: {json.dumps(obj)}\r\n\r\n".encode()

            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream; charset=utf-8")
            h.send_header("Cache-Control", "no-cache")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()

            def write(data: bytes) -> None:
                if self.chunk_delay:  # generating a token takes time before it is sent, not after
                    time.sleep(self.chunk_delay)
                h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                h.wfile.flush()

            def waiting() -> bool:
                with self._lock:
                    return self._waiting > 0

            write(chunk({"role": "assistant"}))
            for sent, piece in enumerate(pieces):
                if cut and sent >= self.disconnect_after:
                    return self._drop(h)
                if (interrupt and sent >= self.disconnect_after) or waiting():
                    with self._lock:
                        self.interrupted += 1
                    write(b"data: [DONE]\r\n\r\n")  # interrupt_requests: no finish_reason
                    h.wfile.write(b"0\r\n\r\n")
                    return None
                write(chunk({"content": piece}))
            write(chunk({}, "stop"))
            write(b"data: [DONE]\r\n\r\n")
            h.wfile.write(b"0\r\n\r\n")
            return None
        finally:
            self._model_lock.release()

    # ------------------------------------------------------------------ senders
    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        *,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(body)

    def _json(
        self, h: BaseHTTPRequestHandler, status: int, data: Any, *, headers: dict[str, str] | None = None
    ) -> None:
        self._send(h, status, json.dumps(data).encode(), headers=headers)

    def _rate_headers(self) -> dict[str, str]:
        wait = self.rate_limit_wait
        variant = self.rate_limit_header
        if variant == "x-ratelimit-timeremaining":
            return {"x-ratelimit-timeremaining": f"{wait:g}", "x-ratelimit-remaining-requests": "0"}
        if variant == "retry-after":
            return {"Retry-After": f"{wait:g}"}
        if variant == "retry-after-date":
            return {"Retry-After": formatdate(time.time() + wait, usegmt=True)}
        if variant == "none":
            return {}
        raise ValueError(f"unknown rate_limit_header {variant!r}")

    def _cut_body(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "4096")
        h.end_headers()
        h.wfile.write(b'{"object": "list", "data": [{"id": "gpt')
        self._drop(h)

    @staticmethod
    def _drop(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.wfile.flush()
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ------------------------------------------------------------------ endpoints
    def _embeddings(self, h: BaseHTTPRequestHandler, payload: dict[str, Any], model: str) -> None:
        raw = payload.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._json(
                h,
                400,
                {
                    "error": {
                        "message": "'input' must be a string or a non-empty array of strings.",
                        "type": "invalid_request_error",
                        "param": "input",
                        "code": None,
                    }
                },
            )
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(text)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        self._json(
            h,
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        raw = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(self.embedding_dim)]
        norm = math.sqrt(sum(x * x for x in raw)) or 1.0
        return [round(x / norm, 6) for x in raw]

    @staticmethod
    def _last_user_text(messages: Any) -> tuple[str, int]:
        if not isinstance(messages, list):
            return "", 0
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                content = msg.get("content")
                if isinstance(content, str):
                    return content, 0
                if isinstance(content, list):
                    text = " ".join(
                        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
                    )
                    images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
                    return text, images
        return "", 0

    def reply_text(self, payload: dict[str, Any]) -> str:
        if self.reply is not None:
            text = self.reply
        else:
            said, images = self._last_user_text(payload.get("messages"))
            text = f"Hello! You said: {said}"
            if images:
                text += f" [{images} image{'s' if images > 1 else ''}]"
        fmt = payload.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
            text = json.dumps({"reply": text})
        return text

    def _chat(self, h: BaseHTTPRequestHandler, payload: dict[str, Any], model: str, *, cut: bool) -> None:
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._json(
                h,
                400,
                {
                    "error": {
                        "message": "'messages' must be a non-empty array.",
                        "type": "invalid_request_error",
                        "param": "messages",
                        "code": None,
                    }
                },
            )
        if self.tool_script is not None:  # a scripted function-calling model (tests/fakes/tool_script.py)
            from tests.fakes.tool_script import serve_openai

            return serve_openai(self, h, payload, model)
        text = self.reply_text(payload)
        tools = payload.get("tools") if self.call_tools else None
        tool_name = None
        if isinstance(tools, list) and tools and isinstance(tools[0], dict):
            tool_name = (tools[0].get("function") or {}).get("name")
        pieces = re.findall(r"\S+\s*", text) if not tool_name else []
        reasoning = re.findall(r"\S+\s*", self.reasoning)
        prompt_tokens = sum(len(json.dumps(m).split()) for m in messages)
        completion_tokens = len(pieces) + len(reasoning) + (1 if tool_name else 0)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        finish = "tool_calls" if tool_name else "stop"
        created = int(time.time())
        base = {
            "id": "chatcmpl-fake0001",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        if not payload.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if tool_name else text}
            if reasoning:
                message[self.reasoning_field] = self.reasoning
            if tool_name:
                message["tool_calls"] = [
                    {
                        "id": "call_fake_1",
                        "type": "function",
                        "function": {"name": tool_name, "arguments": json.dumps(self.tool_arguments)},
                    }
                ]
            return self._json(
                h,
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": usage,
                },
            )
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }

        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def write(raw: str) -> None:
            data = raw.encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if self.chunk_delay:
                time.sleep(self.chunk_delay)

        def event(obj: Any) -> None:
            write(f"data: {json.dumps(obj)}\n\n")

        if self.sse_comments:
            write(": keep-alive\n\n")
        if self.prompt_filter_chunk:
            event(
                {
                    "choices": [],
                    "created": 0,
                    "id": "",
                    "model": "",
                    "object": "",
                    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
                }
            )
        event(choice({"role": "assistant", "content": ""}))
        for piece in reasoning:
            event(choice({self.reasoning_field: piece}))
        for sent, piece in enumerate(pieces):
            if cut and sent >= self.disconnect_after:
                return self._drop(h)
            event(choice({"content": piece}))
        if cut:
            return self._drop(h)
        if tool_name:
            args = json.dumps(self.tool_arguments)
            half = len(args) // 2
            event(
                choice(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_fake_1",
                                "type": "function",
                                "function": {"name": tool_name, "arguments": ""},
                            }
                        ]
                    }
                )
            )
            event(choice({"tool_calls": [{"index": 0, "function": {"arguments": args[:half]}}]}))
            event(choice({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]}))
        event(choice({}, finish))
        if include_usage:
            event({**base, "choices": [], "usage": usage})
        if self.send_done:
            write("data: [DONE]\n\n")
        h.wfile.write(b"0\r\n\r\n")


# ---------------------------------------------------------------------------------------------- pytest


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI-compatible server that requires ``fake_openai.api_key``."""
    with FakeOpenAIServer(api_key=new_test_key()) as server:
        yield server


def serve_main(factory: type[FakeOpenAIServer], description: str) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--mode", choices=MODES, default="normal")
    parser.add_argument("--key", default=None, help="the key clients must send (default: any key)")
    parser.add_argument("--flavor", choices=FLAVORS, default="openai", help="behave like this server")
    parser.add_argument(
        "--rate-limit-header", choices=RATE_LIMIT_HEADERS, default="x-ratelimit-timeremaining"
    )
    args = parser.parse_args()
    server = factory(api_key=args.key, port=args.port, mode=args.mode)
    server.rate_limit_header = args.rate_limit_header
    server.flavor = args.flavor
    server.start()
    print(f"{factory.__name__} ({args.mode}) at {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    serve_main(FakeOpenAIServer, "Fake OpenAI-compatible server for ModelDesk tests.")
