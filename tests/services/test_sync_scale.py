"""Issue 17: a sync streams the listing into stored rows, writes only what changed, and a big registry
comes out the same as through the pydantic path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from desktop_app.adapters.ollama import OllamaBackend
from desktop_app.core.models import SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_all
from desktop_app.store.registry import ModelFilter, _row
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
        want = _row(m)
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
