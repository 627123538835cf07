"""Run fake servers as subprocesses for benchmarks, so they do not share our process's GIL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(urls: list[str], timeout: float = 30) -> None:
    """Block until every fake answers ``/api/version`` (or raise after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while True:
            try:
                httpx.get(url + "/api/version", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fake at {url} did not start") from None
                time.sleep(0.05)


@contextmanager
def fake_ollama_processes(
    count: int, *, models: int, generation: str = "old", extra: list[str] | None = None
) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.fakes.ollama",
                        "--port",
                        str(port),
                        "--generation",
                        generation,
                        "--models",
                        str(models),
                        "--chunk-delay",
                        "0",
                        *(extra or []),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        wait_up(urls)
        yield urls
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
