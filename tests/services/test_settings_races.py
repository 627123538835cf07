"""Settings changed by two ModelDesk processes at once (each an AppContext with its own registry
connection and its own copy of the settings, as the window and a CLI command have)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from desktop_app.core.models import SourceConfig, SourceHealth, SourceKind, UnifiedModel
from desktop_app.services.context import AppContext
from desktop_app.services.sources import add_source, remove_source, set_enabled
from desktop_app.services.sync import sync_source
from desktop_app.store.registry import ModelFilter, Registry
from desktop_app.store.settings import SettingsStore
from tests.fakes.ollama import FakeOllama


@pytest.fixture
async def window() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


def other_process() -> AppContext:
    return AppContext.open()


async def test_source_removed_while_it_syncs_leaves_no_models_behind(
    window: AppContext, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = add_source(window, SourceConfig(name="gpu", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    assert (await sync_source(window, config)).ok
    assert window.registry.count() > 0
    backend = window.backend(config)
    listed, go_on = asyncio.Event(), asyncio.Event()
    real_list = backend.list_models

    async def slow_list() -> list[UnifiedModel]:
        models = await real_list()
        listed.set()
        await go_on.wait()  # the window's sync has its models in hand, not yet written
        return models

    monkeypatch.setattr(backend, "list_models", slow_list)
    task = asyncio.create_task(sync_source(window, config))
    await listed.wait()
    cli = other_process()
    remove_source(cli, "gpu", delete_key=True)  # `modeldesk source rm gpu` while the window syncs it
    cli.close()
    go_on.set()
    report = await task
    assert report.health is SourceHealth.DISABLED and "removed" in report.message
    fresh = Registry(window.home / "registry.db")
    assert fresh.list_models(ModelFilter(provider="gpu")) == []
    fresh.close()


def test_a_stale_copy_never_overwrites_another_process_change(window: AppContext) -> None:
    cli = other_process()
    add_source(cli, SourceConfig(name="cli-added", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:9"))
    cli.close()
    # The window's copy predates the CLI's change; its own change must keep the CLI's source.
    set_enabled(window, "ollama", False)
    on_disk = SettingsStore(window.home / "settings.json").load()
    assert [(s.name, s.enabled) for s in on_disk.sources] == [("ollama", False), ("cli-added", True)]
    assert window.settings == on_disk  # and the window now sees the CLI's source too


def test_a_failed_change_writes_nothing(window: AppContext) -> None:
    before = (window.home / "settings.json").read_bytes()
    with pytest.raises(Exception, match="already exists"):
        add_source(window, SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:9"))
    assert (window.home / "settings.json").read_bytes() == before
