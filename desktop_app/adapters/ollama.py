"""Ollama adapter: speaks the native Ollama HTTP API (``/api/*``) with httpx on one long-lived client.

Facts this follows (ollama/ollama ``docs/api.md``; see ``/work/shared/API-NOTES.md``):

- Streaming endpoints answer NDJSON, one object per line; durations are nanoseconds.
- Errors are ``{"error": "..."}``: before output with a 4xx/5xx status, but **after a stream started
  the status stays 200 and the error arrives as an NDJSON line**.
- ``/api/tags`` entries carry ``capabilities`` from server v0.30; older servers need one ``/api/show``
  per model, which runs here with bounded concurrency on the same client.
- Closing a pull's connection cancels it on the server: closing the ``pull()`` iterator (or cancelling
  the task that reads it) closes the response, and with it the connection.

Every httpx failure becomes a core error raised ``from None`` (the shared mapping in ``_errors.py``,
in Ollama's words); no bare httpx exception escapes. The wire types are in ``ollama_wire.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing, suppress
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeGuard, TypeVar
from urllib.parse import urlsplit

import httpx
from httpx._client import USE_CLIENT_DEFAULT
from pydantic import BaseModel, TypeAdapter, ValidationError

from desktop_app.adapters._errors import ErrorBody, ErrorReply, Hints, map_reply
from desktop_app.adapters._http import (
    aread_capped,
    client_timeout,
    listing_timeout,
    make_client,
    nesting_within,
    on_reply,
    parse_json,
    request_capped,
    too_large,
    translate_errors,
    validate_base_url,
)
from desktop_app.adapters._json_stream import ArrayStream, Broken, Unexpected
from desktop_app.adapters.ollama_wire import ChatRequest as WireChatRequest
from desktop_app.adapters.ollama_wire import (
    ChatResponseChunk,
    CopyRequest,
    CreateRequest,
    DeleteRequest,
    EmbedRequest,
    EmbedResponse,
    ModelDetails,
    PsResponse,
    PullRequest,
    RunningModel,
    ShowRequest,
    ShowResponse,
    StatusLine,
    TagsModel,
    TagsResponse,
    VersionResponse,
    WireMessage,
    WireToolCall,
    WireToolFunction,
)
from desktop_app.core.categories import DEFAULT_RULES, CategoryRules, guess_publisher
from desktop_app.core.chat import (
    THINK_LEVELS,
    ChatChunk,
    ChatMessage,
    ChatMetrics,
    ChatOptions,
    ChatRequest,
    PullProgress,
    ToolCall,
)
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    InvalidInput,
    ModelNotFound,
    RequestRejected,
    ServiceRetired,
    SourceError,
    SourceUnavailable,
    StreamInterrupted,
)
from desktop_app.core.limits import (
    MAX_ERROR_BODY,
    MAX_LIST_BODY,
    MAX_REPLY_BODY,
    MAX_SHOW_BODY,
    MAX_STREAMED_LIST_BODY,
    Timeouts,
)
from desktop_app.core.models import ModelStatus, ServingType, SourceConfig, SourceKind, UnifiedModel, model_id
from desktop_app.core.stored import (
    StoredModel,
    json_int,
    json_opt_str,
    json_str,
    json_str_list,
    marks,
    search_text,
    stored_model,
)
from desktop_app.core.units import format_bytes

__all__ = ["OllamaBackend"]

CLOUD_HOST = "https://ollama.com:443"
_BUILD_SLICE = 50  # models built between two turns of the event loop
_NS = 1e9

_M = TypeVar("_M", bound=BaseModel)

# ------------------------------------------------------------------------------------------ helpers


def _options(options: ChatOptions | None) -> dict[str, Any] | None:
    """ChatOptions → Ollama ``options`` (``max_tokens`` is ``num_predict`` there)."""
    if options is None:
        return None
    data = options.model_dump(exclude_none=True)
    if "max_tokens" in data:
        data["num_predict"] = data.pop("max_tokens")
    return data or None


def _wire_message(message: ChatMessage) -> WireMessage:
    calls = [
        WireToolCall(id=c.id, function=WireToolFunction(name=c.name, arguments=c.arguments))
        for c in message.tool_calls
    ]
    return WireMessage(
        role=message.role,
        content=message.content,
        images=list(message.images) or None,
        thinking=message.thinking or None,
        tool_calls=calls or None,
        tool_name=message.tool_name,
    )


def _tool_call(call: WireToolCall) -> ToolCall:
    args: Any = call.function.arguments
    if isinstance(args, str):  # some proxies send OpenAI-style JSON strings
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            args = {"_raw": args}
        if not isinstance(args, dict):
            args = {"_value": args}
    return ToolCall(id=call.id, name=call.function.name, arguments=args)


def _seconds(ns: int | None) -> float | None:
    return None if ns is None else ns / _NS


def _metrics(chunk: ChatResponseChunk) -> ChatMetrics:
    tps = None
    if chunk.eval_count is not None and chunk.eval_duration:
        tps = chunk.eval_count / chunk.eval_duration * _NS
    return ChatMetrics(
        prompt_tokens=chunk.prompt_eval_count,
        completion_tokens=chunk.eval_count,
        tokens_per_s=tps,
        total_s=_seconds(chunk.total_duration),
        load_s=_seconds(chunk.load_duration),
        done_reason=chunk.done_reason,
    )


def _format(response_format: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
    if isinstance(response_format, dict):
        # Ollama takes the bare schema; a .prompt.yml jsonSchema wraps it as {"name", "schema", ...}.
        schema = response_format.get("schema")
        return schema if isinstance(schema, dict) else response_format
    if response_format is None:
        return None
    fmt = response_format.strip().lower()
    if fmt in ("", "text"):
        return None
    if fmt in ("json", "json_object"):
        return "json"
    raise InvalidInput(f"Unknown response format {response_format!r}: use 'json' or a JSON schema.")


def _think(think: bool | str | None) -> bool | str | None:
    if think is None or isinstance(think, bool):
        return think
    level = think.strip().lower()
    if level not in THINK_LEVELS:
        raise InvalidInput(f"think must be true, false or one of {', '.join(THINK_LEVELS)}; got {think!r}.")
    return level


def is_cloud_model(name: str, remote_model: str | None = None, remote_host: str | None = None) -> bool:
    """An Ollama cloud model: a local stub (a few hundred bytes) whose requests the daemon passes to
    ollama.com. Listed with ``remote_model``/``remote_host`` (since v0.12), named ``…-cloud``/``…:cloud``."""
    return bool(remote_model or remote_host) or name.lower().endswith(("-cloud", ":cloud"))


_SIGNIN_HINT = "Sign this Ollama host in to ollama.com: run `ollama signin` on the machine it runs on"
_CLOUD_DISABLED_HINT = (
    "Cloud models are turned off on this Ollama host (OLLAMA_NO_CLOUD, or disable_ollama_cloud in "
    "~/.ollama/server.json); turn them back on there, or pick a local model."
)
_CLOUD_UNREACHABLE_HINT = (
    "This Ollama host could not reach ollama.com, where cloud models run; check its internet connection. "
    "Its local models still work."
)


_PROXY_AUTH_HINT = (
    "Ollama itself asks for no key: a proxy in front of this host refused the request. Check the "
    "source's URL, or the proxy."
)


def _auth_hint(response: httpx.Response, message: str) -> str:
    """What to do about a 401/403. Ollama has no keys of its own: its 401/403 are about ollama.com (a
    cloud model: sign in, or cloud is turned off); anything else comes from a proxy in front of it."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return _PROXY_AUTH_HINT
    if "cloud is disabled" in message.lower():
        return _CLOUD_DISABLED_HINT
    url = body.get("signin_url")
    if isinstance(url, str) and url.startswith("https://"):
        return f"{_SIGNIN_HINT}, or open {url}."
    return _SIGNIN_HINT + "."


def _hostname(url: str | None) -> str | None:
    try:
        return urlsplit(url).hostname if url else None
    except ValueError:  # a malformed remote_host from the server must not fail the sync
        return None


_STR, _STR_OR_NONE, _INT_OR_NONE = (
    frozenset({str}),
    frozenset({str, type(None)}),
    frozenset({int, type(None)}),
)
_new_row = tuple.__new__  # a StoredModel from a tuple, without NamedTuple's Python-level __new__


def _fast_description(
    family: str | None,
    psize: str | None,
    quant: str | None,
    where: str,
    context_length: int | None,
    caps: str,
) -> str:
    """``_describe``'s text from plain values (``where``: the cloud or on-disk part, or "")."""
    head = (
        f"{family} {psize} {quant}"
        if family and psize and quant
        else " ".join(filter(None, (family, psize, quant)))
    )
    ctx = f"{context_length:,} token context" if context_length else ""
    return " · ".join(filter(None, (head, where, ctx, caps)))


class _CapsPart(NamedTuple):
    """What a fast row takes from its capability set, worked out once per set: the indexed columns and
    the JSON from ``"category"`` to ``"capabilities"`` (``UnifiedModel``'s field order)."""

    category: str
    categories: str
    capabilities: str
    described: str  # the description's capability part
    json: str

    @classmethod
    def of(cls, caps: list[str], cats: list[str], *, cloud: bool) -> _CapsPart:
        return cls(
            cats[0],
            marks(cats),
            marks(caps),
            ", ".join(caps),
            f'"category":{json_str(cats[0])},"categories":{json_str_list(cats)},"model_type":"base",'
            f'"source":"ollama","serving_type":"{"hybrid" if cloud else "local"}",'
            f'"capabilities":{json_str_list(caps)},',
        )


# ------------------------------------------------------------------------------------------ backend


class OllamaBackend:
    """One Ollama host. ``model`` arguments are Ollama names (``llama3.2:latest``).

    A ``client`` passed in is used as is (its base URL does not matter: requests use absolute URLs)
    and is not closed by ``aclose``; otherwise one client is made on first use and closed there.
    """

    def __init__(
        self,
        config: SourceConfig,
        *,
        rules: CategoryRules = DEFAULT_RULES,
        client: httpx.AsyncClient | None = None,
        show_concurrency: int = 4,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.config = config
        self.timeouts = Timeouts.from_options(config.options)
        self._basic_auth = basic_auth
        self.rules = rules
        self.show_concurrency = max(1, show_concurrency)
        self._client = client
        self._owns_client = client is None
        self._base: str | None = None
        self._caps_seen: dict[tuple[Any, ...], _CapsPart] = {}
        self._jprovider = json_str(config.name)
        self._id_prefix = model_id(config.name, "")
        self._jendpoint = json_str(config.base_url)

    # ------------------------------------------------------------------ plumbing
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def base_url(self) -> str:
        if self._base is None:
            self._base = validate_base_url(self.config.base_url)
        return self._base

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(
                self.base_url, timeout=client_timeout(self.timeouts), auth=self._basic_auth
            )
        return self._client

    def _url(self, path: str) -> str:
        return self.base_url + path

    def _errors(self) -> Any:
        return translate_errors(self.name, self.config.base_url)

    def _validate(self, cls: type[_M], data: Any, what: str) -> _M:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "top level"
            raise BadResponse(
                f"{self.name}: the reply to {what} has the wrong shape ({loc}: {err['msg']}).",
                source=self.name,
            ) from None

    def _error_message(self, response: httpx.Response) -> str:
        text = response.content.decode("utf-8", "replace").strip()
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, str) and err:
                return err
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                return str(err["message"])
        if text and len(text) < 300 and "<" not in text:
            return text
        return response.reason_phrase or f"HTTP {response.status_code}"

    def _classify(self, message: str, status: int | None) -> SourceError | None:
        """A specific error for a server message alone (a capability the model lacks, a missing model),
        whatever the status, in Ollama's words; None if the message says nothing specific."""
        reply = ErrorReply(0, {}, ErrorBody(message=message, is_json=True), message, self.name, self.name)
        error = map_reply(reply, text=f"{self.name}: {message}")
        if isinstance(error, RequestRejected):
            return None
        error.status_code = status
        return error

    def _status_error(self, response: httpx.Response, what: str) -> SourceError:
        """The shared mapping, in Ollama's words; its own hints for ollama.com sign-in (401/403) and for
        a cloud model whose ollama.com is out of reach (5xx)."""
        status = response.status_code
        message = self._error_message(response)
        specific = self._classify(message, status)
        if specific is not None:
            return specific
        text = f"{self.name}: {what} failed: {message} (HTTP {status})."
        if status >= 500 and "ollama.com" in message:
            return SourceUnavailable(text, source=self.name, status_code=status, hint=_CLOUD_UNREACHABLE_HINT)
        reply = ErrorReply.read(status, response.headers, response.content, source=self.name, host=self.name)
        hints: Hints = {AuthError: _auth_hint(response, message), ModelNotFound: None, ServiceRetired: None}
        return map_reply(reply, text=text, hints=hints)

    async def _request(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        max_bytes: int = MAX_REPLY_BODY,
        listing: bool = False,
    ) -> httpx.Response:
        """One whole reply, read up to ``max_bytes``; ``listing`` requests (a sync's) wait at most
        the source's sync timeout for a byte."""
        payload = body.model_dump(exclude_none=True, by_alias=True) if body is not None else None
        url = self._url(path)
        client = self._http()
        # A client passed in keeps its own timeouts (tests, callers that chose them).
        timeout = listing_timeout(self.timeouts) if listing and self._owns_client else None
        with self._errors():
            response = await request_capped(
                client, method, url, source=self.name, max_bytes=max_bytes, json=payload, timeout=timeout
            )
        if response.status_code >= 400:
            raise self._status_error(response, f"{method} {path}")
        return response

    async def _json(
        self,
        method: str,
        path: str,
        cls: type[_M],
        body: BaseModel | None = None,
        *,
        max_bytes: int = MAX_REPLY_BODY,
        listing: bool = False,
    ) -> _M:
        response = await self._request(method, path, body, max_bytes=max_bytes, listing=listing)
        data = parse_json(response.content, source=self.name, what=f"the reply to {path}")
        return self._validate(cls, data, path)

    async def _ndjson(
        self,
        path: str,
        body: BaseModel,
        generic_error: Callable[[str], SourceError],
        is_final: Callable[[dict[str, Any]], bool],
    ) -> AsyncGenerator[dict[str, Any], None]:
        """POST and yield each NDJSON object up to the final one (``is_final``). Errors before the
        stream: mapped from the status; an ``{"error"}`` line: ``_classify`` or ``generic_error``; a cut
        or broken stream: StreamInterrupted (partial left empty for the caller to fill).

        The body is read to its end before the final object is yielded, so the connection goes back
        to the pool even when the caller stops right there."""
        payload = body.model_dump(exclude_none=True, by_alias=True)
        url = self._url(path)
        client = self._http()
        seen = 0
        with self._errors():
            request = client.build_request("POST", url, json=payload)
            response = await client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                with self._errors():
                    await aread_capped(response, source=self.name, max_bytes=MAX_ERROR_BODY)
                raise self._status_error(response, f"POST {path}")
            lines = response.aiter_lines()
            while True:
                try:
                    line = await anext(lines)
                except StopAsyncIteration:
                    break
                except httpx.TimeoutException:
                    raise StreamInterrupted(
                        f"{self.name}: {path} stopped answering mid-stream.", source=self.name
                    ) from None
                except httpx.HTTPError as exc:
                    raise StreamInterrupted(
                        f"{self.name}: the connection to {path} dropped mid-stream ({type(exc).__name__}).",
                        source=self.name,
                    ) from None
                line = line.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line) if nesting_within(line.encode()) else None
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    snippet = line[:80]
                    if seen:
                        raise StreamInterrupted(
                            f"{self.name}: {path} sent a broken line mid-stream ({snippet!r}).",
                            source=self.name,
                        ) from None
                    raise BadResponse(
                        f"{self.name}: the reply to {path} is not NDJSON (starts with {snippet!r}).",
                        source=self.name,
                    ) from None
                seen += 1
                error = obj.get("error")
                if error:
                    message = str(error) if not isinstance(error, dict) else str(error.get("message", error))
                    raise self._classify(message, None) or generic_error(message)
                if is_final(obj):
                    with suppress(httpx.HTTPError):
                        async for _ in lines:  # only the chunked terminator is left
                            pass
                    yield obj
                    return
                yield obj
        finally:
            with self._errors():
                await response.aclose()

    # ------------------------------------------------------------------ protocol
    async def version(self) -> str | None:
        """``GET /api/version``; None when the server has no such endpoint (404)."""
        try:
            reply = await self._json(
                "GET", "/api/version", VersionResponse, max_bytes=MAX_ERROR_BODY, listing=True
            )
        except ModelNotFound as exc:
            if exc.status_code == 404:
                return None
            raise
        return reply.version

    async def tags(self) -> TagsResponse:
        return await self._json("GET", "/api/tags", TagsResponse, max_bytes=MAX_LIST_BODY, listing=True)

    async def show(self, model: str) -> ShowResponse:
        return await self._json(
            "POST", "/api/show", ShowResponse, ShowRequest(model=model), max_bytes=MAX_SHOW_BODY, listing=True
        )

    async def listing(self) -> AsyncGenerator[StoredModel, None]:
        """Every model as its stored row (``StoredModel``), streamed: the ``/api/tags`` reply is parsed
        as it arrives, and an entry of the plain shape (capabilities listed, fields of the declared
        types: every entry of a v0.30+ server) becomes its row at once, without a pydantic model; the
        few others (an older server, an odd field) go through ``list_models``'s path (``/api/show`` and
        all) at the end. What a sync of 100,000 models holds at any time is the rows it keeps, not the
        whole reply."""
        now = json_str(TypeAdapter(datetime).dump_python(datetime.now(UTC), mode="json"))
        slow: list[TagsModel] = []
        read = [0]  # bytes of the reply so far
        fast_row = self._fast_row
        async for index, entry in self._tags_entries(read):
            if slow and read[0] > MAX_LIST_BODY:
                # Past the ordinary cap only entries that become compact rows at once are taken.
                raise too_large(self.name, MAX_LIST_BODY)
            fast = fast_row(entry, now) if type(entry) is dict else None
            if fast is not None:
                yield fast
                continue
            if isinstance(entry, TagsModel):
                slow.append(entry)
                continue
            try:
                slow.append(TagsModel.model_validate(entry))
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in ("models", index, *err["loc"]))
                raise BadResponse(
                    f"{self.name}: the reply to /api/tags has the wrong shape ({loc}: {err['msg']}).",
                    source=self.name,
                ) from None
        if slow:
            for m in await self._build(slow):
                yield stored_model(m)

    async def _tags_entries(self, read: list[int]) -> AsyncGenerator[tuple[int, Any], None]:
        """``(index, entry)`` of each ``/api/tags`` entry, stream-parsed; a reply of another shape is
        read whole and checked as ``tags()`` does (same errors)."""
        client = self._http()
        timeout = listing_timeout(self.timeouts) if self._owns_client else USE_CLIENT_DEFAULT
        with self._errors():
            request = client.build_request("GET", self._url("/api/tags"), timeout=timeout)
            response = await client.send(request, stream=True)
        if response.status_code >= 400:
            with self._errors():
                await aread_capped(response, source=self.name, max_bytes=MAX_ERROR_BODY)
            raise self._status_error(response, "GET /api/tags")
        stream = ArrayStream("models")
        raw: list[bytes] | None = []  # the bytes so far, until the array is found (to parse whole)
        whole = False  # not the expected shape: read the rest, then parse it whole
        size = index = 0
        try:
            with self._errors():
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    read[0] = size
                    if size > MAX_STREAMED_LIST_BODY:
                        raise too_large(self.name, MAX_STREAMED_LIST_BODY)
                    if raw is not None:
                        raw.append(chunk)
                    if not whole:
                        try:
                            items = stream.feed(chunk)
                        except Unexpected:
                            whole = True
                    if raw is not None and (whole or not stream.seen_array) and size > MAX_LIST_BODY:
                        raise too_large(self.name, MAX_LIST_BODY)  # not streaming: the ordinary cap
                    if whole:
                        continue
                    if stream.seen_array:
                        raw = None
                    for item in items:
                        yield index, item
                        index += 1
                if not whole:
                    try:
                        items = stream.close()
                    except Unexpected:
                        whole = True
                    else:
                        raw = None
                        for item in items:
                            yield index, item
                            index += 1
        except Broken as exc:
            raise BadResponse(
                f"{self.name}: the reply to /api/tags broke off or is not valid JSON after {exc.where} models.",
                source=self.name,
            ) from None
        finally:
            with self._errors():
                await response.aclose()
        hook = on_reply.get()
        if hook is not None:
            hook()
        if raw is not None:
            data = parse_json(b"".join(raw), source=self.name, what="the reply to /api/tags")
            for i, t in enumerate(self._validate(TagsResponse, data, "/api/tags").models):
                yield i, t

    def _fast_row(self, e: dict[str, Any], now: str) -> StoredModel | None:
        """The stored row of a plain ``/api/tags`` entry, its JSON assembled from pieces (no pydantic
        model, no dict per model: a few µs each); None when it needs the full path (no capabilities
        listed, or a field pydantic would coerce or refuse). Mirrors ``_unified`` with no
        ``/api/show``: tests check that both give the same row, byte for byte. ``now`` is JSON."""
        get = e.get
        name, caps_in, details = get("name"), get("capabilities"), get("details")
        if details is None:
            details = {}
        if not (type(name) is str and type(caps_in) is list and type(details) is dict):
            return None
        size, digest, remote_model, remote_host = (
            get("size"),
            get("digest"),
            get("remote_model"),
            get("remote_host"),
        )
        dget = details.get
        family, psize, quant = dget("family"), dget("parameter_size"), dget("quantization_level")
        context_length, families = dget("context_length"), dget("families")
        # Only the declared types; anything else takes the full path, where pydantic says what is
        # wrong or coerces as it does.
        if (
            not (
                {type(digest), type(remote_model), type(remote_host), type(family), type(psize), type(quant)}
                | {type(dget("parent_model")), type(dget("format"))}
            )
            <= _STR_OR_NONE
        ):
            return None
        if not {type(size), type(context_length), type(dget("embedding_length"))} <= _INT_OR_NONE:
            return None
        if families is not None and not (type(families) is list and set(map(type, families)) <= _STR):
            return None
        if is_cloud_model(name, remote_model, remote_host):
            return self._fast_cloud_row(name, caps_in, remote_model, remote_host, details, digest, now)
        # Most models share a few capability sets: their categories and JSON are worked out once.
        try:
            part = self._caps_seen.get(tuple(caps_in))
        except TypeError:  # an unhashable capability: pydantic will say what is wrong
            return None
        if part is None:
            if not all(type(c) is str for c in caps_in):
                return None
            caps = [c for c in dict.fromkeys(c.strip().lower() for c in caps_in) if c]
            part = self._caps_seen[tuple(caps_in)] = _CapsPart.of(
                caps, [c.value for c in dict.fromkeys(self.rules.for_capabilities(caps))], cloud=False
            )
        description = _fast_description(
            family,
            psize,
            quant,
            f"{format_bytes(size)} on disk" if size else "",
            context_length,
            part.described,
        )
        mid = self._id_prefix + name
        jname = json_str(name)
        _, _, tag_part = name.partition(":")
        data = (
            f'{{"id":{json_str(mid)},"name":{jname},"version":{json_str(tag_part or "latest")},'
            f'"ollama_name":{jname},"remote_id":null,"provider":{self._jprovider},{part.json}'
            f'"parameters":{{}},"system_prompt":null,"parent_id":null,"local_endpoint":{self._jendpoint},'
            f'"remote_endpoint":null,"status":"available","status_message":"",'
            f'"created_at":{now},"updated_at":{now},"description":{json_str(description)},'
            f'"family":{"null" if family is None else json_str(family)},'
            f'"context_length":{"null" if context_length is None else context_length},'
            f'"parameter_size":{"null" if psize is None else json_str(psize)},'
            f'"quantization":{"null" if quant is None else json_str(quant)},'
            f'"size_bytes":{"null" if size is None else size},'
            f'"digest":{"null" if digest is None else json_str(digest)},"rate_limit_tier":null,'
            f'"publisher":null,"max_output_tokens":null,"tags":[],"user_capabilities":null}}'
        )
        if name and description and family:  # search_text, for the usual entry
            search = f"{mid} {name} {description} {family}".lower()
        else:
            search = search_text(mid, name, description, family, None, ())
        return _new_row(
            StoredModel,
            (
                mid,
                self.name,
                "base",
                "local",
                part.category,
                part.categories,
                part.capabilities,
                "available",
                name,
                "",
                search,
                data,
            ),
        )

    def _fast_cloud_row(
        self,
        name: str,
        caps_in: list[Any],
        remote_model: str | None,
        remote_host: str | None,
        details: dict[str, Any],
        digest: str | None,
        now: str,
    ) -> StoredModel | None:
        """``_fast_row`` of a cloud model (hybrid: listed here, runs on ollama.com): rare, so plainer."""
        if not all(type(c) is str for c in caps_in):
            return None
        caps = [c for c in dict.fromkeys(c.strip().lower() for c in caps_in) if c]
        remote_name = remote_model or name
        publisher = guess_publisher(remote_name)
        catalog_id = f"{publisher}/{remote_name}" if publisher and "/" not in remote_name else remote_name
        part = _CapsPart.of(
            caps, [c.value for c in dict.fromkeys(self.rules.for_remote(catalog_id, caps))], cloud=True
        )
        family, psize, quant = (
            details.get("family"),
            details.get("parameter_size"),
            details.get("quantization_level"),
        )
        context_length = details.get("context_length")
        _, _, tag_part = name.partition(":")
        where = f"cloud model {remote_name}, runs on {_hostname(remote_host) or 'ollama.com'}"
        description = _fast_description(family, psize, quant, where, context_length, part.described)
        mid = model_id(self.name, name)
        jname = json_str(name)
        data = (
            f'{{"id":{json_str(mid)},"name":{jname},"version":{json_str(tag_part or "latest")},'
            f'"ollama_name":{jname},"remote_id":{json_str(remote_name)},"provider":{self._jprovider},'
            f'{part.json}"parameters":{{}},"system_prompt":null,"parent_id":null,'
            f'"local_endpoint":{self._jendpoint},"remote_endpoint":{json_str(remote_host or CLOUD_HOST)},'
            f'"status":"available","status_message":"","created_at":{now},"updated_at":{now},'
            f'"description":{json_str(description)},"family":{json_opt_str(family)},'
            f'"context_length":{json_int(context_length)},"parameter_size":{json_opt_str(psize)},'
            f'"quantization":{json_opt_str(quant)},"size_bytes":null,"digest":{json_opt_str(digest)},'
            f'"rate_limit_tier":null,"publisher":{json_opt_str(publisher)},"max_output_tokens":null,'
            f'"tags":["cloud"],"user_capabilities":null}}'
        )
        return StoredModel(
            mid,
            self.name,
            "base",
            "hybrid",
            part.category,
            part.categories,
            part.capabilities,
            "available",
            name,
            "",
            search_text(mid, name, description, family, publisher, ("cloud",)),
            data,
        )

    async def ps(self) -> list[RunningModel]:
        return (await self._json("GET", "/api/ps", PsResponse)).models

    async def list_models(self) -> list[UnifiedModel]:
        return await self._build((await self.tags()).models)

    async def _build(self, tag_models: list[TagsModel]) -> list[UnifiedModel]:
        """The models of these ``/api/tags`` entries, asking ``/api/show`` for those without capabilities."""
        need_show = [t for t in tag_models if t.capabilities is None]
        shows: dict[str, ShowResponse | SourceError] = {}
        # Each model is built as its /api/show reply arrives: spread over the replies, not one long
        # turn of the event loop at the end (150 models are ~12 ms of pydantic).
        built: dict[int, UnifiedModel] = {}
        if need_show:
            limit = asyncio.Semaphore(self.show_concurrency)

            async def one(tag: TagsModel) -> None:
                async with limit:
                    try:
                        shows[tag.name] = await self.show(tag.name)
                    except SourceError as exc:
                        shows[tag.name] = exc
                built[id(tag)] = self._unified(tag, shows[tag.name])

            await asyncio.gather(*(one(t) for t in need_show))
            # The host went away while we asked: report it down rather than file every model under text.
            # A cloud model's /api/show is passed on to ollama.com by v0.18-v0.29 and fails (502) when
            # ollama.com cannot be reached: that says nothing about the daemon, which just answered.
            down: list[SourceUnavailable] = []
            for t in need_show:
                failure = shows[t.name]
                if self._host_down(failure, t):
                    down.append(failure)
            if len(down) == len(need_show):
                raise down[0]
        models: list[UnifiedModel] = []
        for i, t in enumerate(tag_models):
            m = built.get(id(t))
            models.append(m if m is not None else self._unified(t, shows.get(t.name)))
            if m is None and i % _BUILD_SLICE == _BUILD_SLICE - 1:
                await asyncio.sleep(0)  # many models without /api/show: a slice per loop turn
        return models

    @staticmethod
    def _host_down(show: ShowResponse | SourceError, tag: TagsModel) -> TypeGuard[SourceUnavailable]:
        """Whether this /api/show failure means the daemon itself is down (not one model's problem)."""
        if not isinstance(show, SourceUnavailable):
            return False
        if is_cloud_model(tag.name, tag.remote_model, tag.remote_host):
            return show.status_code is None  # no HTTP answer at all: the daemon went away
        return True

    def _unified(self, tag: TagsModel, show: ShowResponse | SourceError | None) -> UnifiedModel:
        details = tag.details
        caps = list(tag.capabilities or [])
        context_length = details.context_length
        status_message = ""
        status = ModelStatus.AVAILABLE
        cloud = is_cloud_model(tag.name, tag.remote_model, tag.remote_host)
        if isinstance(show, ShowResponse):
            caps = list(show.capabilities or [])
            context_length = show.context_length or context_length
            # /api/show knows more; fill what /api/tags left empty.
            sd = show.details
            details = details.model_copy(
                update={
                    k: getattr(sd, k)
                    for k in ("family", "parameter_size", "quantization_level")
                    if getattr(details, k) is None and getattr(sd, k) is not None
                }
            )
        elif isinstance(show, SourceError) and cloud:
            # Chat would fail the same way (offline, signed out, cloud turned off): say so on the model.
            status = ModelStatus.ERROR
            reason = show.message.removeprefix(f"{self.name}: ")
            status_message = f"Cloud model, not usable now: {reason}" + (f" {show.hint}" if show.hint else "")
        elif isinstance(show, SourceError):
            status_message = f"Capabilities unknown: {show.message}"
        caps = [c for c in dict.fromkeys(str(c).strip().lower() for c in caps) if c]
        publisher = None
        if cloud:
            # Runs remotely, so it sorts with the other remote models: its publisher's cloud branch first
            # (gpt-oss → openai → Cloud · text), then its capability categories.
            remote_name = tag.remote_model or tag.name
            publisher = guess_publisher(remote_name)
            catalog_id = f"{publisher}/{remote_name}" if publisher and "/" not in remote_name else remote_name
            categories = self.rules.for_remote(catalog_id, caps)
        else:
            categories = self.rules.for_capabilities(caps)
        _, _, tag_part = tag.name.partition(":")
        return UnifiedModel(
            id=model_id(self.name, tag.name),
            name=tag.name,
            version=tag_part or "latest",
            ollama_name=tag.name,
            provider=self.name,
            source=SourceKind.OLLAMA,
            # A cloud model is listed and called through this daemon but runs on ollama.com: hybrid.
            serving_type=ServingType.HYBRID if cloud else ServingType.LOCAL,
            capabilities=caps,
            categories=categories,
            category=categories[0],
            local_endpoint=self.config.base_url,
            remote_endpoint=(tag.remote_host or CLOUD_HOST) if cloud else None,
            remote_id=(tag.remote_model or tag.name) if cloud else None,
            family=details.family,
            parameter_size=details.parameter_size,
            quantization=details.quantization_level,
            size_bytes=None if cloud else tag.size,  # a cloud model's size is its stub's, not the model's
            digest=tag.digest,
            context_length=context_length,
            status=status,
            status_message=status_message,
            tags=["cloud"] if cloud else [],
            publisher=publisher,
            description=self._describe(tag, details, caps, context_length, cloud),
        )

    @staticmethod
    def _describe(
        tag: TagsModel, details: ModelDetails, caps: list[str], context_length: int | None, cloud: bool
    ) -> str:
        head = " ".join(x for x in (details.family, details.parameter_size, details.quantization_level) if x)
        parts = [head] if head else []
        if cloud:
            where = _hostname(tag.remote_host)
            parts.append(f"cloud model {tag.remote_model or tag.name}, runs on {where or 'ollama.com'}")
        elif tag.size:
            parts.append(format_bytes(tag.size) + " on disk")
        if context_length:
            parts.append(f"{context_length:,} token context")
        if caps:
            parts.append(", ".join(caps))
        return " · ".join(parts)

    # ------------------------------------------------------------------ management
    async def pull(self, model: str) -> AsyncGenerator[PullProgress, None]:
        """Stream pull progress until ``success``. Closing this iterator early closes the connection,
        which cancels the pull on the server (a later pull resumes where this one stopped)."""
        stream = self._status_stream("/api/pull", PullRequest(model=model), f"pull {model}")
        async with aclosing(stream):
            async for progress in stream:
                yield progress

    async def create(
        self,
        model: str,
        *,
        from_: str,
        system: str | None = None,
        parameters: dict[str, Any] | None = None,
        template: str | None = None,
    ) -> AsyncGenerator[PullProgress, None]:
        """``POST /api/create`` (JSON form): a new model from ``from_`` with a system prompt/parameters."""
        body = CreateRequest(
            model=model, from_=from_, system=system, parameters=parameters or None, template=template
        )
        stream = self._status_stream("/api/create", body, f"create {model}")
        async with aclosing(stream):
            async for progress in stream:
                yield progress

    async def _status_stream(
        self, path: str, body: BaseModel, what: str
    ) -> AsyncGenerator[PullProgress, None]:
        def rejected(message: str) -> SourceError:
            return RequestRejected(f"{self.name}: {what} failed: {message}", source=self.name)

        finished = False
        lines = self._ndjson(path, body, rejected, lambda obj: obj.get("status") == "success")
        async with aclosing(lines):
            async for obj in lines:
                line = self._validate(StatusLine, obj, path)
                status = line.status or ""
                yield PullProgress(
                    status=status, digest=line.digest, total=line.total, completed=line.completed
                )
                finished = status == "success"
        if not finished:
            raise StreamInterrupted(
                f"{self.name}: {what} ended before it reported success.", source=self.name
            )

    async def delete(self, model: str) -> None:
        await self._request("DELETE", "/api/delete", DeleteRequest(model=model))

    async def copy(self, source: str, destination: str) -> None:
        await self._request("POST", "/api/copy", CopyRequest(source=source, destination=destination))

    # ------------------------------------------------------------------ inference
    async def chat(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        model = request.model
        body = WireChatRequest(
            model=model,
            messages=[_wire_message(m) for m in request.messages],
            tools=[dict(t) for t in request.tools] if request.tools else None,
            think=_think(request.think),
            format=_format(request.response_format),
            options=_options(request.options),
            stream=True,
        )
        partial: list[str] = []

        def interrupted(message: str) -> SourceError:
            return StreamInterrupted(
                f"{self.name}: the reply from {model} stopped: {message}", source=self.name
            )

        done = False
        lines = self._ndjson("/api/chat", body, interrupted, lambda obj: obj.get("done") is True)
        try:
            async with aclosing(lines):
                async for obj in lines:
                    chunk = self._validate(ChatResponseChunk, obj, "/api/chat")
                    message = chunk.message or WireMessage()
                    out = ChatChunk(
                        content=message.content,
                        thinking=message.thinking or "",
                        tool_calls=[_tool_call(c) for c in message.tool_calls or []],
                        done=chunk.done,
                        metrics=_metrics(chunk) if chunk.done else None,
                    )
                    partial.append(out.content)
                    done = chunk.done
                    yield out
        except StreamInterrupted as exc:
            exc.partial = exc.partial or "".join(partial)
            raise
        except SourceError as exc:
            if not "".join(partial):
                raise
            raise StreamInterrupted(exc.message, partial="".join(partial), source=self.name) from None
        if not done:
            raise StreamInterrupted(
                f"{self.name}: the reply from {model} ended before its final message.",
                partial="".join(partial),
                source=self.name,
            )

    async def embed(self, model: str, inputs: Sequence[str]) -> list[list[float]]:
        texts = list(inputs)
        if not texts:
            return []
        reply = await self._json("POST", "/api/embed", EmbedResponse, EmbedRequest(model=model, input=texts))
        if len(reply.embeddings) != len(texts):
            raise BadResponse(
                f"{self.name}: /api/embed returned {len(reply.embeddings)} vectors for {len(texts)} inputs.",
                source=self.name,
            )
        return reply.embeddings

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            with suppress(httpx.HTTPError, RuntimeError):  # closing must never raise
                await client.aclose()
        if not self._owns_client:
            self._client = client
