"""A protocol-faithful fake Ollama server on 127.0.0.1, for tests, benchmarks and screenshots.

Built from ollama/ollama ``docs/api.md`` (see ``/work/shared/API-NOTES.md``): JSON replies with
``Content-Length``, NDJSON streams with chunked transfer encoding over keep-alive HTTP/1.1,
``{"error": "..."}`` bodies with 400/404/500 before a stream, and error *lines* inside a 200 stream
after it started. All durations are nanoseconds.

Python API::

    with FakeOllama() as fake:                 # default catalogue, generation "new" (server >= 0.30)
        fake.url                               # http://127.0.0.1:<random port>
        fake.models.append(make_model("phi3:mini", capabilities=["completion"]))
        fake.reply_text = "Hello there"        # what /api/chat streams, in several chunks
        fake.hang = {"/api/tags"}              # fault modes: see the attributes in __init__
        fake.requests["/api/show"]             # requests per path
        fake.max_in_flight                     # most requests seen at once

Fault modes (``hang``, ``malformed_json``, ``truncate_stream``, ``error_midstream``) each take
``False``/``True`` (every endpoint it applies to), one path, or a set of paths; ``"*"`` means all.
``delays`` maps a path to seconds; ``status_override`` maps a path to a status code, or to
``(status, body)`` / ``(status, body, headers)`` where body is a message (sent as ``{"error": ...}``),
a dict/list (sent as JSON) or bytes (sent raw).

Like the real server (ollama/ollama ``server/routes.go``, ``api/types.go``): ``/api/tags`` lists newest
first and omits ``capabilities`` when a model has none; ``remote_model``/``remote_host`` are listed by
both generations (since v0.12); thinking models think when ``think`` is omitted; ``think`` is a bool or
``low|medium|high|max`` (anything else: 400 with the server's text); tool calls carry an ``id``. Cloud
models (``make_model(..., remote_model=...)``, names ending ``-cloud``/``:cloud``) are proxied to
ollama.com: ``cloud_reachable = False`` makes their chat answer 500 (and, on the old generation,
v0.18–v0.29, their ``/api/show`` 502); ``cloud_signed_in = False`` makes chat answer 401 with ``signin_url``;
``cloud_disabled = True`` makes it 403 ``ollama cloud is disabled``. ``prefix`` serves the API under a
path (a daemon behind a reverse proxy, ``OLLAMA_HOST=host/ollama``).

Standalone: ``python -m tests.fakes.ollama --port 11434 [--generation old] [--models N]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import json
import math
import random
import re
import socket
import string
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = [
    "DEFAULT_MODELS",
    "FakeOllama",
    "default_models",
    "is_cloud",
    "make_catalogue",
    "make_cloud_model",
    "make_model",
]

NEW_VERSION = "0.33.0"
OLD_VERSION = "0.29.0"
DEFAULT_REPLY = (
    "The sky looks blue because air scatters short blue wavelengths of sunlight more than red ones."
)
DEFAULT_THINKING = (
    "The user asks about the sky. Rayleigh scattering goes with the inverse fourth power of wavelength."
)
DEFAULT_MIDSTREAM_ERROR = "an error was encountered while running the model: unexpected EOF"

# Keys of a model dict that /api/tags does not show as they are (they feed /api/show and details).
_PRIVATE = {
    "capabilities",
    "context_length",
    "embedding_length",
    "architecture",
    "parameter_count",
    "system",
    "template",
    "parameters",
    "license",
    "remote_model",
    "remote_host",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _normalize(name: str) -> str:
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def is_cloud(model: dict[str, Any]) -> bool:
    """Served by ollama.com through the daemon: listed with ``remote_*``, or named ``…-cloud``/``…:cloud``."""
    name = str(model.get("name", ""))
    return bool(model.get("remote_model") or model.get("remote_host")) or name.endswith(("-cloud", ":cloud"))


def _go_time(when: datetime | None = None) -> str:
    """RFC 3339 with nanoseconds, as Go writes it."""
    when = when or datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond:06d}" + "123Z"


def _param_count(parameter_size: str) -> int:
    match = re.match(r"([\d.]+)\s*([KMBT]?)", parameter_size.upper())
    if not match:
        return 0
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(2)]
    return int(float(match.group(1)) * scale)


def make_model(
    name: str,
    capabilities: Iterable[str] = ("completion",),
    family: str = "llama",
    parameter_size: str = "3.2B",
    quantization: str = "Q4_K_M",
    size: int = 2_019_393_189,
    context_length: int | None = 131_072,
    *,
    embedding_length: int | None = None,
    architecture: str | None = None,
    families: list[str] | None = None,
    digest: str | None = None,
    modified_at: str | None = None,
    remote_model: str | None = None,
    remote_host: str | None = None,
    system: str | None = None,
    template: str = "{{ .Prompt }}",
    parameters: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One model as the fake keeps it. ``extra`` keys are sent as-is in ``/api/tags`` (unknown fields)."""
    name = _normalize(name)
    model: dict[str, Any] = {
        "name": name,
        "model": name,
        "modified_at": modified_at or "2026-10-02T09:14:31.482187645Z",
        "size": size,
        "digest": digest or _digest(name),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": families or [family],
            "parameter_size": parameter_size,
            "quantization_level": quantization,
        },
        "capabilities": list(capabilities),
        "context_length": context_length,
        "embedding_length": embedding_length or (768 if "embedding" in capabilities else 3072),
        "architecture": architecture or family,
        "parameter_count": _param_count(parameter_size),
        "system": system,
        "template": template,
        "parameters": dict(parameters or {}),
        "license": "LICENSE AGREEMENT (fake)",
    }
    if remote_model or remote_host:
        model["remote_model"] = remote_model or name
        model["remote_host"] = remote_host or "https://ollama.com:443"
    model.update(extra)
    return model


def default_models() -> list[dict[str, Any]]:
    """A realistic catalogue (sizes and facts as ``ollama list``/``ollama show`` report them), newest
    first: each is a day older than the one before, so ``/api/tags`` lists them in this order."""
    models = [
        make_model(
            "llama3.2:latest",
            ["completion", "tools"],
            "llama",
            "3.2B",
            "Q4_K_M",
            2_019_393_189,
            131_072,
            parameters={"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        ),
        make_model(
            "qwen3:8b",
            ["completion", "tools", "thinking"],
            "qwen3",
            "8.2B",
            "Q4_K_M",
            5_225_388_164,
            40_960,
            parameters={"temperature": 0.6, "top_k": 20, "top_p": 0.95, "repeat_penalty": 1},
        ),
        make_model(
            "llava:7b",
            ["completion", "vision"],
            "llama",
            "7B",
            "Q4_0",
            4_733_363_377,
            32_768,
            families=["llama", "clip"],
        ),
        make_model(
            "nomic-embed-text:latest",
            ["embedding"],
            "nomic-bert",
            "137M",
            "F16",
            274_302_450,
            2_048,
            embedding_length=768,
        ),
        make_model("gemma3:4b", ["completion", "vision"], "gemma3", "4.3B", "Q4_K_M", 3_338_801_804, 131_072),
        make_model(
            "deepseek-r1:7b", ["completion", "thinking"], "qwen2", "7.6B", "Q4_K_M", 4_683_075_271, 131_072
        ),
    ]
    newest = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    for i, model in enumerate(models):
        model["modified_at"] = _go_time(newest - timedelta(days=i))
    return models


def make_cloud_model(
    name: str,
    capabilities: Iterable[str] = ("completion", "tools", "thinking"),
    family: str = "gptoss",
    parameter_size: str = "116.8B",
    quantization: str = "MXFP4",
    **extra: Any,
) -> dict[str, Any]:
    """A cloud model as a signed-in daemon lists it: a ~400-byte stub whose ``remote_model`` (the name
    without its ``-cloud`` suffix) runs on ollama.com."""
    base = _normalize(name)
    remote = base.removesuffix(":cloud").removesuffix("-cloud")
    extra.setdefault("size", 384)
    extra.setdefault("remote_model", remote)
    extra.setdefault("remote_host", "https://ollama.com:443")
    extra.setdefault("context_length", 131_072)
    return make_model(base, capabilities, family, parameter_size, quantization, **extra)


DEFAULT_MODELS: tuple[str, ...] = tuple(m["name"] for m in default_models())


def default_pullable() -> dict[str, dict[str, Any]]:
    """Models ``/api/pull`` knows besides the installed ones."""
    models = [
        make_model("tinyllama:latest", ["completion"], "llama", "1B", "Q4_0", 637_700_138, 2_048),
        make_model("phi3:mini", ["completion"], "phi3", "3.8B", "Q4_0", 2_176_178_913, 131_072),
        make_model(
            "all-minilm:latest", ["embedding"], "bert", "23M", "F16", 45_960_996, 256, embedding_length=384
        ),
    ]
    return {m["name"]: m for m in models}


def make_catalogue(n: int) -> list[dict[str, Any]]:
    """``n`` models: the default catalogue first, then synthetic ones cycling through its kinds."""
    base = default_models()
    out = base[:n]
    i = 0
    while len(out) < n:
        template = base[i % len(base)]
        d = template["details"]
        out.append(
            make_model(
                f"synthetic-{i:04d}-{template['name'].split(':')[0]}:latest",
                template["capabilities"],
                d["family"],
                d["parameter_size"],
                d["quantization_level"],
                template["size"] + i,
                template["context_length"],
                embedding_length=template["embedding_length"],
            )
        )
        i += 1
    return out


def _tokens(text: str) -> list[str]:
    """Split into word-ish pieces (with their trailing space) the way a model streams tokens."""
    return re.findall(r"\S+\s*|\s+", text)


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "FakeOllama"

    @property
    def fake(self) -> FakeOllama:
        fake: FakeOllama = self.server.fake  # type: ignore[attr-defined]
        return fake

    # ------------------------------------------------------------------ connection bookkeeping
    def setup(self) -> None:
        super().setup()
        self.fake._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.fake._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _authorized(self, login: tuple[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()
        return self.headers.get("Authorization") == expected

    # ------------------------------------------------------------------ writing
    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        if status == 200 and isinstance(obj, dict) and self.fake.extra_fields:
            obj = {**obj, **self.fake.extra_fields}
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8", headers)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _empty(self) -> None:
        self._send(200, b"", "text/plain; charset=utf-8")

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        except OSError:
            raise _ClientGone from None

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            raise _ClientGone from None

    def _cut(self, data: bytes) -> None:
        """Send ``data`` inside a chunk that claims to be longer, then drop the connection."""
        with contextlib.suppress(OSError):
            self.wfile.write(f"{len(data) + 64:x}\r\n".encode() + data)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(
        self, path: str, lines: list[dict[str, Any]], before_last: Callable[[], None] | None = None
    ) -> None:
        """Write NDJSON lines with the configured faults; ``before_last`` runs just before the final line."""
        fake = self.fake
        self._start_stream()
        try:
            for i, line in enumerate(lines):
                last = i == len(lines) - 1
                if i and fake.chunk_delay:
                    fake._pause(fake.chunk_delay)
                if i and i == fake.midstream_after and not last:
                    if fake._applies(fake.error_midstream, path):
                        self._chunk(json.dumps({"error": fake.midstream_error}).encode() + b"\n")
                        self._end_stream()
                        return
                    if fake._applies(fake.truncate_stream, path):
                        text = json.dumps(line)
                        self._cut(text[: max(1, len(text) // 2)].encode())
                        return
                if last:
                    gate = fake.stream_gate
                    if gate is not None:
                        gate.wait(fake.gate_timeout)
                    if before_last is not None:
                        before_last()
                self._chunk(json.dumps(line).encode() + b"\n")
            self._end_stream()
        except _ClientGone:
            fake._client_gone(path)
            self.close_connection = True

    # ------------------------------------------------------------------ dispatch
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        path = urlsplit(self.path).path
        if fake.prefix:
            # Behind a reverse proxy at <prefix>: only <prefix>/... reaches the daemon.
            inner = path.removeprefix(fake.prefix)
            path = inner if inner != path and (not inner or inner.startswith("/")) else "/<outside prefix>"
            path = path or "/"
        raw = self._read_body()
        fake._enter(path)
        try:
            self._handle(method, path, raw)
        except _ClientGone:
            fake._client_gone(path)
            self.close_connection = True
        except OSError:
            self.close_connection = True
        finally:
            fake._leave(path)

    def _handle(self, method: str, path: str, raw: bytes) -> None:
        fake = self.fake
        delay = fake.delays.get(path, fake.delays.get("*", 0.0))
        if delay:
            fake._pause(delay)
        if fake._applies(fake.hang, path):
            fake._stopping.wait()
            self.close_connection = True
            return
        if fake.basic_auth is not None and not self._authorized(fake.basic_auth):
            # What a reverse proxy with basic auth (nginx auth_basic) in front of Ollama answers.
            page = b"<html><head><title>401 Authorization Required</title></head></html>"
            self._send(401, page, "text/html", {"WWW-Authenticate": 'Basic realm="ollama"'})
            return
        routes = _ROUTES.get(path)
        if routes is None:
            self._send(404, b"404 page not found", "text/plain")
            return
        handler = routes.get(method)
        if handler is None:
            self._send(405, b"405 method not allowed", "text/plain")
            return
        body: dict[str, Any] = {}
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                self._error(400, "invalid character in request body")
                return
            if not isinstance(parsed, dict):
                self._error(400, "json: cannot unmarshal into Go value of type api.Request")
                return
            body = parsed
        if method != "GET" and path != "/":
            fake.last_bodies[path] = body
        override = fake.status_override.get(path)
        if override is not None:
            self._override(override)
            return
        if fake._applies(fake.malformed_json, path) and path != "/":
            ctype = "application/x-ndjson" if path in _STREAMING else "application/json; charset=utf-8"
            self._send(200, b'<html>not json {"models": [', ctype)
            return
        handler(self, body)

    def _override(self, override: Any) -> None:
        headers: dict[str, str] = {}
        if isinstance(override, int):
            status, body = override, _REASONS.get(override, "internal server error")
        else:
            status, body, *rest = override
            if rest:
                headers = dict(rest[0])
        if isinstance(body, bytes):
            self._send(status, body, "text/plain; charset=utf-8", headers)
        elif isinstance(body, str):
            self._json(status, {"error": body}, headers)
        else:
            self._json(status, body, headers)

    # ------------------------------------------------------------------ endpoints
    def _root(self, body: dict[str, Any]) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: dict[str, Any]) -> None:
        self._json(200, {"version": self.fake.version})

    def _tags(self, body: dict[str, Any]) -> None:
        fake = self.fake
        self._json(200, {"models": [fake._tags_entry(m) for m in fake.listed()]})

    def _model_or_404(self, body: dict[str, Any], key: str = "model") -> dict[str, Any] | None:
        name = str(body.get(key) or body.get("name") or "")
        model = self.fake.find(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
        return model

    def _show(self, body: dict[str, Any]) -> None:
        model = self._model_or_404(body)
        if model is None:
            return
        if model["name"] in self.fake.broken_models:
            self._error(500, f"failed to read the manifest of {model['name']}: unexpected end of JSON input")
            return
        # v0.18-v0.29 proxied /api/show of a cloud model to ollama.com; v0.30+ answers from its cache.
        if self.fake.generation == "old" and is_cloud(model) and self._cloud_refused("/api/show", 502):
            return
        self._json(200, self.fake._show_body(model))

    def _cloud_refused(self, path: str, offline_status: int) -> bool:
        """Answer as the daemon does when it cannot pass a cloud model's request on; False if it can.
        Offline, the proxied /api/show answers 502 (cloud_proxy.go) and a stub's chat 500 (routes.go:
        the client's error is neither an auth nor a status error)."""
        fake = self.fake
        if fake.cloud_disabled:
            self._error(403, "ollama cloud is disabled: remote model is unavailable")
        elif not fake.cloud_reachable:
            message = f'Post "https://ollama.com:443{path}": dial tcp: lookup ollama.com: no such host'
            self._error(offline_status, message)
        elif not fake.cloud_signed_in:
            self._json(401, {"error": "unauthorized", "signin_url": fake.signin_url})
        else:
            return False
        return True

    def _ps(self, body: dict[str, Any]) -> None:
        fake = self.fake
        entries = []
        for name in list(fake.running):
            model = fake.find(name)
            if model is None:
                continue
            entries.append(
                {
                    "name": model["name"],
                    "model": model["name"],
                    "size": model["size"],
                    "digest": model["digest"],
                    "details": dict(model["details"]),
                    "expires_at": _go_time(datetime.now(UTC) + timedelta(minutes=5)),
                    "size_vram": model["size"],
                    "context_length": 4096,
                }
            )
        self._json(200, {"models": entries})

    def _pull(self, body: dict[str, Any]) -> None:
        fake = self.fake
        name = _normalize(str(body.get("model") or body.get("name") or ""))
        installed = fake.find(name)
        source = installed or fake.pullable.get(name)
        stream = body.get("stream", True) is not False
        if source is None:
            if not stream:
                self._error(500, "pull model manifest: file does not exist")
                return
            self._stream(
                "/api/pull",
                [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}],
            )
            return

        def install() -> None:
            if fake.find(name) is None:
                with fake._lock:
                    fake.models.append({**copy.deepcopy(source), "modified_at": _go_time()})

        if not stream:
            install()
            self._json(200, {"status": "success"})
            return
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        sizes = [max(1, source["size"] - 1_579), 1_483, 96]
        steps = fake.pull_steps
        for i, total in enumerate(sizes):
            digest = "sha256:" + _digest(f"{name}/layer{i}")
            status = f"pulling {digest[7:19]}"
            if installed is not None:
                lines.append({"status": status, "digest": digest, "total": total, "completed": total})
                continue
            lines.append({"status": status, "digest": digest, "total": total})
            n = steps if i == 0 else 1
            for k in range(1, n + 1):
                lines.append(
                    {"status": status, "digest": digest, "total": total, "completed": total * k // n}
                )
        lines += [
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ]
        self._stream("/api/pull", lines, before_last=install)

    def _delete(self, body: dict[str, Any]) -> None:
        fake = self.fake
        model = self._model_or_404(body)
        if model is None:
            return
        with fake._lock:
            fake.models[:] = [m for m in fake.models if m["name"] != model["name"]]
            fake.running[:] = [r for r in fake.running if _normalize(r) != model["name"]]
        self._empty()

    def _copy(self, body: dict[str, Any]) -> None:
        fake = self.fake
        model = self._model_or_404(body, "source")
        if model is None:
            return
        dest = _normalize(str(body.get("destination") or ""))
        if not body.get("destination"):
            self._error(400, "destination is required")
            return
        new = copy.deepcopy(model)
        new["name"] = new["model"] = dest
        fake._put(new)
        self._empty()

    def _create(self, body: dict[str, Any]) -> None:
        fake = self.fake
        target = str(body.get("model") or "")
        if not target:
            self._error(400, "model is required")
            return
        if not body.get("from"):
            self._error(400, "neither 'from' or 'files' was specified")
            return
        parent = fake.find(str(body["from"]))
        if parent is None:
            self._error(404, f"model '{body['from']}' not found")
            return
        new = copy.deepcopy(parent)
        name = _normalize(target)
        new["name"] = new["model"] = name
        new["digest"] = _digest(f"{name}/{json.dumps(body, sort_keys=True)}")
        new["modified_at"] = _go_time()
        new["details"]["parent_model"] = parent["name"]
        lines: list[dict[str, Any]] = [
            {"status": f"using existing layer sha256:{_digest(parent['name'] + '/layer0')}"}
        ]
        for key in ("template", "system", "parameters"):
            if body.get(key):
                new[key] = dict(body[key]) if key == "parameters" else body[key]
                lines.append({"status": f"creating new layer sha256:{_digest(name + '/' + key)}"})
        lines += [{"status": "writing manifest"}, {"status": "success"}]
        if body.get("stream", True) is False:
            fake._put(new)
            self._json(200, {"status": "success"})
            return
        self._stream("/api/create", lines, before_last=lambda: fake._put(new))

    def _chat(self, body: dict[str, Any]) -> None:
        fake = self.fake
        think = body.get("think")
        # api.ThinkValue.UnmarshalJSON: a bool, or one of four levels; anything else fails the bind
        # (before the model is even looked up).
        if think is not None and not isinstance(think, bool):
            if isinstance(think, str):
                if think not in _THINK_LEVELS:
                    self._error(
                        400,
                        f'invalid think value: "{think}" (must be "high", "medium", "low", "max", true, or false)',
                    )
                    return
            else:
                self._error(
                    400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'
                )
                return
        model = self._model_or_404(body)
        if model is None:
            return
        name = model["name"]
        requested = str(body.get("model") or "")
        caps = model["capabilities"]
        if is_cloud(model) and self._cloud_refused("/api/chat", 500):
            return
        tools = body.get("tools") or []
        if "thinking" in caps:
            thinking_on = think is not False  # thinking models think unless told not to
        else:
            if think not in (None, False):
                self._error(400, f'"{requested}" does not support thinking')
                return
            thinking_on = False
        if "completion" not in caps:
            self._error(400, f'"{requested}" does not support chat')
            return
        if tools and "tools" not in caps:
            self._error(400, f'"{requested}" does not support tools')
            return
        messages = body.get("messages") or []
        fake._load(name)
        created = _go_time()
        if not messages:
            self._json(
                200,
                {
                    "model": name,
                    "created_at": created,
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": "load",
                    "done": True,
                },
            )
            return
        fmt = body.get("format")
        reply = _formatted_reply(fake.reply_text, fmt) if fmt else fake.reply_text
        thinking = _tokens(fake.thinking_text) if thinking_on else []
        calls = [_tool_call(tools[0], fake.tool_arguments)] if tools else []
        if fake.tool_script is not None:  # a scripted function-calling model (tests/fakes/tool_script.py)
            planned, scripted_text = fake.tool_script.plan(messages, tools)
            calls, reply = fake.tool_script.ollama_calls(planned), scripted_text or reply
        content = [] if calls else _tokens(reply)
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
        eval_count = len(thinking) + len(content) + (8 * len(calls))
        prompt_eval_count = prompt_words + 10
        eval_duration = eval_count * fake.ns_per_token
        prompt_eval_duration = prompt_eval_count * 1_000_000
        final = {
            "model": name,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done_reason": "stop",
            "done": True,
            "total_duration": fake.load_duration_ns + prompt_eval_duration + eval_duration + 1_000_000,
            "load_duration": fake.load_duration_ns,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": prompt_eval_duration,
            "eval_count": eval_count,
            "eval_duration": eval_duration,
        }
        if body.get("stream", True) is False:
            message: dict[str, Any] = {"role": "assistant", "content": "".join(content)}
            if thinking:
                message["thinking"] = "".join(thinking)
            if calls:
                message["tool_calls"] = calls
            self._json(200, {**final, "message": message})
            return

        def piece(**message: Any) -> dict[str, Any]:
            return {
                "model": name,
                "created_at": created,
                "message": {"role": "assistant", **message},
                "done": False,
            }

        lines = [piece(content="", thinking=t) for t in thinking]
        lines += [piece(content=c) for c in content]
        if calls:
            lines.append(piece(content="", tool_calls=calls))
        lines.append(final)
        self._stream("/api/chat", lines)

    def _embed(self, body: dict[str, Any]) -> None:
        fake = self.fake
        model = self._model_or_404(body)
        if model is None:
            return
        raw = body.get("input", [])
        inputs = [raw] if isinstance(raw, str) else list(raw)
        if not all(isinstance(x, str) for x in inputs):
            self._error(400, "invalid input type")
            return
        fake._load(model["name"])
        dim = int(model.get("embedding_length") or 768)
        self._json(
            200,
            {
                "model": model["name"],
                "embeddings": [fake_vector(text, dim) for text in inputs],
                "total_duration": 14_143_917,
                "load_duration": 1_019_500,
                "prompt_eval_count": sum(len(t.split()) for t in inputs),
            },
        )


_REASONS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "server busy, please try again.  maximum pending requests exceeded",
}

_ROUTES: dict[str, dict[str, Callable[[_Handler, dict[str, Any]], None]]] = {
    "/": {"GET": _Handler._root, "HEAD": _Handler._root},
    "/api/version": {"GET": _Handler._version},
    "/api/tags": {"GET": _Handler._tags},
    "/api/show": {"POST": _Handler._show},
    "/api/ps": {"GET": _Handler._ps},
    "/api/pull": {"POST": _Handler._pull},
    "/api/delete": {"DELETE": _Handler._delete},
    "/api/copy": {"POST": _Handler._copy},
    "/api/create": {"POST": _Handler._create},
    "/api/chat": {"POST": _Handler._chat},
    "/api/embed": {"POST": _Handler._embed},
}
_STREAMING = {"/api/pull", "/api/create", "/api/chat"}

# Ollama's OpenAI-compatible /v1 endpoints wrap the native ones; they live in their own module.
from tests.fakes.ollama_openai import install as _install_v1  # noqa: E402

_install_v1(_ROUTES)


def fake_vector(text: str, dim: int) -> list[float]:
    """A deterministic unit vector from a hash of the text (what /api/embed returns for it)."""
    raw = hashlib.shake_256(text.encode()).digest(dim * 2)
    values = [(int.from_bytes(raw[i : i + 2], "big") / 32767.5) - 1.0 for i in range(0, dim * 2, 2)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _formatted_reply(text: str, fmt: Any) -> str:
    if isinstance(fmt, dict) and isinstance(fmt.get("properties"), dict):
        defaults = {"string": text, "integer": 42, "number": 4.2, "boolean": True, "array": [], "object": {}}
        obj = {
            k: defaults.get(str(v.get("type"))) for k, v in fmt["properties"].items() if isinstance(v, dict)
        }
        return json.dumps(obj)
    return json.dumps({"response": text})


_THINK_LEVELS = ("high", "medium", "low", "max")


def _tool_call_id() -> str:
    """``call_`` and 8 random lowercase letters/digits, as server/routes.go ``toolCallId``."""
    return "call_" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def _tool_call(tool: Any, arguments: dict[str, Any] | None) -> dict[str, Any]:
    fn = tool.get("function", tool) if isinstance(tool, dict) else {}
    name = str(fn.get("name", "tool"))
    if arguments is None:
        props = (fn.get("parameters") or {}).get("properties") or {}
        required = (fn.get("parameters") or {}).get("required") or list(props)
        samples = {"string": "Paris", "integer": 3, "number": 21.5, "boolean": True}
        arguments = {k: samples.get(str((props.get(k) or {}).get("type")), "Paris") for k in required}
    return {"id": _tool_call_id(), "function": {"index": 0, "name": name, "arguments": arguments}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (cancel, timeout, stop) is normal here; anything else is a fake bug.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handle_error(request, client_address)


class FakeOllama:
    """The fake server. Every attribute below may be changed while it runs."""

    def __init__(self, models: list[dict[str, Any]] | None = None, generation: str = "new") -> None:
        if generation not in ("new", "old"):
            raise ValueError("generation is 'new' (server >= 0.30, capabilities in /api/tags) or 'old'")
        self.generation = generation
        self.version = NEW_VERSION if generation == "new" else OLD_VERSION
        self.models: list[dict[str, Any]] = copy.deepcopy(models) if models is not None else default_models()
        self.pullable: dict[str, dict[str, Any]] = default_pullable()
        self.running: list[str] = []  # names /api/ps reports; chat and embed load models
        # Replies.
        self.reply_text = DEFAULT_REPLY
        self.thinking_text = DEFAULT_THINKING
        self.tool_arguments: dict[str, Any] | None = None  # None: made up from the tool's schema
        self.tool_script: Any = None  # a tests.fakes.tool_script.ToolScript: calls by round, then text
        self.ns_per_token = 25_000_000  # eval_duration per generated token (40 tokens/s)
        self.load_duration_ns = 12_345_678
        self.pull_steps = 5  # progress lines for the big layer of a pull
        self.extra_fields: dict[str, Any] = {}  # merged into every 200 JSON object reply
        # Pacing.
        self.chunk_delay = 0.0  # seconds between streamed lines
        self.delays: dict[str, float] = {}  # path (or "*") -> seconds before answering
        self.stream_gate: threading.Event | None = None  # when set, streams wait for it before the last line
        self.gate_timeout = 10.0
        # Fault modes: False/True, a path, or a set of paths ("*" = all).
        self.hang: bool | str | set[str] = False  # accept, never answer (until stop)
        self.malformed_json: bool | str | set[str] = False  # 200 with a body that is not JSON
        self.truncate_stream: bool | str | set[str] = False  # cut the connection mid-line
        self.error_midstream: bool | str | set[str] = False  # {"error"} line inside the 200 stream
        self.midstream_after = 2  # lines sent before either midstream fault strikes
        self.midstream_error = DEFAULT_MIDSTREAM_ERROR
        self.status_override: dict[str, Any] = {}  # path -> status | (status, body[, headers])
        self.broken_models: set[str] = set()  # /api/show answers 500 for these names
        # Cloud models (proxied to ollama.com): reachable, signed in and enabled unless set otherwise.
        self.cloud_reachable = True
        self.cloud_signed_in = True
        self.cloud_disabled = False
        self.signin_url = "https://ollama.com/connect?name=fakehost&key=c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJ"
        self.prefix = ""  # e.g. "/ollama": the API is served under this path only
        # (user, password) of a basic-auth reverse proxy in front (Ollama itself has no auth).
        self.basic_auth: tuple[str, str] | None = None
        # Counters.
        self.requests: Counter[str] = Counter()
        self.disconnects: Counter[str] = Counter()  # streams the client closed before their end
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_by_path: Counter[str] = Counter()
        self.max_in_flight_by_path: Counter[str] = Counter()
        self.connections_opened = 0
        self.last_bodies: dict[str, dict[str, Any]] = {}
        self.port = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()

    # ------------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running_server(self) -> bool:
        return self._server is not None

    def start(self, port: int | None = None) -> FakeOllama:
        """Start serving (again): on ``port``, else the port used before, else a random free one."""
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        server = _Server(("127.0.0.1", self.port if port is None else port), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.name = f"FakeOllama:{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop: hanging requests are released, open connections dropped, the port refuses connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        if self.stream_gate is not None:
            self.stream_gate.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self.disconnects.clear()
            self.max_in_flight = self.in_flight
            self.max_in_flight_by_path = Counter(self.in_flight_by_path)
            self.connections_opened = 0
            self.last_bodies.clear()

    # ------------------------------------------------------------------ models
    def find(self, name: str) -> dict[str, Any] | None:
        if not name:
            return None
        wanted = _normalize(name)
        for model in list(self.models):
            if model["name"] == wanted or model.get("model") == wanted:
                return model
        return None

    def add_model(self, model: dict[str, Any]) -> None:
        self._put(model)

    def remove_model(self, name: str) -> None:
        wanted = _normalize(name)
        with self._lock:
            self.models[:] = [m for m in self.models if m["name"] != wanted]

    def _put(self, model: dict[str, Any]) -> None:
        with self._lock:
            self.models[:] = [m for m in self.models if m["name"] != model["name"]] + [model]

    def _load(self, name: str) -> None:
        with self._lock:
            if name not in self.running:
                self.running.append(name)

    def _tags_entry(self, model: dict[str, Any]) -> dict[str, Any]:
        entry = {k: copy.deepcopy(v) for k, v in model.items() if k not in _PRIVATE}
        for key in ("remote_model", "remote_host"):  # both generations (since v0.12), omitted when empty
            if model.get(key):
                entry[key] = model[key]
        if self.generation == "new":
            if model["capabilities"]:  # `json:"capabilities,omitempty"`
                entry["capabilities"] = list(model["capabilities"])
            if model.get("context_length"):
                entry["details"]["context_length"] = model["context_length"]
            if model.get("embedding_length"):
                entry["details"]["embedding_length"] = model["embedding_length"]
        return entry

    def listed(self) -> list[dict[str, Any]]:
        """The models in ``/api/tags`` order: newest first (by ``modified_at``), as the real server lists."""
        return sorted(list(self.models), key=lambda m: str(m.get("modified_at", "")), reverse=True)

    def _show_body(self, model: dict[str, Any]) -> dict[str, Any]:
        arch = model.get("architecture") or model["details"]["family"]
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.file_type": 15,
            "general.parameter_count": model.get("parameter_count", 0),
            "general.quantization_version": 2,
        }
        if model.get("context_length"):
            info[f"{arch}.context_length"] = model["context_length"]
        if model.get("embedding_length"):
            info[f"{arch}.embedding_length"] = model["embedding_length"]
        params = model.get("parameters") or {}
        param_lines = []
        for key, value in params.items():
            for v in value if isinstance(value, list) else [value]:
                param_lines.append(f'{key:<30} "{v}"' if isinstance(v, str) else f"{key:<30} {v}")
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            f"FROM {model['name']}\n"
            f'TEMPLATE """{model.get("template", "")}"""\n'
        )
        body: dict[str, Any] = {
            "license": model.get("license", ""),
            "modelfile": modelfile,
            "parameters": "\n".join(param_lines),
            "template": model.get("template", ""),
            "details": dict(model["details"]),
            "model_info": info,
            "tensors": [],
            "capabilities": list(model["capabilities"]),
            "modified_at": model["modified_at"],
        }
        if model.get("system"):
            body["system"] = model["system"]
        for key in ("remote_model", "remote_host"):
            if model.get(key):
                body[key] = model[key]
        return body

    # ------------------------------------------------------------------ bookkeeping (handler threads)
    @staticmethod
    def _applies(fault: bool | str | set[str] | Iterable[str], path: str) -> bool:
        if isinstance(fault, bool):
            return fault
        if isinstance(fault, str):
            return fault in (path, "*")
        items = set(fault)
        return path in items or "*" in items

    def _pause(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _enter(self, path: str) -> None:
        with self._lock:
            self.requests[path] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.in_flight_by_path[path] += 1
            self.max_in_flight_by_path[path] = max(
                self.max_in_flight_by_path[path], self.in_flight_by_path[path]
            )

    def _leave(self, path: str) -> None:
        with self._lock:
            self.in_flight -= 1
            self.in_flight_by_path[path] -= 1

    def _client_gone(self, path: str) -> None:
        with self._lock:
            self.disconnects[path] += 1

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections_opened += 1
            self._conns.add(conn)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.discard(conn)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``condition`` (e.g. ``lambda: fake.disconnects["/api/pull"] > 0``) until true or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return condition()


def tiny_png_base64() -> str:
    """A 1x1 PNG, base64 (for vision requests)."""
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    return base64.b64encode(png).decode()


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A started fake Ollama (server >= 0.30: capabilities in /api/tags) with the default catalogue."""
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def fake_ollama_old() -> Iterator[FakeOllama]:
    """A started fake of an older Ollama (< 0.30): capabilities only from /api/show."""
    with FakeOllama(generation="old") as fake:
        yield fake


# -------------------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.ollama", description="Run the fake Ollama server."
    )
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--generation", choices=["new", "old"], default="new")
    parser.add_argument(
        "--models", type=int, default=None, help="serve N models (default: the 6-model catalogue)"
    )
    parser.add_argument("--chunk-delay", type=float, default=0.03, help="seconds between streamed lines")
    parser.add_argument("--reply", default=None, help="text /api/chat answers with")
    parser.add_argument("--thinking", default=None, help="what thinking models think ('' for nothing)")
    parser.add_argument("--chat-delay", type=float, default=0.0, help="seconds before /api/chat answers")
    args = parser.parse_args(argv)
    models = make_catalogue(args.models) if args.models is not None else None
    fake = FakeOllama(models, generation=args.generation)
    fake.chunk_delay = args.chunk_delay
    if args.reply:
        fake.reply_text = args.reply
    if args.thinking is not None:
        fake.thinking_text = args.thinking
    if args.chat_delay:
        fake.delays["/api/chat"] = args.chat_delay
    fake.start(port=args.port)
    print(f"fake Ollama {fake.version} ({len(fake.models)} models) listening on {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
