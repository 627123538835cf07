"""Shared HTTP plumbing for adapters: client construction and translation of httpx failures.

Every adapter call goes through ``translate_errors`` so that no bare httpx exception ever escapes to
services; messages name the source and the URL's host, never headers (keys live there).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx

from desktop_app.core.errors import (
    BadResponse,
    InvalidInput,
    SourceTimeout,
    SourceUnavailable,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "make_client",
    "parse_json",
    "shared_ssl_context",
    "translate_errors",
    "validate_base_url",
]

# Connect quickly or report the host down; reads may be slow (a model loading takes seconds).
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=30.0, pool=30.0)


def validate_base_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise InvalidInput saying what is wrong with it."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise InvalidInput(f"{url!r} is not a valid URL: it must start with http:// or https://.")
    if not parts.hostname:
        raise InvalidInput(f"{url!r} is not a valid URL: it has no host name.")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"{url!r} is not a valid URL: the port is not a number from 0 to 65535.") from None
    if port == 0:
        raise InvalidInput(f"{url!r} is not a valid URL: port 0 cannot be connected to.")
    if parts.query or parts.fragment:
        raise InvalidInput(f"{url!r} is not a valid URL for a server: remove the '?…' or '#…' part.")
    return text.rstrip("/")


_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (40-120 ms here), which
    would otherwise happen on the event loop for each new source (a visible freeze in the window)."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context(cafile=certifi.where())
    return _ssl_context


def make_client(
    base_url: str, *, headers: dict[str, str] | None = None, timeout: httpx.Timeout | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers or {},
        timeout=timeout or DEFAULT_TIMEOUT,
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
        trust_env=False,
        verify=shared_ssl_context(),
    )


@contextmanager
def translate_errors(source: str, base_url: str) -> Iterator[None]:
    """Turn transport failures into SourceUnavailable/SourceTimeout/BadResponse (raised ``from None``)."""
    host = urlsplit(base_url).netloc or base_url
    try:
        yield
    except httpx.TimeoutException:
        raise SourceTimeout(f"{source}: {host} did not answer in time.", source=source) from None
    except httpx.ConnectError:
        raise SourceUnavailable(f"{source}: cannot connect to {host}.", source=source) from None
    except httpx.RemoteProtocolError:
        raise BadResponse(
            f"{source}: {host} closed the connection or sent broken HTTP.", source=source
        ) from None
    except httpx.TransportError as exc:
        raise SourceUnavailable(
            f"{source}: network error talking to {host} ({type(exc).__name__}).", source=source
        ) from None
    except httpx.InvalidURL:
        raise InvalidInput(f"{source}: the URL {base_url!r} is not valid.") from None


def parse_json(text: str | bytes, *, source: str, what: str) -> Any:
    """``json.loads`` with a BadResponse that says which reply was unreadable."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        snippet = (text[:80].decode("utf-8", "replace") if isinstance(text, bytes) else text[:80]).strip()
        raise BadResponse(
            f"{source}: {what} is not valid JSON (starts with {snippet!r}).", source=source
        ) from None
