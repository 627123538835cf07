"""The shared HTTP layer's limits: JSON nesting checked before parsing, reply bodies capped."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from desktop_app.adapters._http import nesting_within, parse_json, request_capped
from desktop_app.core.errors import BadResponse


@pytest.mark.parametrize(
    ("text", "limit", "ok"),
    [
        ("[[[]]]", 3, True),
        ("[[[[]]]]", 3, False),
        ('{"a": "[[[[[[{{{{"}', 1, True),  # brackets inside strings do not count
        ('["\\"[[[[", 1]', 1, True),  # nor after an escaped quote
        ('["\\\\", [[1]]]', 2, False),  # an escaped backslash does not hide the closing quote
        ('["\\\\", [[1]]]', 3, True),
        ('{"models": [{"details": {"families": ["llama"]}}]}', 5, True),
    ],
)
def test_nesting_within_counts_only_structure(text: str, limit: int, ok: bool) -> None:
    assert nesting_within(text.encode(), limit) is ok
    if ok:
        json.loads(text)  # the cases are real JSON


def test_parse_json_refuses_absurd_nesting_with_a_clear_error() -> None:
    with pytest.raises(BadResponse) as info:
        parse_json(b"[" * 200_000 + b"]" * 200_000, source="lab", what="the reply to /api/tags")
    assert "nested more than 200 levels" in info.value.message and info.value.source == "lab"


async def test_request_capped_stops_reading_at_the_cap() -> None:
    sent = {"chunks": 0}

    async def endless() -> AsyncIterator[bytes]:
        while True:
            sent["chunks"] += 1
            yield b"x" * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(BadResponse) as info:
            await request_capped(client, "GET", "http://lab/api/tags", source="lab", max_bytes=1024 * 1024)
        assert "the reply from lab exceeds 1 MB" in info.value.message
        assert sent["chunks"] <= 1024 * 1024 // 65536 + 1


async def test_request_capped_keeps_a_reply_within_the_cap_readable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big":
            return httpx.Response(200, content=b"x" * 2048)  # Content-Length says too much: not read
        return httpx.Response(200, json={"models": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        response = await request_capped(client, "GET", "http://lab/api/tags", source="lab", max_bytes=1024)
        assert response.json() == {"models": []}
        with pytest.raises(BadResponse, match="exceeds 1024 bytes"):
            await request_capped(client, "GET", "http://lab/big", source="lab", max_bytes=1024)
