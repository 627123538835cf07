"""Checking a source's base URL, in one place for the CLI, the window and settings read from disk.

A URL is the user's input and every request is built from it, so it is checked before any request:
http or https, a host of sane length (a 70,000-character host once crashed every sync), a port that
can be connected to, IPv6 in brackets, no query. A ``user:password@`` part is split off here
(``split_credentials``): the caller keeps it in the keyring, never in settings, the registry or a
message. Messages quote the URL shortened and with any credentials masked.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from desktop_app.core.errors import InvalidInput

__all__ = [
    "MAX_HOST_LENGTH",
    "MAX_URL_LENGTH",
    "Credentials",
    "check_base_url",
    "mask_url",
    "split_credentials",
]

MAX_URL_LENGTH = 2048  # what browsers and most proxies accept; a base URL is far shorter
MAX_HOST_LENGTH = 253  # DNS: the longest full name; each label at most 63
_MAX_LABEL = 63
_FORBIDDEN_HOST_CHARS = set(" \t\r\n/\\?#@%<>\"'`{}|^[]")


class Credentials(NamedTuple):
    """A ``user:password@`` part taken out of a URL (percent-decoded)."""

    username: str
    password: str

    def __repr__(self) -> str:  # never shows the password
        return f"Credentials(username={self.username!r}, password='***')"


def mask_url(url: str, limit: int = 80) -> str:
    """The URL as it may be shown: credentials replaced by ``***`` and at most ``limit`` characters."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        authority_end = len(rest)
        for ch in "/?#":
            pos = rest.find(ch)
            if pos != -1:
                authority_end = min(authority_end, pos)
        authority = rest[:authority_end]
        if "@" in authority:
            rest = "***@" + rest[authority.rfind("@") + 1 :]
        text = f"{scheme}{sep}{rest}"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _bad(url: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{mask_url(url)!r} is not a valid URL: {why}",
        hint="A source URL looks like http://127.0.0.1:11434 or https://api.example.com/v1.",
    )


def _check_host(url: str, host: str, bracketed: bool) -> None:
    if bracketed:
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            raise _bad(url, "the part in [brackets] is not an IPv6 address.") from None
        return
    if ":" in host:
        raise _bad(url, "an IPv6 address must be written in brackets, e.g. http://[::1]:11434.")
    if len(host) > MAX_HOST_LENGTH:
        raise _bad(url, f"the host name is {len(host)} characters long; at most {MAX_HOST_LENGTH} can work.")
    if any(ch in _FORBIDDEN_HOST_CHARS or not ch.isprintable() for ch in host):
        raise _bad(url, "the host name contains characters a host name cannot have.")
    labels = host.rstrip(".").split(".")
    if any(not label for label in labels):
        raise _bad(url, "the host name has an empty part between dots.")
    if any(len(label) > _MAX_LABEL for label in labels):
        raise _bad(url, f"a part of the host name between dots is longer than {_MAX_LABEL} characters.")
    if not host.isascii():
        try:
            host.encode("idna")
        except UnicodeError:
            raise _bad(url, "the host name cannot be turned into a DNS name.") from None


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """The URL without its ``user:password@`` part, and that part (None when there is none)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text, None  # check_base_url says what is wrong
    if "@" not in parts.netloc:
        return text, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return clean, Credentials(unquote(user), unquote(password))


def check_base_url(url: str) -> str:
    """The URL without a trailing slash, or InvalidInput naming what is wrong with it.

    A URL still holding credentials is refused: callers split them off first (``split_credentials``).
    """
    text = url.strip()
    if not text:
        raise InvalidInput("The URL is empty.", hint="e.g. http://127.0.0.1:11434")
    if len(text) > MAX_URL_LENGTH:
        raise _bad(url, f"it is {len(text)} characters long; at most {MAX_URL_LENGTH} are accepted.")
    try:
        parts = urlsplit(text)
    except ValueError:  # "Invalid IPv6 URL" for http://[::1, or brackets around a non-address
        authority = text.partition("://")[2].split("/", 1)[0]
        if "[" in authority and "]" not in authority:
            raise _bad(url, "a '[' opens an IPv6 address that is never closed with ']'.") from None
        raise _bad(url, "the part in [brackets] is not an IPv6 address.") from None
    if parts.scheme not in ("http", "https"):
        raise _bad(url, "it must start with http:// or https://.")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise _bad(url, "it contains spaces or control characters.")
    if "@" in parts.netloc:
        raise _bad(url, "it contains a user name or password; store those with the source instead.")
    hostport = parts.netloc
    bracketed = hostport.startswith("[")
    if bracketed and "]" not in hostport:
        raise _bad(url, "a '[' opens an IPv6 address that is never closed with ']'.")
    if not bracketed and hostport.rpartition("@")[2].count(":") > 1:
        raise _bad(url, "an IPv6 address must be written in brackets, e.g. http://[::1]:11434.")
    if not parts.hostname:
        raise _bad(url, "it has no host name.")
    _check_host(url, parts.hostname, bracketed)
    try:
        port = parts.port
    except ValueError:
        raise _bad(url, "the port is not a number from 1 to 65535.") from None
    if port == 0:
        raise _bad(url, "port 0 cannot be connected to; use a port from 1 to 65535.")
    if parts.query or parts.fragment:
        raise _bad(url, "a server URL has no '?…' or '#…' part; remove it.")
    return text.rstrip("/")
