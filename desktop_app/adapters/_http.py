"""Shared HTTP plumbing for adapters: client construction and translation of httpx failures.

Every adapter call goes through ``translate_errors`` so that no bare httpx exception ever escapes to
services; messages name the source and the URL's host, never headers (keys live there).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
from httpx._client import USE_CLIENT_DEFAULT

from desktop_app.adapters._errors import transport_error
from desktop_app.core.errors import BadResponse
from desktop_app.core.limits import MAX_ERROR_BODY, MAX_JSON_DEPTH, Timeouts
from desktop_app.core.urls import check_base_url

__all__ = [
    "DEFAULT_TIMEOUT",
    "ReplyHook",
    "aread_capped",
    "client_timeout",
    "listing_timeout",
    "make_client",
    "nesting_within",
    "on_reply",
    "parse_json",
    "request_capped",
    "shared_ssl_context",
    "translate_errors",
    "validate_base_url",
]

# Connect quickly or report the host down; reads may be slow (a model loading takes seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=30.0, pool=30.0)

ReplyHook = Callable[[], None]
# Set by a sync for its source (a task-local value, so concurrent sources keep their own): called
# each time a whole reply has been read, which moves that sync's deadline on.
on_reply: ContextVar[ReplyHook | None] = ContextVar("on_reply", default=None)


def validate_base_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise InvalidInput saying what is wrong with it."""
    return check_base_url(url)


def client_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """The client's default: chat, pull and embed may wait ``read`` seconds for the next bytes."""
    return httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=30.0, pool=30.0)


def listing_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """For version/list/show requests: a stalled listing fails within the sync timeout."""
    return httpx.Timeout(connect=timeouts.connect, read=timeouts.sync_read, write=30.0, pool=timeouts.sync)


def _too_large(source: str, max_bytes: int) -> BadResponse:
    mib = max_bytes / (1024 * 1024)
    size = f"{mib:.0f} MB" if mib >= 1 else f"{max_bytes} bytes"
    return BadResponse(
        f"{source}: the reply from {source} exceeds {size}; it was not read further.",
        source=source,
        hint="Check that the URL points at the kind of server configured.",
    )


async def aread_capped(response: httpx.Response, *, source: str, max_bytes: int) -> bytes:
    """Read a streamed response's (decoded) body, at most ``max_bytes`` of it, then close it.

    Sets ``response.content`` as ``Response.aread`` would, so error mapping can read it."""
    try:
        declared = int(response.headers.get("content-length", "") or -1)
    except ValueError:
        declared = -1
    try:
        if declared > max_bytes:
            raise _too_large(source, max_bytes)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(source, max_bytes)
            chunks.append(chunk)
    finally:
        await response.aclose()
    body = b"".join(chunks)
    response._content = body  # what Response.aread stores; .content and .text then work
    hook = on_reply.get()
    if hook is not None:
        hook()
    return body


async def request_capped(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    source: str,
    max_bytes: int,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout | None = None,
) -> httpx.Response:
    """``client.request`` that streams the body and stops at ``max_bytes`` (an error body at
    MAX_ERROR_BODY): an endless or huge reply is a BadResponse, never a process out of memory.
    httpx errors pass through for the caller's ``translate_errors``."""
    request = client.build_request(
        method,
        url,
        json=json,
        headers=headers,
        timeout=timeout if timeout is not None else USE_CLIENT_DEFAULT,
    )
    response = await client.send(request, stream=True)
    limit = max_bytes if response.status_code < 400 else min(max_bytes, MAX_ERROR_BODY)
    await aread_capped(response, source=source, max_bytes=limit)
    return response


_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (40-120 ms here), which
    would otherwise happen on the event loop for each new source (a visible freeze in the window)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context(cafile=certifi.where())
    return _ssl_context


def make_client(
    base_url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | None = None,
    auth: tuple[str, str] | None = None,
) -> httpx.AsyncClient:
    """One source's client; ``auth`` is HTTP basic auth (credentials the user gave in the URL)."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=timeout or DEFAULT_TIMEOUT,
        auth=httpx.BasicAuth(*auth) if auth is not None else None,
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        trust_env=False,
        verify=shared_ssl_context(),
    )


@contextmanager
def translate_errors(source: str, base_url: str) -> Iterator[None]:
    """Turn transport failures into core errors (``_errors.TRANSPORT``), raised ``from None``."""
    # host[:port] as shown in messages: never a user name or password, never 70,000 characters.
    try:
        host = (urlsplit(base_url).netloc.rpartition("@")[2] or source)[:100]
    except ValueError:
        host = source
    try:
        yield
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        raise transport_error(exc, source, host) from None


def parse_json(text: str | bytes, *, source: str, what: str) -> Any:
    """``json.loads`` with a BadResponse that says which reply was unreadable, or nested deeper than
    any real reply (deep nesting overflows the parser's stack: RecursionError)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if not nesting_within(raw):
        raise _too_deep(source, what)
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep(source, what) from None
    except (ValueError, UnicodeDecodeError):
        snippet = (text[:80].decode("utf-8", "replace") if isinstance(text, bytes) else text[:80]).strip()
        raise BadResponse(
            f"{source}: {what} is not valid JSON (starts with {snippet!r}).", source=source
        ) from None


def _too_deep(source: str, what: str) -> BadResponse:
    return BadResponse(
        f"{source}: {what} is nested more than {MAX_JSON_DEPTH} levels deep; it was not read.",
        source=source,
        hint="Check that the URL points at the kind of server configured.",
    )


_KEEP = b'"[]{}'
_DROP = bytes(b for b in range(256) if b not in _KEEP)


def nesting_within(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when no array/object in the JSON text ``raw`` nests deeper than ``limit``.

    Cheap and stack-free, so it runs before the parser: strings and everything but brackets are
    dropped (bytes methods, in C), then innermost pairs are peeled off one level per pass."""
    # Escaped backslashes, then escaped quotes, go first: every '"' left opens or closes a string.
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    quotes_and_brackets = raw.translate(None, _DROP)
    brackets = b"".join(quotes_and_brackets.split(b'"')[::2])  # the parts outside strings
    for _ in range(limit):
        if not brackets:
            return True
        peeled = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(peeled) == len(brackets):
            return True  # unbalanced: not JSON, and the parser says so
        brackets = peeled
    return not brackets
