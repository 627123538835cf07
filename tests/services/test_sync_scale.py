"""Issue 17: a sync streams the listing into stored rows, writes only what changed, and a big registry
comes out the same as through the pydantic path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from unittest.mock import ANY

import pytest

from desktop_app.adapters.ollama import OllamaBackend
from desktop_app.core.models import SourceKind
from desktop_app.core.stored import stored_model
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import ModelFilter
from tests.fakes.ollama import FakeOllama, make_catalogue, make_cloud_model, make_model

STAMPS = ("created_at", "updated_at")


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


def point_at(ctx: AppContext, fake: FakeOllama) -> None:
    ctx.settings.sources = [ctx.settings.source("ollama").model_copy(update={"base_url": fake.url})]
    ctx.save_settings()


def stored(ctx: AppContext) -> dict[str, str]:
    rows = ctx.registry._conn.execute("SELECT id, data FROM models").fetchall()
    return dict(rows)


def unstamped(data: str) -> dict[str, object]:
    return {k: v for k, v in json.loads(data).items() if k not in STAMPS}


async def test_a_second_sync_that_changes_nothing_writes_no_model_row(ctx: AppContext) -> None:
    # More models than one staging batch, so batches meet the comparison too.
    with FakeOllama(make_catalogue(1_500)) as fake:
        point_at(ctx, fake)
        (first,) = await sync_all(ctx)
        assert first.ok and first.added == 1_500 and ctx.registry.rows_written == 1_500
        before = stored(ctx)
        (second,) = await sync_all(ctx)
        assert second.ok and (second.added, second.removed, second.model_count) == (0, 0, 1_500)
        assert ctx.registry.rows_written == 1_500  # nothing more was written
        assert stored(ctx) == before  # not even updated_at moved

        # One model changes, one leaves, one arrives: exactly those three rows are written.
        changed = fake.models[10]
        changed["capabilities"] = [*changed["capabilities"], "thinking"]
        gone = fake.models.pop(20)["name"]
        fake.models.append(make_model("newcomer:latest", ["completion"]))
        (third,) = await sync_all(ctx)
        assert (third.added, third.removed) == (1, 1)
        assert ctx.registry.rows_written == 1_503
        after = stored(ctx)
        changed_id = f"ollama/{changed['name']}"
        old, new = json.loads(before[changed_id]), json.loads(after[changed_id])
        assert "thinking" in new["capabilities"] and "thinking" not in old["capabilities"]
        assert new["created_at"] == old["created_at"] and new["updated_at"] != old["updated_at"]
        assert f"ollama/{gone}" not in after and "ollama/newcomer:latest" in after
        untouched = set(before) - {changed_id, f"ollama/{gone}"}
        assert all(after[i] == before[i] for i in untouched)


@pytest.mark.parametrize("generation", ["new", "old"])
async def test_the_streamed_sync_stores_what_the_pydantic_path_stores(
    ctx: AppContext, generation: str
) -> None:
    models = [*make_catalogue(300), make_cloud_model("gpt-oss:120b-cloud", remote_model="gpt-oss:120b")]
    with FakeOllama(models, generation=generation) as fake:
        point_at(ctx, fake)
        (report,) = await sync_all(ctx)
        assert report.ok and report.model_count == len(models)
        backend = OllamaBackend(ctx.settings.source("ollama"))
        reference = await backend.list_models()
        await backend.aclose()
    got = {r[0]: r for r in ctx.registry._conn.execute("SELECT * FROM models")}
    assert set(got) == {m.id for m in reference}
    for m in reference:
        want = stored_model(m)
        row = got[m.id]
        assert row[:-1] == want[:-1], m.id  # the indexed columns
        assert unstamped(row[-1]) == unstamped(want[-1]), m.id  # the stored model
        assert list(json.loads(row[-1])) == list(json.loads(want[-1]))  # same fields, same order
    assert ctx.registry.find(reference[0].id) is not None  # and it validates back


async def test_a_listing_bigger_than_the_ordinary_cap_streams(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop_app.adapters.ollama as ollama_module

    monkeypatch.setattr(ollama_module, "MAX_LIST_BODY", 20_000)  # ~50 entries
    with FakeOllama(make_catalogue(400)) as fake:
        point_at(ctx, fake)
        (report,) = await sync_all(ctx)
    assert report.ok and report.model_count == 400
    assert len(ctx.registry.list_models(ModelFilter(provider="ollama"))) == 400
    assert ctx.settings.source("ollama").kind is SourceKind.OLLAMA


def autocheckpoint(ctx: AppContext) -> int:
    return int(ctx.registry._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def break_listing_after(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, n: int, exc: BaseException) -> None:
    """The source's listing raises ``exc`` after ``n`` models (several registry batches in)."""
    backend = ctx.backend(ctx.settings.source("ollama"))
    real_listing = backend.listing

    async def broken() -> AsyncIterator[object]:
        count = 0
        async for row in real_listing():
            if count == n:
                raise exc
            count += 1
            yield row

    monkeypatch.setattr(backend, "listing", broken)


async def test_a_first_sync_writes_each_new_model_once_and_checkpoints_again_after(ctx: AppContext) -> None:
    with FakeOllama(make_catalogue(2_500)) as fake:
        point_at(ctx, fake)
        (report,) = await sync_all(ctx)
    assert report.ok and report.added == 2_500
    assert ctx.registry.rows_written == 2_500
    assert autocheckpoint(ctx) == 1000  # held off while the batches went in, back to SQLite's default


@pytest.mark.parametrize("when", ["first", "later"])
async def test_a_sync_that_breaks_off_leaves_the_registry_as_it_was(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """New models go into the registry while the listing arrives; when it breaks off, they come out."""
    with FakeOllama(make_catalogue(300 if when == "later" else 0)) as fake:
        point_at(ctx, fake)
        if when == "later":
            assert (await sync_all(ctx))[0].ok
        before = stored(ctx)
        fake.models[:] = make_catalogue(3_000)  # 2,700 more, arriving over several batches
        from desktop_app.core.errors import BadResponse

        break_listing_after(ctx, monkeypatch, 2_600, BadResponse("ollama: broke off", source="ollama"))
        (report,) = await sync_all(ctx)
    assert not report.ok and "broke off" in report.message
    after = stored(ctx)
    assert set(after) == set(before)  # none of the new models stayed
    for i in before:  # the old ones are only marked offline, as a failed sync marks them
        old, new = unstamped(before[i]), unstamped(after[i])
        assert {k: v for k, v in new.items() if v != old[k]} == {"status": "offline", "status_message": ANY}
    assert autocheckpoint(ctx) == 1000


async def test_a_cancelled_first_sync_takes_its_new_models_out(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    with FakeOllama(make_catalogue(2_500)) as fake:
        point_at(ctx, fake)
        break_listing_after(ctx, monkeypatch, 2_200, asyncio.CancelledError())
        with pytest.raises(asyncio.CancelledError):
            await sync_all(ctx)
    assert stored(ctx) == {}
    assert autocheckpoint(ctx) == 1000


async def test_a_source_removed_while_its_first_sync_streams_leaves_no_models_behind(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from desktop_app.core.models import SourceHealth
    from desktop_app.services.sources import remove_source
    from desktop_app.store.registry import Registry

    with FakeOllama(make_catalogue(2_500)) as fake:
        point_at(ctx, fake)
        backend = ctx.backend(ctx.settings.source("ollama"))
        real_listing = backend.listing
        halfway, go_on = asyncio.Event(), asyncio.Event()

        async def paused() -> AsyncIterator[object]:
            count = 0
            async for row in real_listing():
                if count == 2_100:  # two batches are in the registry already
                    halfway.set()
                    await go_on.wait()
                count += 1
                yield row

        monkeypatch.setattr(backend, "listing", paused)
        task = asyncio.create_task(sync_all(ctx))
        await halfway.wait()
        cli = AppContext.open()  # `modeldesk source rm ollama` meanwhile, in another process
        assert cli.registry.count() >= 1_000
        remove_source(cli, "ollama", delete_key=True)
        cli.close()
        go_on.set()
        (report,) = await task
    assert report.health is SourceHealth.DISABLED
    fresh = Registry(ctx.home / "registry.db")
    assert fresh.count() == 0
    fresh.close()
