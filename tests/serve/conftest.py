"""A real `modeldesk serve` app under uvicorn on 127.0.0.1:0 in a thread (its own event loop and
AppContext, as in the real process), over a registry synced from the fakes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest

from desktop_app.cli import main
from desktop_app.serve.config import ServeConfig
from desktop_app.serve.server import bind, make_server
from desktop_app.services.context import AppContext
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer

VARIANT_SYSTEM = "Answer in one sentence, like a pirate."


@dataclass
class RunningServe:
    config: ServeConfig
    port: int
    server: Any
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, api_key: str = "anything", **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=api_key, max_retries=0, timeout=20, **kwargs)


@contextmanager
def running_serve(config: ServeConfig) -> Iterator[RunningServe]:
    sock = bind(ServeConfig("127.0.0.1", 0, config.token, config.allow_remote))
    holder: dict[str, Any] = {}
    ready = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        async def go() -> None:
            ctx = AppContext.open()
            try:
                server = make_server(ctx, config)
                holder["server"] = server
                ready.set()
                await server.serve(sockets=[sock])
            finally:
                await ctx.aclose()
                ctx.close()

        try:
            asyncio.run(go())
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="serve", daemon=True)
    thread.start()
    assert ready.wait(20), "the server thread did not start"
    server = holder.get("server")
    deadline = time.monotonic() + 20
    while server is not None and not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    assert server is not None and server.started, errors
    running = RunningServe(config, sock.getsockname()[1], server, thread, errors)
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
    assert not errors, errors


@pytest.fixture
def registry(
    fake_ollama: FakeOllama, fake_openai: FakeOpenAIServer, capsys: pytest.CaptureFixture[str]
) -> AppContext:
    """Sources `ollama` (the fake Ollama) and `work` (the fake OpenAI-compatible service, key in the
    key store), synced, plus the variant `exp/pirate` of llama3.2 with a system prompt."""
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "ollama", fake_ollama.url]) == 0
    assert main(["source", "add", "openai", "work", fake_openai.url]) == 0
    ctx = AppContext.open()
    assert fake_openai.api_key is not None
    ctx.keys.set("work", fake_openai.api_key)
    ctx.close()
    assert main(["sync"]) == 0
    assert (
        main(["variant", "create", "ollama/llama3.2:latest", "--name", "pirate", "--system", VARIANT_SYSTEM])
        == 0
    )
    capsys.readouterr()
    ctx = AppContext.open()
    yield ctx
    ctx.close()


@pytest.fixture
def serve(registry: AppContext) -> Callable[..., Any]:
    """``with serve(allow_remote=True) as srv:`` — a running server over the synced registry."""

    def start(**kwargs: Any) -> Any:
        return running_serve(ServeConfig(**{"port": 0, **kwargs}))

    return start
