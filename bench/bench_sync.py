"""Sync and list benchmarks (issue 2).

(a) Sync 3 fake Ollama hosts × 150 models of the old generation (no capabilities in /api/tags, so
    450 /api/show calls) into a fresh registry, against the floor: the same requests made by a bare
    httpx loop with the same concurrency. Target: ≤ 1.5× the floor and under 1 s.
(b) `modeldesk list --json` of a 10,000-model registry, as a whole process. Target: under 0.5 s.

Run: .venv/bin/python bench/bench_sync.py   (the fakes run as subprocesses)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._env import require_fresh
from bench._fakes import ROOT, fake_ollama_processes
from desktop_app.core.models import Category, SourceConfig, SourceKind, UnifiedModel
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import Registry

HOSTS, MODELS, RUNS = 3, 150, 7
SHOW_CONCURRENCY = 4  # the adapter's default


async def floor(urls: list[str]) -> float:
    """The same requests, bare: /api/version, /api/tags, then one /api/show per model."""
    started = time.perf_counter()

    async def host(url: str) -> None:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            (await client.get("/api/version")).json()
            tags = (await client.get("/api/tags")).json()["models"]
            sem = asyncio.Semaphore(SHOW_CONCURRENCY)

            async def show(name: str) -> None:
                async with sem:
                    (await client.post("/api/show", json={"model": name})).json()

            await asyncio.gather(*(show(m["name"]) for m in tags))

    await asyncio.gather(*(host(u) for u in urls))
    return time.perf_counter() - started


async def ours(urls: list[str]) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["MODELDESK_HOME"] = home
        started = time.perf_counter()
        ctx = AppContext.open()
        ctx.settings.sources = [
            SourceConfig(name=f"host{i}", kind=SourceKind.OLLAMA, base_url=u) for i, u in enumerate(urls)
        ]
        ctx.save_settings()  # a sync records only sources configured on disk
        reports = await sync_all(ctx)
        elapsed = time.perf_counter() - started
        assert all(r.ok for r in reports), reports
        count = ctx.registry.count()
        await ctx.aclose()
        ctx.close()
        return elapsed, count


def bench_sync() -> dict[str, float]:
    with fake_ollama_processes(HOSTS, models=MODELS, generation="old") as urls:
        asyncio.run(floor(urls))  # warm the fakes
        floors, syncs = [], []
        for _ in range(RUNS):
            floors.append(asyncio.run(floor(urls)))
            t, count = asyncio.run(ours(urls))
            assert count == HOSTS * MODELS, count
            syncs.append(t)
    f, s = statistics.median(floors), statistics.median(syncs)
    return {"floor_s": f, "sync_s": s, "ratio": s / f}


def bench_list(n: int = 10_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        reg = Registry(Path(home) / "registry.db")
        cats = [[Category.TEXT], [Category.MULTIMODAL, Category.TEXT], [Category.EMBEDDING]]
        reg.upsert(
            UnifiedModel(
                id=f"host{i % 3}/model-{i:05d}:latest",
                name=f"model-{i:05d}:latest",
                provider=f"host{i % 3}",
                ollama_name=f"model-{i:05d}:latest",
                categories=cats[i % 3],
                category=cats[i % 3][0],
                capabilities=["completion"],
                family="llama",
                parameter_size="8B",
                size_bytes=4_000_000_000 + i,
                description="synthetic benchmark model",
            )
            for i in range(n)
        )
        reg.close()
        env = dict(os.environ, MODELDESK_HOME=home)
        cmd = [sys.executable, "-m", "desktop_app", "list", "--json"]
        bare = [sys.executable, "-c", "pass"]
        times, bares = [], []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(bare, check=True)
            bares.append(time.perf_counter() - t0)
        assert out.stdout.count(b'"id"') == n
    return {"list_s": statistics.median(times), "python_start_s": statistics.median(bares)}


def main() -> None:
    require_fresh()
    s = bench_sync()
    print(
        f"sync {HOSTS} hosts x {MODELS} models (old servers, {HOSTS * MODELS} /api/show): "
        f"median {s['sync_s'] * 1000:.0f} ms; bare-httpx floor {s['floor_s'] * 1000:.0f} ms; "
        f"ratio {s['ratio']:.2f}x (target <= 1.5x and < 1 s)"
    )
    lst = bench_list()
    print(
        f"list --json of 10,000 models (whole process): median {lst['list_s'] * 1000:.0f} ms "
        f"(bare python start {lst['python_start_s'] * 1000:.0f} ms; target < 500 ms)"
    )


if __name__ == "__main__":
    main()
