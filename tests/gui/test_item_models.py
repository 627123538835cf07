"""The tree item model and its filter proxy: structure, roles, targeted updates, filtering, qtmodeltester."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from desktop_app.core.models import Category, ModelStatus, UnifiedModel
from desktop_app.gui.labels import CATEGORY_ORDER
from desktop_app.gui.qt_model_filter import QtModelFilterProxy, Serving
from desktop_app.gui.qt_model_tree import Col, ItemRole, ModelRow, QtModelTreeModel, category_of
from tests.gui.conftest import hand_made_models, local, remote

pytestmark = pytest.mark.usefixtures("qapp")


def category_row(model: Any, category: Category) -> QModelIndex:
    for r in range(model.rowCount()):
        index = model.index(r, 0)
        if category_of(index) is category:
            return index
    return QModelIndex()


def names_under(model: Any, category: Category) -> list[str]:
    parent = category_row(model, category)
    if not parent.isValid():
        return []
    return [model.index(r, 0, parent).data() for r in range(model.rowCount(parent))]


def shown_categories(model: Any) -> list[Category]:
    return [category_of(model.index(r, 0)) for r in range(model.rowCount())]


def test_tree_structure_counts_and_roles(qtmodeltester: Any) -> None:
    tree = QtModelTreeModel(hand_made_models())
    qtmodeltester.check(tree)
    assert tree.rowCount() == len(CATEGORY_ORDER) == 10
    assert tree.model_count() == 12
    assert names_under(tree, Category.FUNCTION_CALLING) == ["llama3.2:latest", "qwen3:8b"]
    assert names_under(tree, Category.CLOUD_TEXT) == ["gpt-4.1", "llama-3.3-70b-instruct", "text-embedding-3-small"]
    assert names_under(tree, Category.EXPERIMENTAL) == ["pirate-llama"]
    assert category_row(tree, Category.TEXT).data() == "Text (1)"
    assert category_row(tree, Category.CLOUD_TEXT).data() == "Cloud · text (3)"
    assert category_row(tree, Category.MULTIMODAL).data(ItemRole.COUNT) == 1

    qwen = tree.index_of("ollama/qwen3:8b")
    assert qwen.data(ItemRole.MODEL).name == "qwen3:8b"
    assert qwen.siblingAtColumn(Col.BADGE).data() == "LOCAL"
    assert qwen.siblingAtColumn(Col.CAPABILITIES).data() == "tools, thinking"
    assert qwen.siblingAtColumn(Col.SOURCE).data() == "ollama"
    assert qwen.siblingAtColumn(Col.STATUS).data() == "available"
    assert qwen.data(Qt.ItemDataRole.ForegroundRole) is None
    gpt = tree.index_of("openrouter/openai/gpt-4.1")
    assert gpt.siblingAtColumn(Col.BADGE).data() == "REMOTE"
    assert tree.index_of("experimental/pirate-llama").siblingAtColumn(Col.BADGE).data() == "EXPERIMENTAL"

    # Offline and retired rows are greyed, with a tooltip that says why and what to do.
    phi = tree.index_of("ollama/phi3:mini")
    assert phi.data(Qt.ItemDataRole.ForegroundRole) is not None
    tip = phi.siblingAtColumn(Col.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert "cannot connect to 127.0.0.1:11434" in tip and "F5" in tip
    retired = tree.index_of("openrouter/deepseek/deepseek-r1")
    assert "retired on 2026-07-30" in retired.data(Qt.ItemDataRole.ToolTipRole)
    assert "Settings" in retired.data(Qt.ItemDataRole.ToolTipRole)


def test_update_is_targeted_and_keeps_persistent_indexes(qtmodeltester: Any, qtbot: Any) -> None:
    models = hand_made_models()
    tree = QtModelTreeModel(models)
    qtmodeltester.check(tree)  # stays connected: every signal below is checked too
    keep = QPersistentModelIndex(tree.index_of("ollama/qwen3:8b"))
    resets: list[int] = []
    tree.modelReset.connect(lambda: resets.append(1))
    changed: list[tuple[int, int]] = []
    tree.dataChanged.connect(lambda tl, br, roles=(): changed.append((tl.row(), br.row())))

    ollama = [m for m in models if m.provider == "ollama"]
    llava = next(m for m in ollama if m.name == "llava:7b")
    new = [m for m in ollama if m.name not in ("deepseek-r1:7b",) and m is not llava]
    new.append(llava.model_copy(update={"status": ModelStatus.OFFLINE, "status_message": "host down"}))
    new.append(local("gemma3:4b", ["completion", "vision"]))
    new.append(local("all-minilm:latest", ["embedding"]))
    with qtbot.waitSignals([tree.rowsInserted, tree.rowsRemoved], timeout=1000):
        tree.update_models(new, scope=["ollama"])

    assert not resets, "a sync must not reset the whole tree"
    assert keep.isValid() and keep.data() == "qwen3:8b"
    assert names_under(tree, Category.MULTIMODAL) == ["gemma3:4b", "llava:7b"]
    assert names_under(tree, Category.EMBEDDING) == ["all-minilm:latest", "nomic-embed-text:latest"]
    assert names_under(tree, Category.REASONING) == []
    assert tree.index_of("ollama/llava:7b").siblingAtColumn(Col.STATUS).data() == "offline"
    # Remote rows were outside the scope: untouched.
    assert names_under(tree, Category.CLOUD_TEXT) == ["gpt-4.1", "llama-3.3-70b-instruct", "text-embedding-3-small"]
    assert changed, "a changed row is announced with dataChanged"

    # A rename moves the row to its sorted place.
    renamed = [m.model_copy(update={"name": "aaa-first"}) if m.name == "qwen3:8b" else m for m in new]
    tree.update_models(renamed, scope=["ollama"])
    assert names_under(tree, Category.FUNCTION_CALLING) == ["aaa-first", "llama3.2:latest"]
    assert not resets


def test_proxy_passes_qtmodeltester_and_filters(qtmodeltester: Any) -> None:
    tree = QtModelTreeModel(hand_made_models())
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    assert proxy.visible_model_count() == 12
    assert Category.TEXT in shown_categories(proxy) and Category.CLOUD_MULTIMODAL not in shown_categories(proxy)

    proxy.set_text("llama")
    assert proxy.visible_model_count() == proxy.match_count() == 3
    assert shown_categories(proxy) == [Category.FUNCTION_CALLING, Category.CLOUD_TEXT, Category.EXPERIMENTAL]
    assert category_row(proxy, Category.CLOUD_TEXT).data() == "Cloud · text (1 of 3)"
    proxy.set_text("LLAMA 70b")  # words are ANDed, case-insensitive
    assert names_under(proxy, Category.CLOUD_TEXT) == ["llama-3.3-70b-instruct"]
    proxy.set_text("openr")  # a source by the start of its name
    assert proxy.visible_model_count() == 5
    proxy.set_text("")

    proxy.set_capabilities(["embedding"])  # across local and remote at once
    assert names_under(proxy, Category.EMBEDDING) == ["nomic-embed-text:latest"]
    assert names_under(proxy, Category.CLOUD_TEXT) == ["text-embedding-3-small"]
    assert proxy.visible_model_count() == 2
    proxy.set_capabilities(["vision", "tools"])  # several chips: all of them
    assert proxy.visible_model_count() == 1 and names_under(proxy, Category.CLOUD_TEXT) == ["gpt-4.1"]
    proxy.set_capabilities([])

    proxy.set_serving(Serving.REMOTE)
    assert proxy.visible_model_count() == 5
    assert all(c.value.startswith("cloud_") for c in shown_categories(proxy))
    proxy.set_serving(Serving.LOCAL)
    assert proxy.visible_model_count() == 7  # the offline one is still listed (greyed), and the local variant
    assert Category.EXPERIMENTAL in shown_categories(proxy)
    proxy.set_capabilities(["thinking"])
    assert proxy.visible_model_count() == 2
    proxy.set_text("nothing-matches-this")
    assert proxy.rowCount() == 0 and proxy.visible_model_count() == 0


def test_proxy_follows_source_changes(qtmodeltester: Any) -> None:
    tree = QtModelTreeModel(hand_made_models())
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    proxy.set_text("gemma")
    assert proxy.rowCount() == 0
    models = [*tree.models(), local("gemma3:4b", ["completion", "vision"])]
    tree.update_models(models)
    # The new match shows, and its category (hidden until now) with it.
    assert names_under(proxy, Category.MULTIMODAL) == ["gemma3:4b"]
    assert proxy.match_count() == 1
    tree.update_models([m for m in models if m.name != "gemma3:4b"])
    assert proxy.rowCount() == 0 and proxy.match_count() == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_proxy_agrees_with_a_plain_filter(seed: int) -> None:
    """Whatever the order of changes (and the fast paths taken), Qt shows exactly the matching models."""
    rng = random.Random(seed)
    words = ["llama", "qwen", "phi", "gemma", "mistral", "deep", "embed", "vl"]
    capsets = [["completion"], ["completion", "tools"], ["embedding"], ["completion", "vision"],
               ["completion", "thinking", "tools"]]
    models: list[UnifiedModel] = []
    for i in range(400):
        name = f"{rng.choice(words)}-{i}"
        caps = rng.choice(capsets)
        models.append(local(name, caps) if i % 2 else remote(f"{rng.choice(['openai', 'meta', 'x'])}/{name}", caps))
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    for _ in range(40):
        action = rng.randrange(3)
        if action == 0:
            proxy.set_text(rng.choice(["", "l", "ll", "lla", "llama", "llama-1", "q", "qwen 3", "e", "-2"]))
        elif action == 1:
            proxy.set_capabilities(rng.sample(["embedding", "vision", "tools", "thinking"], rng.randrange(3)))
        else:
            proxy.set_serving(rng.choice(list(Serving)))
        expected = {m.id for m in models if _plain(proxy, m)}
        shown = set()
        for r in range(proxy.rowCount()):
            parent = proxy.index(r, 0)
            assert proxy.rowCount(parent) > 0, "an empty category must be hidden"
            shown |= {proxy.index(c, 0, parent).data(ItemRole.MODEL_ID) for c in range(proxy.rowCount(parent))}
        assert shown == expected
        assert proxy.match_count() == len(expected)


def _plain(proxy: QtModelFilterProxy, m: UnifiedModel) -> bool:
    row = ModelRow(m)
    text_ok = all(w in row.haystack or row.provider.startswith(w) for w in proxy.text.split())
    caps_ok = proxy.capabilities <= set(m.capabilities)
    serving_ok = proxy.serving is Serving.ALL or (proxy.serving is Serving.LOCAL) == m.is_local
    return text_ok and caps_ok and serving_ok


def test_a_big_sync_is_one_layout_change_and_indexes_follow(qtmodeltester: Any) -> None:
    base = [local(f"m-{i:03d}", ["completion"]) for i in range(0, 60, 2)]
    tree = QtModelTreeModel(base)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(tree)
    keep = QPersistentModelIndex(tree.index_of("ollama/m-010"))
    gone = QPersistentModelIndex(tree.index_of("ollama/m-020"))
    shown = QPersistentModelIndex(proxy.mapFromSource(tree.index_of("ollama/m-030", 2)))
    inserted: list[int] = []
    layouts: list[int] = []
    tree.rowsInserted.connect(lambda *a: inserted.append(1))
    tree.layoutChanged.connect(lambda *a: layouts.append(1))
    new = [local(f"m-{i:03d}", ["completion"]) for i in range(60) if i != 20]
    tree.update_models(new, scope=["ollama"])
    assert layouts and not inserted, "many rows in at once: one layout change, not a signal per run"
    assert keep.isValid() and keep.data() == "m-010"
    assert not gone.isValid()
    assert shown.isValid() and shown.data(ItemRole.MODEL_ID) == "ollama/m-030" and shown.column() == 2
    assert names_under(tree, Category.TEXT) == [m.name for m in new]
    assert names_under(proxy, Category.TEXT) == [m.name for m in new]
    proxy.set_text("m-05")
    assert names_under(proxy, Category.TEXT) == [f"m-{i:03d}" for i in range(50, 60)]
