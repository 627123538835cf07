"""One error hierarchy for the whole app.

Adapters translate every wire/library failure into one of these (raised ``from None``) so that
services, the CLI and the window only ever handle ``ModelDeskError``. Each error carries a plain
``message`` and, where there is one, a ``hint`` saying what the user can do. Neither may contain a
secret: adapters build messages from status codes and server error bodies, never from headers.

    ModelDeskError
    ├── SourceError                 (something about one configured source)
    │   ├── SourceUnavailable       host down, refused, DNS, TLS
    │   │   └── SourceTimeout       accepted but never answered
    │   ├── AuthError               401/403: missing, wrong or expired key
    │   ├── RateLimited             429, with retry_after seconds
    │   ├── ServiceRetired          410 / Sunset: the service is gone for good
    │   ├── BadResponse             malformed reply (not JSON, wrong shape, cut stream)
    │   │   └── StreamInterrupted   stream ended early; keeps the partial text
    │   ├── ModelNotFound           the source does not know the model
    │   ├── ContentFiltered         the service refused the prompt or reply
    │   ├── UnsupportedCapability   "x does not support tools/thinking/…"
    │   ├── RequestRejected         any other 4xx/5xx with the server's message
    │   └── UnsupportedKind         settings name a source kind this version cannot use
    ├── InvalidInput                bad user input (URL, name, file, option)
    │   └── SuiteError              a malformed .prompt.yml (file, line, key)
    ├── RegistryError               the SQLite registry cannot be used
    ├── SettingsError               the settings file cannot be read or written
    ├── StorageError                another file under the data dir cannot be written (full disk…)
    └── Cancelled                   the user stopped the operation
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AuthError",
    "BadResponse",
    "Cancelled",
    "ContentFiltered",
    "InvalidInput",
    "ModelDeskError",
    "ModelNotFound",
    "RateLimited",
    "RegistryError",
    "RequestRejected",
    "ServiceRetired",
    "SettingsError",
    "SourceError",
    "SourceTimeout",
    "SourceUnavailable",
    "StorageError",
    "StreamInterrupted",
    "SuiteError",
    "UnsupportedCapability",
    "UnsupportedKind",
    "redact",
]


def redact(text: str, secrets: Iterable[str | None], replacement: str = "***") -> str:
    """``text`` without any of ``secrets`` (a key a server echoed, a token a tool handed out), longest
    first so that no part of a longer secret is left; values under 4 characters would blank ordinary
    text and are left alone."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, replacement)
    return text


class ModelDeskError(Exception):
    """Base of every error the app raises on purpose."""

    default_hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class SourceError(ModelDeskError):
    """A failure that belongs to one configured source (``source`` names it)."""

    def __init__(
        self, message: str, *, source: str = "", status_code: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.source = source
        self.status_code = status_code


class SourceUnavailable(SourceError):
    default_hint = "Check that the server is running and the URL in `modeldesk source list` is right."


class SourceTimeout(SourceUnavailable):
    default_hint = "The server accepted the connection but did not answer in time; is it overloaded?"


class AuthError(SourceError):
    default_hint = "Set a valid key with `modeldesk key set <source>`."


class RateLimited(SourceError):
    """429. ``retry_after`` is how many seconds the service asked us to wait (None if it did not say)."""

    default_hint = "The service is rate limiting; ModelDesk waits and retries on its own."

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        source: str = "",
        status_code: int | None = 429,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, source=source, status_code=status_code, hint=hint)
        self.retry_after = retry_after


class ServiceRetired(SourceError):
    """The service was shut down for good (HTTP 410, or 403 with a Sunset header)."""

    def __init__(
        self,
        message: str,
        *,
        retired_on: str | None = None,
        successor: str | None = None,
        source: str = "",
        status_code: int | None = 410,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, source=source, status_code=status_code, hint=hint)
        self.retired_on = retired_on
        self.successor = successor


class BadResponse(SourceError):
    default_hint = "The server sent a reply ModelDesk cannot read; check it is the kind of server configured."


class StreamInterrupted(BadResponse):
    """A stream stopped before its end. ``partial`` keeps what had arrived so it is never lost."""

    default_hint = "The connection dropped mid-reply; the partial reply is kept. Try again."

    def __init__(self, message: str, *, partial: str = "", source: str = "", hint: str | None = None) -> None:
        super().__init__(message, source=source, hint=hint)
        self.partial = partial


class ModelNotFound(SourceError):
    default_hint = "Run `modeldesk sync`, or pull the model first with `modeldesk pull <name>`."


class ContentFiltered(SourceError):
    default_hint = "The service's content filter refused this prompt or reply; rephrase it."


class UnsupportedCapability(SourceError):
    default_hint = "Pick a model that has this capability (see its categories)."


class RequestRejected(SourceError):
    """Any other error status, with the server's own message."""


class UnsupportedKind(SourceError):
    """A source whose kind is not in ``core.kinds.KINDS``: it is kept in settings and skipped."""


class InvalidInput(ModelDeskError):
    """The user gave something unusable; the message names the problem."""


class SuiteError(InvalidInput):
    """A malformed ``.prompt.yml``: names the file, the line (when known) and the key at fault."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None, key: str = "") -> None:
        where = file
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")
        self.file = file
        self.line = line
        self.key = key
        self.reason = message


class RegistryError(ModelDeskError):
    pass


class StorageError(ModelDeskError):
    """A file under the data dir (an evaluation run) cannot be written: full disk, read-only folder."""


class SettingsError(ModelDeskError):
    pass


class Cancelled(ModelDeskError):
    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)
