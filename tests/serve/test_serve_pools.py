"""Pools through the OpenAI-compatible endpoint: `pool/<model>` is listed when two Ollama hosts serve
the same model, and a chat on it is answered by one of them (the least busy)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.serve.config import ServeConfig
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_all
from tests.fakes.ollama import FakeOllama
from tests.serve.conftest import running_serve


@pytest.fixture
def hosts() -> Iterator[dict[str, FakeOllama]]:
    fakes = {name: FakeOllama().start() for name in ("gpu-a", "gpu-b")}
    ctx = AppContext.open()
    ctx.settings.sources = [
        SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=fake.url) for name, fake in fakes.items()
    ]
    ctx.save_settings()
    assert all(r.ok for r in asyncio.run(sync_all(ctx)))
    asyncio.run(ctx.aclose())
    ctx.close()
    yield fakes
    for fake in fakes.values():
        fake.stop()


def test_a_pool_is_listed_and_answers_from_one_of_its_hosts(hosts: dict[str, FakeOllama]) -> None:
    with running_serve(ServeConfig(port=0)) as srv:
        client = srv.client()
        ids = {m.id for m in client.models.list()}
        assert "pool/llama3.2:latest" in ids and "gpu-a/llama3.2:latest" in ids
        for fake in hosts.values():
            fake.reset_counters()
        stream = client.chat.completions.create(
            model="pool/llama3.2:latest", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text
        assert sum(fake.requests["/api/chat"] for fake in hosts.values()) == 1
        with pytest.raises(Exception) as info:
            client.chat.completions.create(
                model="pool/no-such-model:latest", messages=[{"role": "user", "content": "Hi"}]
            )
        assert getattr(info.value, "status_code", None) == 404
