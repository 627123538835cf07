"""Pools in the share app: one model with the same digest on two Ollama hosts is listed as one POOL
row ("2 hosts") in its categories, a chat on it is answered by exactly one host (named in the metrics
line), and an evaluation on it runs its cases on the hosts. A model whose digests differ is not pooled,
and with pooling off there is no pool row. The rows are worked out from the registry, never stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from gradio_client import Client, handle_file

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.pools import pool_rows
from desktop_app.services.sync import sync_all
from desktop_app.share.catalog import Catalog
from tests.fakes.ollama import FakeOllama, make_model
from tests.share.conftest import ShareApp, ShareWorld, start_share
from tests.share.test_share_app import chat, models

POOL = "pool/llama3.2:latest"
NAMES = ("gpu-a", "gpu-b")


def two_hosts() -> dict[str, FakeOllama]:
    """Two hosts with the same default models (same digests), and odd:1b under different digests."""
    fakes = {name: FakeOllama().start() for name in NAMES}
    for name, digest in zip(NAMES, ("a" * 64, "b" * 64), strict=True):
        fakes[name].add_model(make_model("odd:1b", digest=digest))
    return fakes


# ------------------------------------------------------------------------- the catalog, in this process
@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    fakes = two_hosts()
    context = AppContext.open()
    context.settings.sources = [
        SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=fake.url) for name, fake in fakes.items()
    ]
    context.save_settings()
    assert all(r.ok for r in await sync_all(context))
    yield context
    await context.aclose()
    context.close()
    for fake in fakes.values():
        fake.stop()


def test_a_pool_is_one_row_only_for_the_same_digest_and_only_with_pooling_on(ctx: AppContext) -> None:
    catalog = Catalog(ctx.registry, allow_remote=False, pools=lambda: pool_rows(ctx))
    rows = {r[-1]: r for r in catalog.table(catalog.search())}
    assert rows[POOL][1:2] + rows[POOL][3:4] == ["POOL", "2 hosts"]
    assert "pool/odd:1b" not in rows and {"gpu-a/odd:1b", "gpu-b/odd:1b"} <= set(rows)
    assert POOL not in {m.id for m in ctx.registry.list_models()}  # never written to the registry
    ctx.settings.preferences.pooling = False
    catalog = Catalog(ctx.registry, allow_remote=False, pools=lambda: pool_rows(ctx))
    assert not [f.id for f in catalog.search() if f.id.startswith("pool/")]


# ------------------------------------------------------------------------- `modeldesk share`, end to end
@pytest.fixture(scope="module")
def pool_world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ShareWorld, dict[str, FakeOllama]]]:
    base = tmp_path_factory.mktemp("share-pools")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "GITHUB_TOKEN")
    }
    env.update(
        MODELDESK_HOME=str(base / "home"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        NO_PROXY="127.0.0.1,localhost",
        GRADIO_ANALYTICS_ENABLED="False",
        MLFLOW_DISABLE_TELEMETRY="true",
        MODELDESK_NO_MLFLOW="1",
        DO_NOT_TRACK="1",
        HF_HOME=str(base / "hf"),
    )
    fakes = two_hosts()
    # No remote source here: the world's remote fake and key are not used.
    world = ShareWorld(base / "home", env, "", fakes["gpu-a"], cast(Any, None), base / "unused")
    steps: list[tuple[str, ...]] = [("source", "rm", "ollama")]
    steps += [("source", "add", "ollama", name, fake.url) for name, fake in fakes.items()]
    for args in [*steps, ("sync",)]:
        done = world.cli(*args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    yield world, fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture(scope="module")
def pool_app(pool_world: tuple[ShareWorld, dict[str, FakeOllama]]) -> Iterator[ShareApp]:
    app = start_share(pool_world[0], name="pools")
    yield app
    app.stop()


@pytest.mark.slow
def test_the_pool_is_listed_once_in_its_categories(pool_app: ShareApp) -> None:
    c = Client(pool_app.url, verbose=False, download_files=False)
    ids, _picker, _summary = models(c, "text", "llama3.2")
    assert ids == [POOL, "gpu-a/llama3.2:latest", "gpu-b/llama3.2:latest"]  # the pool first
    table, _picker, _summary = c.predict("text", "llama3.2", [], "all", None, api_name="/models")
    assert table["value"]["data"][0][1] == "POOL" and table["value"]["data"][0][3] == "2 hosts"
    assert not [i for i in models(c, "all", "odd")[0] if i.startswith("pool/")]  # digests differ
    details = c.predict(POOL, api_name="/details")
    assert "POOL" in details and "gpu-a, gpu-b" in details


@pytest.mark.slow
def test_a_chat_on_the_pool_is_answered_by_one_host(
    pool_app: ShareApp, pool_world: tuple[ShareWorld, dict[str, FakeOllama]]
) -> None:
    fakes = pool_world[1]
    for fake in fakes.values():
        fake.reset_counters()
    updates = chat(Client(pool_app.url, verbose=False, download_files=False), POOL, "Why is the sky blue?")
    history, metrics = updates[-1][0], updates[-1][1]
    assert history[-1]["role"] == "assistant" and history[-1]["content"]
    asked = {name: fake.requests["/api/chat"] for name, fake in fakes.items()}
    assert sum(asked.values()) == 1, asked
    host = next(name for name, n in asked.items() if n == 1)
    assert metrics.endswith(f"via {host}"), metrics


@pytest.mark.slow
def test_an_evaluation_can_run_on_the_pool(
    pool_app: ShareApp, pool_world: tuple[ShareWorld, dict[str, FakeOllama]], tmp_path: Path
) -> None:
    fakes = pool_world[1]
    for fake in fakes.values():
        fake.reset_counters()
    rows = "".join(f"  - word: w{i}\n" for i in range(6))
    suite = tmp_path / "six.prompt.yml"
    suite.write_text(
        f"name: six\nmessages:\n  - role: user\n    content: Say {{{{word}}}}\ntestData:\n{rows}"
        "evaluators:\n  - name: says something\n    regex:\n      pattern: '.+'\n",
        encoding="utf-8",
    )
    c = Client(pool_app.url, verbose=False, download_files=False)
    status, table, _files = c.predict(None, handle_file(str(suite)), [POOL], "", api_name="/evaluate")
    assert "6 of 6 cases" in status, status
    assert any(POOL in h for h in table["value"]["headers"])
    assert sum(fake.requests["/api/chat"] for fake in fakes.values()) == 6  # each case once, on a host
    # A judge is one host's model: a pool is refused as one.
    status, _table, _files = c.predict(None, handle_file(str(suite)), [POOL], POOL, api_name="/evaluate")
    assert status.startswith("⚠") and "judge" in status, status
