"""`modeldesk serve` overhead (issue 15).

8 concurrent clients stream chat completions, each request after the one before, first straight from
the fake Ollama's own OpenAI-compatible endpoint (``/v1/chat/completions``, which wraps its native
``/api/chat`` as the real server does), then through ``modeldesk serve`` (which calls the native
``/api/chat`` through ModelDesk's services), alternating rounds. The fake, the server and the clients
are three processes. Per request: latency (request sent to ``[DONE]``) and time to first token (to the
first content delta); per round: throughput (requests/s). Targets: through serve ≤ 1.2× the direct
latency, ≥ 0.8× its throughput, and < 5 ms of time to first token added.

Two paces: a model streaming 50 tokens/s (20 ms between tokens; a fast local model), and no pacing at
all (every token at once: what the server's own CPU costs, the worst case for the ratios).

Run: .venv/bin/python bench/bench_serve.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._env import require_fresh
from bench._fakes import ROOT, free_port, wait_up

CLIENTS, PER_CLIENT, ROUNDS = 8, 6, 3
REPLY = " ".join(f"word{i}" for i in range(60))  # 60 streamed tokens per reply
MODEL = "llama3.2:latest"


@contextmanager
def processes(chunk_delay: float) -> Iterator[tuple[str, str]]:
    """(direct base URL, serve base URL): a fake Ollama and `modeldesk serve` over it."""
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "MODELDESK_HOME": home, "NO_PROXY": "127.0.0.1"}
        try:
            fport = free_port()
            fake = f"http://127.0.0.1:{fport}"
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.fakes.ollama", "--port", str(fport),
                     "--chunk-delay", str(chunk_delay), "--reply", REPLY],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            wait_up([fake])
            cli = [sys.executable, "-m", "desktop_app"]
            for args in (["source", "rm", "ollama"], ["source", "add", "ollama", "ollama", fake], ["sync"]):
                subprocess.run([*cli, *args], cwd=ROOT, env=env, check=True, capture_output=True)
            sport = free_port()
            procs.append(
                subprocess.Popen(
                    [*cli, "serve", "--port", str(sport)], cwd=ROOT, env=env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            serve = f"http://127.0.0.1:{sport}/v1"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(serve + "/models", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("modeldesk serve did not start")
                time.sleep(0.05)
            yield fake + "/v1", serve
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=10)


async def one(client: httpx.AsyncClient, url: str, model: str) -> tuple[float, float]:
    """(latency, ttft) of one streamed request, parsing every event as a client would."""
    body = {"model": model, "messages": [{"role": "user", "content": "Tell me something."}], "stream": True}
    started = time.perf_counter()
    ttft = None
    text = []
    async with client.stream("POST", url + "/chat/completions", json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                continue  # read on to the end of the body, as the openai SDK does, so the connection is reused
            chunk = json.loads(line[6:])
            content = chunk["choices"][0]["delta"].get("content") if chunk["choices"] else None
            if content:
                if ttft is None:
                    ttft = time.perf_counter() - started
                text.append(content)
    assert "".join(text) == REPLY, "".join(text)[:80]
    assert ttft is not None
    return time.perf_counter() - started, ttft


async def round_(url: str, model: str) -> tuple[list[float], list[float], float]:
    latencies: list[float] = []
    ttfts: list[float] = []
    async with httpx.AsyncClient(
        timeout=60, trust_env=False, limits=httpx.Limits(max_connections=CLIENTS)
    ) as client:
        # Open the connections first: http.server's listen backlog is 5, so 8 connecting at once can
        # lose a SYN, retried after 1 s. Requests then reuse them.
        for _ in range(CLIENTS):
            await one(client, url, model)
        await asyncio.gather(*(one(client, url, model) for _ in range(CLIENTS)))

        async def worker() -> None:
            for _ in range(PER_CLIENT):
                latency, ttft = await one(client, url, model)
                latencies.append(latency)
                ttfts.append(ttft)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        wall = time.perf_counter() - started
    return latencies, ttfts, CLIENTS * PER_CLIENT / wall


def bench(chunk_delay: float) -> dict[str, float]:
    direct: dict[str, list[float]] = {"lat": [], "ttft": [], "tput": []}
    served: dict[str, list[float]] = {"lat": [], "ttft": [], "tput": []}
    with processes(chunk_delay) as (fake, serve):
        for _ in range(ROUNDS):
            for into, url, model in ((direct, fake, MODEL), (served, serve, f"ollama/{MODEL}")):
                lat, ttft, tput = asyncio.run(round_(url, model))
                into["lat"] += lat
                into["ttft"] += ttft
                into["tput"].append(tput)
    med = statistics.median
    return {
        "direct_latency_ms": med(direct["lat"]) * 1000,
        "serve_latency_ms": med(served["lat"]) * 1000,
        "latency_ratio": med(served["lat"]) / med(direct["lat"]),
        "direct_rps": med(direct["tput"]),
        "serve_rps": med(served["tput"]),
        "throughput_ratio": med(served["tput"]) / med(direct["tput"]),
        "direct_ttft_ms": med(direct["ttft"]) * 1000,
        "serve_ttft_ms": med(served["ttft"]) * 1000,
        "ttft_added_ms": (med(served["ttft"]) - med(direct["ttft"])) * 1000,
    }


def main() -> None:
    require_fresh()
    print(
        f"{CLIENTS} concurrent clients × {PER_CLIENT} streamed requests × {ROUNDS} rounds, {len(REPLY.split())} tokens each"
    )
    for label, delay in (("50 tokens/s (20 ms between tokens)", 0.02), ("no pacing (CPU only)", 0.0)):
        r = bench(delay)
        ok = r["latency_ratio"] <= 1.2 and r["throughput_ratio"] >= 0.8 and r["ttft_added_ms"] < 5
        print(f"\n{label}: {'meets' if ok else 'MISSES'} the targets")
        print(
            f"  latency   direct {r['direct_latency_ms']:.1f} ms, serve {r['serve_latency_ms']:.1f} ms: "
            f"{r['latency_ratio']:.2f}× (target ≤ 1.2×)"
        )
        print(
            f"  throughput direct {r['direct_rps']:.1f} req/s, serve {r['serve_rps']:.1f} req/s: "
            f"{r['throughput_ratio']:.2f}× (target ≥ 0.8×)"
        )
        print(
            f"  first token direct {r['direct_ttft_ms']:.1f} ms, serve {r['serve_ttft_ms']:.1f} ms: "
            f"+{r['ttft_added_ms']:.1f} ms (target < 5 ms)"
        )


if __name__ == "__main__":
    main()
