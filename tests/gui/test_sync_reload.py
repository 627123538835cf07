"""Issue 17: after a sync that changed nothing, the window reads and validates nothing again (with
100,000 models that was seconds of pydantic on every sync); when the sync, or another process, changed
the registry, the tree follows as before."""

from __future__ import annotations

from typing import Any

import pytest

from desktop_app.core.models import UnifiedModel
from desktop_app.services.context import AppContext
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama, make_model
from tests.gui.conftest import point_ollama, variant


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the models validated from stored JSON from now on."""
    seen: list[str] = []
    real = UnifiedModel.model_validate_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[UnifiedModel], data: str | bytes, **kw: Any) -> UnifiedModel:
        model = real(cls, data, **kw)
        seen.append(model.id)
        return model

    monkeypatch.setattr(UnifiedModel, "model_validate_json", classmethod(counting))
    return seen


def other_process_writes(model: UnifiedModel) -> None:
    other = AppContext.open()
    other.registry.upsert([model])
    other.close()


def test_a_sync_that_changes_nothing_reloads_nothing(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, run: Any, validated: list[str]
) -> None:
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    run(window.reload_models(None))  # the tree has read all of the registry (as a big one's start-up does)
    assert window.tree_model.model_count() == len(DEFAULT_MODELS)
    validated.clear()

    run(window.refresh())  # the host lists the same models
    assert validated == []
    assert window.tree_model.model_count() == len(DEFAULT_MODELS)
    assert "Synced 1 source" in window.statusBar().currentMessage()

    # Another process adds a variant of one of them: the next sync reads the source's models again.
    base = ctx.registry.get("ollama/llama3.2:latest")
    other_process_writes(variant("pirate-llama", base))
    run(window.refresh())
    assert "ollama/llama3.2:latest" in validated
    assert window.tree_model.index_of("experimental/pirate-llama").isValid()
    validated.clear()
    run(window.refresh())
    # In step again (the registry itself checks the one variant's status against its base).
    assert validated == ["experimental/pirate-llama"]

    # The host changed: the sync writes, and the tree follows.
    fake_ollama.models.append(make_model("newcomer:latest", ["completion"]))
    run(window.refresh())
    assert window.tree_model.index_of("ollama/newcomer:latest").isValid()


def test_after_mlflows_part_the_tree_is_read_again_only_when_it_wrote(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, run: Any, validated: list[str]
) -> None:
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    run(window.reload_models(None))
    validated.clear()
    run(window._reload_if_changed())  # the MLflow child ended having written nothing
    assert validated == []
    base = ctx.registry.get("ollama/qwen3:8b")
    other_process_writes(variant("team-terse", base))  # ... or having read a variant back
    run(window._reload_if_changed())
    assert window.tree_model.index_of("experimental/team-terse").isValid()
