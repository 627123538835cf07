"""The one HTTP error mapping every adapter shares (``adapters/_errors.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from desktop_app.adapters._errors import RULES, map_error, retry_after_seconds, transport_error
from desktop_app.core.errors import (
    AuthError,
    BadResponse,
    ContentFiltered,
    InvalidInput,
    ModelNotFound,
    RateLimited,
    RequestRejected,
    ServiceRetired,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedCapability,
)


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (401, {}, b"", AuthError),
        (403, {}, b'{"error":{"code":"forbidden","message":"no"}}', AuthError),
        (403, {"Sunset": "Thu, 30 Jul 2026 00:00:00 GMT"}, b"", ServiceRetired),
        (403, {"Deprecation": "@1777939200"}, b"", AuthError),  # deprecated is not gone (generic servers)
        (410, {}, b"Gone", ServiceRetired),
        (404, {}, b"Not Found", ModelNotFound),
        (400, {}, b'{"error":{"code":"model_not_found","message":"nope"}}', ModelNotFound),
        (400, {}, b'{"error":{"code":"content_filter","message":"x"}}', ContentFiltered),
        (
            400,
            {},
            b'{"error":{"code":"invalid","innererror":{"code":"ResponsibleAIPolicyViolation"}}}',
            ContentFiltered,
        ),
        (400, {}, b'{"error":{"message":"bad temperature","type":"invalid_request_error"}}', RequestRejected),
        (400, {}, b'{"error":"\\"llama3\\" does not support tools"}', UnsupportedCapability),
        (422, {}, b"plain words", RequestRejected),
        (429, {}, b"slow down", RateLimited),
        (500, {}, b"<html><body>Internal error</body></html>", BadResponse),
        (500, {}, b'{"error":{"message":"boom"}}', RequestRejected),
        (502, {}, b"<html>Bad Gateway</html>", SourceUnavailable),
        (503, {}, b"", SourceUnavailable),
        (504, {}, b"", SourceTimeout),
        (400, {}, b'{"error":"model \'ghost\' not found"}', ModelNotFound),
        (500, {}, b'{"error":"pull model manifest: file does not exist"}', ModelNotFound),
        (400, {}, b'{"error":"\\"nomic-embed-text\\" does not support chat"}', UnsupportedCapability),
        (404, {}, b'{"error":"\\"x\\" does not support insert"}', UnsupportedCapability),
    ],
)
def test_map_error(status: int, headers: dict[str, str], body: bytes, expected: type[SourceError]) -> None:
    err = map_error(status, headers, body, source="work", host="h:1", secrets=["sk-secret-123"])
    assert type(err) is expected
    assert err.source == "work" and "work" in err.message


def test_map_error_scrubs_the_key_and_html() -> None:
    err = map_error(
        401,
        {},
        b"<html><b>Bad key sk-secret-123</b></html>",
        source="work",
        host="h:1",
        secrets=["sk-secret-123"],
    )
    assert "sk-secret-123" not in str(err) and "<b>" not in err.message and "Bad key ***" in err.message


def test_retry_after_precedence_and_formats() -> None:
    now = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds({"x-ratelimit-timeremaining": "30", "Retry-After": "90"}) == 30.0
    assert retry_after_seconds({"Retry-After": "90"}) == 90.0
    date = format_datetime(now + timedelta(seconds=45), usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=now) == 45.0
    assert (
        retry_after_seconds({"Retry-After": format_datetime(now - timedelta(hours=1), usegmt=True)}, now=now)
        == 0.0
    )
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_a_github_deprecation_header_means_gone_only_where_it_counts() -> None:
    headers = {"Deprecation": "@1777939200"}
    assert type(map_error(403, headers, b"", source="gh", host="h")) is AuthError
    assert (
        type(map_error(403, headers, b"", source="gh", host="h", deprecation_counts=True)) is ServiceRetired
    )


def test_the_rate_limit_wait_and_the_sunset_date_are_read_from_the_headers() -> None:
    limited = map_error(429, {"Retry-After": "7"}, b"", source="work", host="h:1")
    assert isinstance(limited, RateLimited) and limited.retry_after == 7.0 and limited.status_code == 429
    in_stream = map_error(
        0, {}, b'{"error":{"code":"RateLimitReached","message":"wait"}}', source="w", host="h"
    )
    assert isinstance(in_stream, RateLimited) and in_stream.status_code == 429
    gone = map_error(410, {"Sunset": "Thu, 30 Jul 2026 00:00:00 GMT"}, b"", source="work", host="h:1")
    assert isinstance(gone, ServiceRetired) and gone.retired_on == "2026-07-30"
    assert "shut down on 2026-07-30" in gone.message


def test_an_adapter_hint_replaces_the_rules_own() -> None:
    err = map_error(401, {}, b"", source="work", host="h:1", hints={AuthError: "Set the key."})
    assert err.hint == "Set the key."
    missing = map_error(404, {}, b"", source="work", host="h:1", hints={ModelNotFound: None})
    assert missing.hint == ModelNotFound.default_hint


def test_the_table_ends_with_a_rule_that_takes_anything() -> None:
    assert RULES[-1].error is RequestRejected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectTimeout("t"), SourceTimeout),  # a TransportError too: the more specific rule wins
        (httpx.ReadTimeout("t"), SourceTimeout),
        (httpx.ConnectError("refused"), SourceUnavailable),
        (httpx.RemoteProtocolError("broken"), BadResponse),
        (httpx.ProxyError("proxy"), SourceUnavailable),
        (httpx.InvalidURL("bad"), InvalidInput),
    ],
)
def test_failures_without_a_reply(exc: Exception, expected: type[Exception]) -> None:
    err = transport_error(exc, "work", "h:1")
    assert type(err) is expected
    assert "work" in err.message and "sk-" not in str(err)
