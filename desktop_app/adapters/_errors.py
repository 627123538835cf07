"""One mapping from HTTP failures to the core errors that say what happened, for every adapter.

``TRANSPORT`` maps failures with no reply at all (timeout, refused, broken HTTP) by httpx exception type.

``RULES`` is read top to bottom and the first rule that matches wins, most specific first (as httpx's
``_transports/default.py`` maps lower-level errors): a retired service, a rate limit, a content filter,
a capability the model lacks, an unknown model, a refused key, an unavailable service, a 5xx that is
not even JSON, and last any other refusal. Each rule names its core error and says it in words built
from the source name, the status, the host and the server's own message (with every secret scrubbed
out), never from request headers; only the rate-limit wait and the sunset date are read from the reply's.

Adapters keep only what is their own as small hooks around ``map_reply``: Ollama words every error
its own way and explains a 401/403 as ollama.com sign-in or a proxy; the OpenAI-compatible adapter
says "no key is set"; GitHub Models turns a retirement into its own notice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

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
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedCapability,
    redact,
)

__all__ = [
    "RULES",
    "TRANSPORT",
    "ErrorBody",
    "ErrorReply",
    "Hints",
    "Rule",
    "is_retired_response",
    "map_error",
    "map_reply",
    "parse_error_body",
    "retry_after_seconds",
    "sentence",
    "transport_error",
]

# ----------------------------------------------------------------------------------------------- no reply

# (exception type, error) for failures before any reply, most specific first: a timeout is a
# TransportError too. The error is built from the source name and the URL's host[:port], never more.
TRANSPORT: tuple[tuple[type[Exception], Callable[[str, str, Exception], ModelDeskError]], ...] = (
    (
        httpx.TimeoutException,
        lambda source, host, exc: SourceTimeout(
            f"{source}: timed out: {host} did not answer in time.",
            source=source,
            hint=(
                "Check that the server is working; if it is only slow, raise its limits with "
                f"`modeldesk source timeouts {source} --sync SECONDS` (sync) or `--read SECONDS` (chat)."
            ),
        ),
    ),
    (
        httpx.ConnectError,
        lambda source, host, exc: SourceUnavailable(f"{source}: cannot connect to {host}.", source=source),
    ),
    (
        httpx.RemoteProtocolError,
        lambda source, host, exc: BadResponse(
            f"{source}: {host} closed the connection or sent broken HTTP.", source=source
        ),
    ),
    (
        httpx.TransportError,
        lambda source, host, exc: SourceUnavailable(
            f"{source}: network error talking to {host} ({type(exc).__name__}).", source=source
        ),
    ),
    (
        httpx.InvalidURL,
        lambda source, host, exc: InvalidInput(
            f"{source}: the source's URL is not valid.", hint="Fix the source's URL."
        ),
    ),
)


def transport_error(exc: Exception, source: str, host: str) -> ModelDeskError:
    """The core error for a failure with no reply (``exc`` must be one ``TRANSPORT`` lists)."""
    return next(make(source, host, exc) for kind, make in TRANSPORT if isinstance(exc, kind))


# ----------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class ErrorBody:
    """What an error reply said. ``is_json`` False for plain text, HTML or an empty body."""

    code: str = ""
    message: str = ""
    inner_code: str = ""
    is_json: bool = False


def _one_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"<[^>]{1,200}>", " ", text)  # an HTML error page: keep its words
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_error_body(body: bytes | str) -> ErrorBody:
    """``{"error": {"code", "message", "innererror": {"code"}}}``, ``{"error": "text"}``,
    ``{"message"}``/``{"detail"}``, or plain text."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text) if text.strip() else None
    except (ValueError, RecursionError):
        return ErrorBody(message=_one_line(text))
    if not isinstance(data, dict):
        return ErrorBody(message=_one_line(text), is_json=data is not None)
    err = data.get("error", data)
    if isinstance(err, str):
        return ErrorBody(message=_one_line(err), is_json=True)
    if not isinstance(err, dict):
        return ErrorBody(message=_one_line(text), is_json=True)
    inner = err.get("innererror") or err.get("inner_error") or {}
    inner_code = str(inner.get("code") or "") if isinstance(inner, dict) else ""
    message = err.get("message") or err.get("detail") or err.get("msg") or ""
    return ErrorBody(
        code=str(err.get("code") or err.get("type") or ""),
        message=_one_line(str(message)),
        inner_code=inner_code,
        is_json=True,
    )


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait after a 429: ``x-ratelimit-timeremaining``, else ``Retry-After`` (seconds or an
    HTTP date), else None (the caller picks a default)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("x-ratelimit-timeremaining", "retry-after"):
        raw = (lowered.get(name) or "").strip()
        if not raw:
            continue
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        if name == "retry-after":
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


def is_retired_response(status: int, headers: Mapping[str, str], *, deprecation_counts: bool = False) -> bool:
    """410 Gone, or 403 with a ``Sunset`` header (and for GitHub also a bare ``Deprecation`` header)."""
    if status == 410:
        return True
    if status != 403:
        return False
    lowered = {k.lower() for k in headers}
    return "sunset" in lowered or (deprecation_counts and "deprecation" in lowered)


def _sunset_date(headers: Mapping[str, str]) -> str | None:
    raw = next((v for k, v in headers.items() if k.lower() == "sunset"), None)
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ErrorReply:
    """An error reply as the rules see it. ``status`` 0: an error object inside a 200 stream."""

    status: int
    headers: Mapping[str, str]
    body: ErrorBody
    server: str  # the server's own message, secrets scrubbed out
    source: str
    host: str
    model: str | None = None
    deprecation_counts: bool = False  # GitHub: a bare Deprecation header on a 403 means gone too

    @classmethod
    def read(
        cls,
        status: int,
        headers: Mapping[str, str],
        body: bytes | str,
        *,
        source: str,
        host: str,
        model: str | None = None,
        secrets: Iterable[str | None] = (),
        deprecation_counts: bool = False,
    ) -> ErrorReply:
        parsed = parse_error_body(body)
        return cls(
            status, headers, parsed, redact(parsed.message, secrets), source, host, model, deprecation_counts
        )

    @property
    def code(self) -> str:
        return self.body.code.lower()

    @property
    def said(self) -> str:
        return f": {self.server}" if self.server else ""

    @property
    def where(self) -> str:
        if self.status:
            return f"{self.source}: {self.host} answered {self.status}"
        return f"{self.source}: {self.host} sent an error"


# ----------------------------------------------------------------------------------------------- the table

_RATE_CODES = {"ratelimitreached", "rate_limit_exceeded", "too_many_requests", "ratelimited"}
_NOT_FOUND_CODES = {"unknown_model", "model_not_found", "deploymentnotfound", "modelnotfound"}
_AUTH_CODES = {"unauthorized", "invalid_api_key", "authenticationerror", "forbidden", "no_access"}
# Ollama: "<model> does not support <capability>" (server/images.go); OpenAI-compatible servers alike.
_UNSUPPORTED = re.compile(
    r"does not support (tools|thinking|chat|generate|vision|images|embeddings?|completion|insert)", re.I
)
# Ollama: "model 'x' not found", or "… file does not exist" for a blob it lost.
_NOT_FOUND_TEXT = re.compile(r"model .* not found|file does not exist", re.I)


@dataclass(frozen=True)
class Rule:
    """``error`` when ``matches``; ``says`` words it, ``extra`` gives the error's own fields."""

    error: type[SourceError]
    matches: Callable[[ErrorReply], bool]
    says: Callable[[ErrorReply], str]
    hint: Callable[[ErrorReply], str | None] = lambda r: None  # None: the error class's own hint
    extra: Callable[[ErrorReply], dict[str, Any]] = lambda r: {}


def _retired_says(r: ErrorReply) -> str:
    date = _sunset_date(r.headers)
    when = f" on {date}" if date else ""
    return f"{r.source}: the service at {r.host} has been shut down{when} ({r.status}){r.said}"


def _missing_model(r: ErrorReply) -> str:
    what = f"the model {r.model!r}" if r.model else "the requested model"
    return f"{r.source}: {r.host} does not know {what} ({r.status or r.code}){r.said}"


def _refused(r: ErrorReply) -> str:
    reason = "refused the key" if r.status != 403 else "refused access"
    return f"{r.source}: {r.host} {reason} ({r.status or r.code}){r.said}"


RULES: tuple[Rule, ...] = (
    Rule(
        ServiceRetired,
        lambda r: (
            bool(r.status)
            and is_retired_response(r.status, r.headers, deprecation_counts=r.deprecation_counts)
        ),
        _retired_says,
        hint=lambda r: (
            f"Point {r.source} at another OpenAI-compatible server (`modeldesk source add openai NAME URL`)."
        ),
        extra=lambda r: {"retired_on": _sunset_date(r.headers)},
    ),
    Rule(
        RateLimited,
        lambda r: r.status == 429 or r.code in _RATE_CODES,
        lambda r: sentence(f"{r.source}: {r.host} is rate limiting requests ({r.status or r.code}){r.said}"),
        extra=lambda r: {"retry_after": retry_after_seconds(r.headers)},
    ),
    Rule(
        ContentFiltered,
        lambda r: r.code == "content_filter" or r.body.inner_code.lower() == "responsibleaipolicyviolation",
        lambda r: f"{r.source}: the service's content filter refused the request{r.said}",
    ),
    Rule(
        UnsupportedCapability,
        lambda r: bool(_UNSUPPORTED.search(r.server)),
        lambda r: f"{r.where}{r.said}",
    ),
    Rule(
        ModelNotFound,
        lambda r: r.code in _NOT_FOUND_CODES or r.status == 404 or bool(_NOT_FOUND_TEXT.search(r.server)),
        _missing_model,
        hint=lambda r: f"Run `modeldesk sync` and pick a model that {r.source} lists.",
    ),
    Rule(AuthError, lambda r: r.status in (401, 403) or r.code in _AUTH_CODES, _refused),
    Rule(
        SourceTimeout, lambda r: r.status == 504, lambda r: f"{r.where} (the service is unavailable){r.said}"
    ),
    Rule(
        SourceUnavailable,
        lambda r: r.status in (502, 503),
        lambda r: f"{r.where} (the service is unavailable){r.said}",
    ),
    Rule(
        BadResponse,
        lambda r: r.status >= 500 and not r.body.is_json,
        lambda r: f"{r.where} with a reply that is not JSON{r.said}",
    ),
    Rule(RequestRejected, lambda r: True, lambda r: f"{r.where}{r.said or ' with no message.'}"),
)

Hints = Mapping[type[SourceError], str | None]


def map_reply(reply: ErrorReply, *, text: str | None = None, hints: Hints | None = None) -> SourceError:
    """The first rule that matches ``reply``, as an error. ``text`` replaces the rule's wording (an
    adapter with its own voice); ``hints`` replaces a rule's hint by error class (None: the class's
    own default hint)."""
    rule = next(rule for rule in RULES if rule.matches(reply))
    hint = hints[rule.error] if hints is not None and rule.error in hints else rule.hint(reply)
    return rule.error(
        text if text is not None else rule.says(reply),
        source=reply.source,
        status_code=reply.status or (429 if rule.error is RateLimited else None),
        hint=hint,
        **rule.extra(reply),
    )


def map_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    source: str,
    host: str,
    model: str | None = None,
    secrets: Iterable[str | None] = (),
    deprecation_counts: bool = False,
    hints: Hints | None = None,
) -> SourceError:
    """An error reply → the core error that says what happened (see ``RULES``)."""
    reply = ErrorReply.read(
        status,
        headers,
        body,
        source=source,
        host=host,
        model=model,
        secrets=secrets,
        deprecation_counts=deprecation_counts,
    )
    return map_reply(reply, hints=hints)
