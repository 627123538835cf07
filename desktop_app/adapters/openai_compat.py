"""OpenAI-compatible services: OpenAI, Azure AI Foundry, OpenRouter, vLLM, LM Studio, llama.cpp, Ollama's /v1.

Wire protocol (OpenAI API reference):

- ``GET {base}/models`` → ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``
- ``POST {base}/chat/completions`` with ``stream: true`` and ``stream_options.include_usage`` → SSE:
  ``data: {chunk}`` lines (``choices[0].delta`` with ``content``, ``reasoning_content``/``reasoning``,
  ``tool_calls`` fragments by ``index``; ``finish_reason``), ``: comment`` lines, a last chunk with
  ``choices: []`` and ``usage``, then ``data: [DONE]``.
- ``POST {base}/embeddings`` → ``{"data": [{"index", "embedding": [...]}]}``
- errors: ``{"error": {"code", "message", ...}}`` (some servers send plain text or nothing).

The request building and reply parsing are small pure functions so that the GitHub Models adapter
(same inference API, other URLs and headers) reuses them. Error replies go through the mapping every
adapter shares (``_errors.py``); this adapter only adds what to say when no key is set.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource

from desktop_app import __version__
from desktop_app.adapters._errors import map_error, parse_error_body, sentence
from desktop_app.adapters._http import (
    aread_capped,
    client_timeout,
    listing_timeout,
    make_client,
    parse_json,
    request_capped,
    translate_errors,
    validate_base_url,
)
from desktop_app.core.categories import DEFAULT_RULES, CategoryRules, guess_publisher
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatMetrics, ChatOptions, ChatRequest, ToolCall
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    InvalidInput,
    ModelNotFound,
    RequestRejected,
    SourceError,
    StreamInterrupted,
    redact,
)
from desktop_app.core.limits import MAX_ERROR_BODY, MAX_LIST_BODY, MAX_REPLY_BODY, Timeouts
from desktop_app.core.models import ServingType, SourceConfig, SourceKind, UnifiedModel, model_id

__all__ = [
    "OpenAICompatBackend",
    "StreamState",
    "build_chat_payload",
    "build_embeddings_payload",
    "infer_capabilities",
    "message_to_wire",
    "options_to_wire",
    "parse_embeddings",
    "parse_model_list",
    "positive_int",
    "response_format_to_wire",
    "user_capabilities_for",
]

USER_AGENT = f"ModelDesk/{__version__}"

# ----------------------------------------------------------------------------------------------- requests


def options_to_wire(options: ChatOptions | None) -> dict[str, Any]:
    """ChatOptions → OpenAI body fields. ``top_k`` and ``num_ctx`` have no OpenAI name and are dropped."""
    if options is None:
        return {}
    out: dict[str, Any] = {}
    for name in ("temperature", "top_p", "max_tokens", "seed"):
        value = getattr(options, name)
        if value is not None:
            out[name] = value
    if options.stop:
        out["stop"] = list(options.stop)
    return out


def response_format_to_wire(response_format: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """``"json"`` → json_object; a JSON schema (or ``{"name", "schema"}``) → json_schema; "text" → None."""
    if response_format is None:
        return None
    if isinstance(response_format, str):
        kind = response_format.strip().lower()
        if kind in ("", "text"):
            return None
        if kind in ("json", "json_object"):
            return {"type": "json_object"}
        raise InvalidInput(
            f"Unknown response format {response_format!r}: use 'text', 'json' or a JSON schema."
        )
    fmt = dict(response_format)
    if fmt.get("type") in ("json_object", "text"):
        return fmt
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        return fmt
    if isinstance(fmt.get("schema"), dict):
        # .prompt.yml's jsonSchema ({"name", "schema", "strict"?, "description"?, ...}): sent as
        # written, as gh sends it; only a missing name gets one (the API requires it).
        return {"type": "json_schema", "json_schema": {**fmt, "name": str(fmt.get("name") or "response")}}
    # A bare JSON schema.
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(fmt.get("title") or "response"))[:64] or "response"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": fmt}}


_IMAGE_MAGIC = (
    ("iVBOR", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
)


def _image_url(image: str) -> str:
    if image.startswith(("data:", "http://", "https://")):
        return image
    mime = next((m for prefix, m in _IMAGE_MAGIC if image.startswith(prefix)), "image/png")
    return f"data:{mime};base64,{image}"


def message_to_wire(message: ChatMessage) -> dict[str, Any]:
    """One message without tool-call ids (see ``messages_to_wire`` for those)."""
    out: dict[str, Any] = {"role": message.role}
    if message.images:
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts.extend({"type": "image_url", "image_url": {"url": _image_url(img)}} for img in message.images)
        out["content"] = parts
    else:
        out["content"] = message.content
    return out


def messages_to_wire(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages with tool calls wired up: each assistant tool call gets an id, and each tool reply the
    ``tool_call_id`` it names, else that of the oldest unanswered call with its ``tool_name`` (else the
    oldest unanswered)."""
    wire: list[dict[str, Any]] = []
    pending: list[tuple[str, str]] = []  # (id, name) of calls not answered yet
    for n, msg in enumerate(messages):
        item = message_to_wire(msg)
        if msg.role == "assistant" and msg.tool_calls:
            calls = []
            for i, call in enumerate(msg.tool_calls):
                call_id = call.id or f"call_{n}_{i}"
                pending.append((call_id, call.name))
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                )
            item["tool_calls"] = calls
            if not msg.content:
                item["content"] = None
        elif msg.role == "tool":
            match = next((p for p in pending if msg.tool_call_id and p[0] == msg.tool_call_id), None)
            if match is None:
                match = next((p for p in pending if msg.tool_name and p[1] == msg.tool_name), None)
            if match is None and pending:
                match = pending[0]
            if match is not None:
                pending.remove(match)
                item["tool_call_id"] = match[0]
            if msg.tool_name:
                item["name"] = msg.tool_name
        wire.append(item)
    return wire


def build_chat_payload(request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions``."""
    body: dict[str, Any] = {"model": request.model, "messages": messages_to_wire(request.messages)}
    body.update(options_to_wire(request.options))
    if request.tools:
        body["tools"] = [dict(t) for t in request.tools]
    fmt = response_format_to_wire(request.response_format)
    if fmt is not None:
        body["response_format"] = fmt
    if isinstance(request.think, str):
        level = request.think.strip().lower()
        # OpenAI's reasoning_effort stops at "high": Ollama's "max" asks for the most there is.
        level = "high" if level == "max" else level
        if level in ("low", "medium", "high"):
            body["reasoning_effort"] = level
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def build_embeddings_payload(model: str, inputs: Sequence[str]) -> dict[str, Any]:
    return {"model": model, "input": list(inputs)}


# ----------------------------------------------------------------------------------------------- replies

_REASONING_TOKENS = {"o1", "o3", "o4", "r1", "qwq"}
_VISION_MARKERS = ("vision", "-vl", "4o", "llava", "pixtral")


def infer_capabilities(remote_id: str) -> list[str]:
    """Capabilities (Ollama vocabulary) guessed from a bare model name, for servers without metadata."""
    name = remote_id.lower()
    if "embed" in name:
        return ["embedding"]
    caps = ["completion"]
    if any(marker in name for marker in _VISION_MARKERS):
        caps.append("vision")
    tokens = {t for t in re.split(r"[-_/:.\s]+", name) if t}
    o_series = any(t[:2] in ("o1", "o3", "o4") and t[2:] in ("mini", "pro") for t in tokens)
    if tokens & _REASONING_TOKENS or o_series or "reason" in name or "think" in name:
        caps.append("thinking")
    return caps


def user_capabilities_for(config: SourceConfig, remote_id: str) -> list[str] | None:
    """Capabilities the user set for a model in the source's settings:
    ``options = {"capabilities": {"<remote id>": ["vision", "tools"]}}``."""
    table = config.options.get("capabilities")
    if not isinstance(table, Mapping):
        return None
    caps = table.get(remote_id)
    if isinstance(caps, str):
        caps = [caps]
    if not isinstance(caps, list):
        return None
    return [str(c).strip().lower() for c in caps if str(c).strip()]


def parse_model_list(data: Any, *, source: str) -> list[dict[str, Any]]:
    """``{"data": [...]}`` (or a bare list) → the entries that have a string ``id``."""
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise BadResponse(f"{source}: the model list has no 'data' array.", source=source)
    return [x for x in items if isinstance(x, dict) and isinstance(x.get("id"), str) and x["id"].strip()]


def parse_embeddings(data: Any, *, source: str, expected: int) -> list[list[float]]:
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise BadResponse(f"{source}: the embeddings reply has no 'data' array.", source=source)
    try:
        ordered = sorted(items, key=lambda x: int(x.get("index", 0)))
        vectors = [[float(v) for v in item["embedding"]] for item in ordered]
    except (TypeError, ValueError, KeyError, AttributeError):
        raise BadResponse(
            f"{source}: the embeddings reply is not a list of number vectors.", source=source
        ) from None
    if len(vectors) != expected:
        raise BadResponse(f"{source}: asked for {expected} embeddings and got {len(vectors)}.", source=source)
    return vectors


def _parse_arguments(text: str) -> tuple[dict[str, Any], str | None]:
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}, text
    if isinstance(value, dict):
        return value, None
    return {"value": value}, None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


@dataclass
class StreamState:
    """Folds streamed chat-completion chunks into ChatChunks; keeps the text so far for interruptions."""

    content: str = ""
    thinking: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    done_seen: bool = False
    whole: bool = False  # a whole (non-streamed) reply: complete as a JSON document
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    calls: dict[int, _PartialCall] = field(default_factory=dict)

    def feed(self, chunk: Mapping[str, Any]) -> ChatChunk | None:
        """One decoded ``data:`` object → a ChatChunk with what it added (None when it added nothing)."""
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            if isinstance(usage.get("prompt_tokens"), int):
                self.prompt_tokens = usage["prompt_tokens"]
            if isinstance(usage.get("completion_tokens"), int):
                self.completion_tokens = usage["completion_tokens"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return None
        choice = next((c for c in choices if isinstance(c, Mapping) and c.get("index", 0) == 0), None)
        if choice is None:
            return None
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta: Mapping[str, Any] = {}
        for key in ("delta", "message"):  # "message" when a server answered without streaming
            if isinstance(choice.get(key), Mapping):
                delta = choice[key]
                break
        content = _text(delta.get("content"))
        thinking = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
        for n, frag in enumerate(delta.get("tool_calls") or []):
            if not isinstance(frag, Mapping):
                continue
            index = frag.get("index", n)
            call = self.calls.setdefault(index if isinstance(index, int) else n, _PartialCall())
            if frag.get("id"):
                call.id = str(frag["id"])
            fn = frag.get("function")
            if isinstance(fn, Mapping):
                if fn.get("name") and not call.name:
                    call.name = str(fn["name"])
                if isinstance(fn.get("arguments"), str):
                    call.arguments += fn["arguments"]
                elif isinstance(fn.get("arguments"), Mapping):
                    call.arguments = json.dumps(fn["arguments"])
        if (content or thinking or self.calls) and self.first_token is None:
            self.first_token = time.perf_counter()
        self.content += content
        self.thinking += thinking
        if not content and not thinking:
            return None
        return ChatChunk(content=content, thinking=thinking)

    @property
    def complete(self) -> bool:
        """True when the server said why the reply stopped (a ``finish_reason``), or sent it whole.

        ``[DONE]`` alone is not enough: llama-cpp-python ends a stream it interrupts (another request
        came in) with ``[DONE]`` and no finish_reason, and that reply is cut short."""
        return self.finish_reason is not None or self.whole

    def tool_calls(self) -> list[ToolCall]:
        out = []
        for _, call in sorted(self.calls.items()):
            if not call.name:
                continue
            args, raw = _parse_arguments(call.arguments)
            extra = {"raw_arguments": raw} if raw is not None else {}
            out.append(ToolCall(id=call.id, name=call.name, arguments=args, **extra))
        return out

    def final(self) -> ChatChunk:
        end = time.perf_counter()
        metrics = ChatMetrics(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            done_reason=self.finish_reason,  # only what the server said
            total_s=end - self.started,
            ttft_s=(self.first_token - self.started) if self.first_token is not None else None,
        )
        if self.completion_tokens and self.first_token is not None and end > self.first_token:
            metrics.tokens_per_s = self.completion_tokens / (end - self.first_token)
        return ChatChunk(done=True, tool_calls=self.tool_calls(), metrics=metrics)


# ----------------------------------------------------------------------------------------------- errors

_STOPPED_HINT = (
    "Check that the server is still running (it may have crashed or restarted), then try again; "
    "`modeldesk eval --resume RUN` runs such cases again."
)


def _closed_mid_request(exc: httpx.HTTPError) -> bool:
    """The peer closed the connection after our request went out (not broken HTTP, not a refusal)."""
    if isinstance(exc, httpx.ReadError):
        return True
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc).lower()
        return "disconnected" in text or "peer closed" in text or "incomplete" in text
    return False


# ----------------------------------------------------------------------------------------------- backend


class OpenAICompatBackend:
    """A source speaking the OpenAI API, on one long-lived httpx.AsyncClient."""

    kind = SourceKind.OPENAI_COMPAT

    def __init__(
        self,
        config: SourceConfig,
        *,
        api_key: str | None,
        rules: CategoryRules = DEFAULT_RULES,
        client: httpx.AsyncClient | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.config = config
        self.rules = rules
        self.timeouts = Timeouts.from_options(config.options)
        self._api_key = api_key.strip() if api_key and api_key.strip() else None
        self._url_error: InvalidInput | None = None
        try:
            self.base = validate_base_url(self._raw_base_url())
        except InvalidInput as exc:  # reported on first use, so one bad source never stops a sync
            self._url_error = InvalidInput(f"{config.name}: {exc.message}", hint="Fix the source's URL.")
            self.base = ""
        self.host = urlsplit(self.base).netloc or self.base or config.name
        self._owns_client = client is None
        # Credentials the user gave in the URL are basic auth; a key (Bearer) takes the header instead.
        auth = basic_auth if self._api_key is None else None
        self._client = (
            client
            if client is not None
            else make_client(
                self.base or "http://invalid.invalid", timeout=client_timeout(self.timeouts), auth=auth
            )
        )

    def __repr__(self) -> str:  # never shows the key
        return f"{type(self).__name__}(name={self.config.name!r}, base={self.base!r})"

    # -- hooks the GitHub Models adapter overrides
    def _raw_base_url(self) -> str:
        return self.config.base_url

    def _models_url(self) -> str:
        return f"{self.base}/models"

    def _chat_url(self) -> str:
        return f"{self.base}/chat/completions"

    def _embeddings_url(self) -> str:
        return f"{self.base}/embeddings"

    def _headers(self, *, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _check_ready(self) -> None:
        if self._url_error is not None:
            raise self._url_error

    def _error(
        self, status: int, headers: Mapping[str, str], body: bytes | str, model: str | None
    ) -> SourceError:
        ref = self.config.key_ref or self.config.name
        error = map_error(
            status,
            headers,
            body,
            source=self.config.name,
            host=self.host,
            model=model,
            secrets=[self._api_key],
            hints={AuthError: f"Set a valid key with `modeldesk key set {ref}`."},
        )
        if self._api_key:
            return error
        # No key was sent: a refusal means "set one", and any other failure may be a proxy (LiteLLM)
        # that answers a missing key with a 4xx/5xx of its own.
        set_it = f"No key is set for {self.config.name}; if the server needs one, set it with `modeldesk key set {ref}`."
        if isinstance(error, AuthError):
            server = redact(parse_error_body(body).message, [self._api_key])
            said = sentence(f": {server}") if server else "."
            return AuthError(
                f"{self.config.name}: no key is set, and {self.host} refused the request "
                f"({status or 'error'}){said}",
                source=self.config.name,
                status_code=error.status_code,
                hint=f"Set the key with `modeldesk key set {ref}`.",
            )
        if isinstance(error, RequestRejected | BadResponse):
            error.hint = f"{set_it} {error.hint}".strip()
        return error

    # -- helpers
    def _raise_transport(self, exc: httpx.HTTPError) -> NoReturn:
        """Re-raise an httpx failure as a core error; never lets a bare httpx exception out.

        A connection closed after the request went out (the server process was killed, or restarted)
        says the server stopped answering, not that it is the wrong kind of server: retryable."""
        if _closed_mid_request(exc):  # a StreamInterrupted (retryable) with nothing received
            raise StreamInterrupted(
                f"{self.config.name} stopped answering mid-reply ({self.host} closed the connection "
                "without a reply).",
                source=self.config.name,
                hint=_STOPPED_HINT,
            ) from None
        try:
            with translate_errors(self.config.name, self.base):
                raise exc
        except httpx.HTTPError:
            raise BadResponse(
                f"{self.config.name}: {self.host} sent a reply that could not be read "
                f"({type(exc).__name__}).",
                source=self.config.name,
            ) from None

    async def _request_json(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        model: str | None,
        what: str,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_REPLY_BODY,
        listing: bool = False,
    ) -> Any:
        """A whole JSON reply read up to ``max_bytes``; ``listing`` requests (a sync's) wait at most
        the source's sync timeout for a byte."""
        self._check_ready()
        hdrs = {**self._headers(), **(headers or {})}
        try:
            resp = await request_capped(
                self._client,
                method,
                url,
                source=self.config.name,
                max_bytes=max_bytes,
                json=json_body,
                headers=hdrs,
                timeout=listing_timeout(self.timeouts) if listing and self._owns_client else None,
            )
        except httpx.HTTPError as exc:
            self._raise_transport(exc)
        if resp.status_code >= 400:
            raise self._error(resp.status_code, resp.headers, resp.content, model)
        if resp.status_code != 200:
            raise BadResponse(
                f"{self.config.name}: {what} answered {resp.status_code}, expected 200.",
                source=self.config.name,
                status_code=resp.status_code,
            )
        return parse_json(resp.content, source=self.config.name, what=what)

    # -- ModelBackend
    async def version(self) -> str | None:
        """OpenAI-compatible servers have no version endpoint."""
        self._check_ready()
        return None

    async def list_models(self) -> list[UnifiedModel]:
        try:
            data = await self._request_json(
                "GET",
                self._models_url(),
                model=None,
                what="the model list",
                max_bytes=MAX_LIST_BODY,
                listing=True,
            )
        except ModelNotFound:
            raise RequestRejected(
                f"{self.config.name}: {self.host} has no model list at {urlsplit(self._models_url()).path}.",
                source=self.config.name,
                status_code=404,
                hint="An OpenAI-compatible base URL usually ends in /v1 (e.g. http://host:8000/v1).",
            ) from None
        return [self._to_model(entry) for entry in parse_model_list(data, source=self.config.name)]

    def _to_model(self, entry: Mapping[str, Any]) -> UnifiedModel:
        remote_id = str(entry["id"]).strip()
        user = user_capabilities_for(self.config, remote_id)
        info = model_info_of(entry)
        caps = user if user is not None else capabilities_from_info(info, infer_capabilities(remote_id))
        publisher = guess_publisher(remote_id)
        catalog_id = remote_id if "/" in remote_id or publisher is None else f"{publisher}/{remote_id}"
        categories = self.rules.for_remote(catalog_id, caps)
        owner = entry.get("owned_by")
        endpoint = self._embeddings_url() if "embedding" in caps else self._chat_url()
        return UnifiedModel(
            id=model_id(self.config.name, remote_id),
            name=remote_id,
            remote_id=remote_id,
            provider=self.config.name,
            source=self.kind,
            serving_type=ServingType.REMOTE,
            category=categories[0],
            categories=categories,
            capabilities=caps,
            user_capabilities=user,
            remote_endpoint=endpoint,
            publisher=publisher or (str(owner) if isinstance(owner, str) and owner else None),
            context_length=positive_int(
                entry.get("context_length") or entry.get("max_model_len") or info.get("max_input_tokens")
            ),
            max_output_tokens=positive_int(info.get("max_output_tokens")),
        )

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self._check_ready()
        model = request.model
        payload = build_chat_payload(request)
        state = StreamState()
        streaming = False
        source = self.config.name
        try:
            async with self._client.stream(
                "POST", self._chat_url(), json=payload, headers=self._headers(accept="text/event-stream")
            ) as resp:
                if resp.status_code >= 400:
                    body = await aread_capped(resp, source=source, max_bytes=MAX_ERROR_BODY)
                    raise self._error(resp.status_code, resp.headers, body, model)
                ctype = resp.headers.get("content-type", "").partition(";")[0].strip().lower()
                if ctype == "application/json":  # the server ignored stream=true: one whole completion
                    body = await aread_capped(resp, source=source, max_bytes=MAX_REPLY_BODY)
                    data = parse_json(body, source=source, what="the chat reply")
                    for chunk in self._whole_reply(data, state, model):
                        yield chunk
                    return
                if ctype != "text/event-stream":
                    raise BadResponse(
                        f"{source}: the chat reply from {self.host} is {ctype or 'untyped'}, "
                        "not an event stream.",
                        source=source,
                        status_code=resp.status_code,
                    )
                streaming = True
                async for event in EventSource(resp).aiter_sse():
                    data_text = event.data.strip()
                    if not data_text:
                        continue
                    if data_text == "[DONE]":
                        state.done_seen = True
                        break
                    try:
                        obj = json.loads(data_text)
                    except (ValueError, RecursionError):
                        raise StreamInterrupted(
                            f"{source}: {self.host} sent an unreadable event mid-reply.",
                            partial=state.content,
                            source=source,
                        ) from None
                    if not isinstance(obj, dict):
                        continue
                    if obj.get("error"):
                        raise self._error(0, {}, json.dumps({"error": obj["error"]}), model)
                    out = state.feed(obj)
                    if out is not None:
                        yield out
        except httpx.HTTPError as exc:
            if streaming:
                raise StreamInterrupted(
                    f"{source} stopped answering mid-reply ({self.host} closed the connection "
                    f"after {len(state.content)} characters).",
                    partial=state.content,
                    source=source,
                    hint=_STOPPED_HINT,
                ) from None
            self._raise_transport(exc)
        if not state.complete:
            how = "ended the stream with [DONE]" if state.done_seen else "closed the stream"
            raise StreamInterrupted(
                f"{source}: {self.host} {how} without saying why the reply stopped (no finish_reason), "
                f"after {len(state.content)} characters: the reply was cut short.",
                partial=state.content,
                source=source,
                hint="Servers that run one request at a time (llama-cpp-python) cut a reply short when "
                "another request comes in: send one request at a time to this source "
                "(`modeldesk eval --concurrency 1`, or its `concurrency` setting), then try again.",
            )
        yield state.final()

    def _whole_reply(self, data: Any, state: StreamState, model: str) -> list[ChatChunk]:
        if not isinstance(data, dict):
            raise BadResponse(
                f"{self.config.name}: the chat reply is not a JSON object.", source=self.config.name
            )
        if data.get("error"):
            raise self._error(0, {}, json.dumps({"error": data["error"]}), model)
        out = state.feed(data)
        state.whole = True
        return [c for c in (out, state.final()) if c is not None]

    async def embed(self, model: str, inputs: Sequence[str]) -> list[list[float]]:
        texts = list(inputs)
        if not texts:
            return []
        data = await self._request_json(
            "POST",
            self._embeddings_url(),
            json_body=build_embeddings_payload(model, texts),
            model=model,
            what="the embeddings reply",
        )
        return parse_embeddings(data, source=self.config.name, expected=len(texts))

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def model_info_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """LiteLLM's model-info extras of a ``/v1/models`` entry, at the top level or under ``model_info``."""
    info: dict[str, Any] = {}
    nested = entry.get("model_info")
    if isinstance(nested, Mapping):
        info.update(nested)
    info.update({k: v for k, v in entry.items() if k in _MODEL_INFO_KEYS})
    return info


_MODEL_INFO_KEYS = (
    "mode",
    "max_input_tokens",
    "max_output_tokens",
    "supports_vision",
    "supports_function_calling",
    "supports_reasoning",
)


def capabilities_from_info(info: Mapping[str, Any], guessed: list[str]) -> list[str]:
    """Capabilities from LiteLLM's ``mode`` and ``supports_*`` flags, over those guessed from the name."""
    mode = str(info.get("mode") or "").strip().lower()
    if mode == "embedding":
        return ["embedding"]
    caps = list(guessed)
    if mode in ("chat", "completion", "responses") and "embedding" in caps:
        caps = ["completion"]
    for flag, cap in (
        ("supports_vision", "vision"),
        ("supports_function_calling", "tools"),
        ("supports_reasoning", "thinking"),
    ):
        if info.get(flag) is True and cap not in caps:
            caps.append(cap)
    return caps


def positive_int(value: Any) -> int | None:
    """A positive whole number from a loosely typed JSON value (bools, zero and junk → None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None
