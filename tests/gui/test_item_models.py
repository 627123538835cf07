"""The tree item model and its filter proxy: structure, roles, targeted updates, filtering, qtmodeltester."""

from __future__ import annotations

import random
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from desktop_app.core.categories import DEFAULT_RULES
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


HAND_MADE_TREE = {
    Category.EMBEDDING: ["nomic-embed-text:latest", "text-embedding-3-small"],
    Category.MULTIMODAL: ["gpt-4.1", "llava:7b"],
    Category.FUNCTION_CALLING: [
        "gpt-4.1",
        "llama-3.3-70b-instruct",
        "llama3.2:latest",
        "pirate-llama",
        "qwen3:8b",
    ],
    Category.REASONING: ["deepseek-r1", "deepseek-r1:7b", "qwen3:8b"],
    Category.TEXT: ["deepseek-r1:7b", "llama3.2:latest", "llava:7b", "phi3:mini", "pirate-llama", "qwen3:8b"],
    Category.CLOUD_TEXT: ["gpt-4.1", "llama-3.3-70b-instruct", "text-embedding-3-small"],
    Category.CLOUD_CODE: ["deepseek-r1"],
    Category.CLOUD_MULTIMODAL: [],
    Category.CLOUD_GENERAL: ["mistral-small"],
    Category.EXPERIMENTAL: ["pirate-llama"],
}


def assert_rows_shared(tree: QtModelTreeModel) -> None:
    """Every model has exactly one row under each of its categories, and they share one ModelRow."""
    by_id: dict[str, list[tuple[Category, ModelRow]]] = {}
    for ci, cat in enumerate(CATEGORY_ORDER):
        for r in tree.category_rows(ci):
            by_id.setdefault(r.id, []).append((cat, r))
    assert len(by_id) == tree.model_count()
    for model_id, rows in by_id.items():
        first = rows[0][1]
        assert all(r is first for _, r in rows), f"{model_id}: its rows do not share one ModelRow"
        assert [c for c, _ in rows] == sorted(first.categories, key=CATEGORY_ORDER.index), model_id
        assert set(first.model.categories) | {first.model.category} == set(first.categories)
        assert category_of(tree.index_of(model_id)) is first.model.category
        assert tree.index_of(model_id).data(ItemRole.MODEL_ID) == model_id


def test_tree_structure_counts_and_roles(qtmodeltester: Any) -> None:
    tree = QtModelTreeModel(hand_made_models())
    qtmodeltester.check(tree)
    assert tree.rowCount() == len(CATEGORY_ORDER) == 10
    assert tree.model_count() == 12 and len(tree.models()) == 12 and tree.local_count() == 7
    assert {cat: names_under(tree, cat) for cat in CATEGORY_ORDER} == HAND_MADE_TREE
    assert_rows_shared(tree)
    assert category_row(tree, Category.TEXT).data() == "Text (6)"
    assert category_row(tree, Category.CLOUD_TEXT).data() == "Cloud · text (3)"
    assert category_row(tree, Category.MULTIMODAL).data(ItemRole.COUNT) == 2

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
    assert names_under(tree, Category.MULTIMODAL) == ["gemma3:4b", "gpt-4.1", "llava:7b"]
    assert names_under(tree, Category.EMBEDDING) == [
        "all-minilm:latest",
        "nomic-embed-text:latest",
        "text-embedding-3-small",
    ]
    assert names_under(tree, Category.REASONING) == ["deepseek-r1", "qwen3:8b"]
    assert tree.index_of("ollama/llava:7b").siblingAtColumn(Col.STATUS).data() == "offline"
    # Remote rows were outside the scope: untouched.
    assert names_under(tree, Category.CLOUD_TEXT) == [
        "gpt-4.1",
        "llama-3.3-70b-instruct",
        "text-embedding-3-small",
    ]
    assert changed, "a changed row is announced with dataChanged"
    assert_rows_shared(tree)
    llava_rows = tree.indexes_of("ollama/llava:7b", Col.STATUS)
    assert [category_of(i) for i in llava_rows] == [Category.MULTIMODAL, Category.TEXT]
    assert all(i.data() == "offline" for i in llava_rows), "the change shows in every row of the model"

    # A rename moves the row to its sorted place, in each of the model's categories.
    renamed = [m.model_copy(update={"name": "aaa-first"}) if m.name == "qwen3:8b" else m for m in new]
    tree.update_models(renamed, scope=["ollama"])
    assert names_under(tree, Category.FUNCTION_CALLING)[0] == "aaa-first"
    assert names_under(tree, Category.REASONING) == ["aaa-first", "deepseek-r1"]
    assert names_under(tree, Category.TEXT)[0] == "aaa-first"
    assert not resets
    assert_rows_shared(tree)


def test_proxy_passes_qtmodeltester_and_filters(qtmodeltester: Any) -> None:
    tree = QtModelTreeModel(hand_made_models())
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    assert len(proxy.visible_model_ids()) == proxy.match_count() == 12
    assert proxy.visible_row_count() == sum(map(len, HAND_MADE_TREE.values())) == 24
    # Without a filter every category shows, in the fixed order, the empty one too.
    assert shown_categories(proxy) == list(CATEGORY_ORDER)
    assert category_row(proxy, Category.CLOUD_MULTIMODAL).data() == "Cloud · multimodal (0)"

    proxy.set_text("llama")
    assert len(proxy.visible_model_ids()) == proxy.match_count() == 3
    assert shown_categories(proxy) == [
        Category.FUNCTION_CALLING,
        Category.TEXT,
        Category.CLOUD_TEXT,
        Category.EXPERIMENTAL,
    ]
    assert names_under(proxy, Category.FUNCTION_CALLING) == [
        "llama-3.3-70b-instruct",
        "llama3.2:latest",
        "pirate-llama",
    ]
    assert category_row(proxy, Category.CLOUD_TEXT).data() == "Cloud · text (1 of 3)"
    assert category_row(proxy, Category.TEXT).data() == "Text (2 of 6)"
    proxy.set_text("LLAMA 70b")  # words are ANDed, case-insensitive
    assert names_under(proxy, Category.CLOUD_TEXT) == ["llama-3.3-70b-instruct"]
    proxy.set_text("openr")  # a source by the start of its name
    assert proxy.match_count() == 5
    proxy.set_text("")
    assert shown_categories(proxy) == list(CATEGORY_ORDER), "clearing the filter shows every category again"

    proxy.set_capabilities(["embedding"])  # across local and remote at once
    assert names_under(proxy, Category.EMBEDDING) == ["nomic-embed-text:latest", "text-embedding-3-small"]
    assert names_under(proxy, Category.CLOUD_TEXT) == ["text-embedding-3-small"]
    assert proxy.match_count() == 2 and proxy.visible_row_count() == 3
    proxy.set_capabilities(["vision", "tools"])  # several chips: all of them
    assert proxy.visible_model_ids() == {"openrouter/openai/gpt-4.1"}
    assert shown_categories(proxy) == [Category.MULTIMODAL, Category.FUNCTION_CALLING, Category.CLOUD_TEXT]
    proxy.set_capabilities([])

    proxy.set_serving(Serving.REMOTE)
    assert proxy.match_count() == len(proxy.visible_model_ids()) == 5
    assert Category.CLOUD_MULTIMODAL not in shown_categories(proxy), "while filtering, empty categories hide"
    assert all(
        c.value.startswith("cloud_")
        or c in {Category.EMBEDDING, Category.MULTIMODAL, Category.FUNCTION_CALLING, Category.REASONING}
        for c in shown_categories(proxy)
    )
    proxy.set_serving(Serving.LOCAL)
    # the offline one is still listed (greyed), and the local variant
    assert proxy.match_count() == len(proxy.visible_model_ids()) == 7
    assert Category.EXPERIMENTAL in shown_categories(proxy)
    proxy.set_capabilities(["thinking"])
    assert proxy.visible_model_ids() == {"ollama/deepseek-r1:7b", "ollama/qwen3:8b"}
    proxy.set_text("nothing-matches-this")
    assert proxy.rowCount() == 0 and proxy.visible_row_count() == 0


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
    capsets = [
        ["completion"],
        ["completion", "tools"],
        ["embedding"],
        ["completion", "vision"],
        ["completion", "thinking", "tools"],
    ]
    models: list[UnifiedModel] = []
    for i in range(400):
        name = f"{rng.choice(words)}-{i}"
        caps = rng.choice(capsets)
        models.append(
            local(name, caps) if i % 2 else remote(f"{rng.choice(['openai', 'meta', 'x'])}/{name}", caps)
        )
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
        filtering = proxy.is_filtering()
        assert filtering or proxy.rowCount() == len(CATEGORY_ORDER), "no filter: every category shows"
        for r in range(proxy.rowCount()):
            parent = proxy.index(r, 0)
            assert proxy.rowCount(parent) > 0 or not filtering, "while filtering, an empty category is hidden"
            ids = [proxy.index(c, 0, parent).data(ItemRole.MODEL_ID) for c in range(proxy.rowCount(parent))]
            cat = category_of(parent)
            # Under each category: exactly the matching models that belong to it.
            assert sorted(ids) == sorted(m.id for m in models if m.id in expected and cat in m.categories)
            shown |= set(ids)
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


def test_a_model_is_listed_under_every_category_it_belongs_to() -> None:
    tree = QtModelTreeModel(hand_made_models())
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)

    def categories_of(model_id: str) -> list[Category | None]:
        return [category_of(i) for i in tree.indexes_of(model_id)]

    assert categories_of("ollama/qwen3:8b") == [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]
    assert categories_of("openrouter/openai/gpt-4.1") == [
        Category.MULTIMODAL,
        Category.FUNCTION_CALLING,
        Category.CLOUD_TEXT,
    ]
    # A variant: experimental, plus its parent's categories.
    assert categories_of("experimental/pirate-llama") == [
        Category.FUNCTION_CALLING,
        Category.TEXT,
        Category.EXPERIMENTAL,
    ]
    # index_of (programmatic selection) answers the row under the primary category.
    assert category_of(tree.index_of("ollama/qwen3:8b")) is Category.FUNCTION_CALLING
    assert category_of(tree.index_of("openrouter/openai/gpt-4.1")) is Category.CLOUD_TEXT
    assert category_of(tree.index_of("experimental/pirate-llama")) is Category.EXPERIMENTAL
    # Every row of a model answers the same model (the detail pane, Chat and Delete read it).
    rows = tree.indexes_of("ollama/qwen3:8b")
    assert {id(i.data(ItemRole.MODEL)) for i in rows} == {id(rows[0].data(ItemRole.MODEL))}
    assert {i.data(ItemRole.MODEL_ID) for i in rows} == {"ollama/qwen3:8b"}
    assert len({id(tree.model_at(i.internalId() - 1, i.row())) for i in rows}) == 1, "one ModelRow, shared"
    # Through the proxy too: each row maps back to the same model.
    assert {proxy.mapFromSource(i).data(ItemRole.MODEL_ID) for i in rows} == {"ollama/qwen3:8b"}


def test_every_category_is_shown_and_an_empty_one_says_what_it_is_for(qtmodeltester: Any) -> None:
    models = [m for m in hand_made_models() if m.id != "experimental/pirate-llama"]
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    assert shown_categories(proxy) == list(CATEGORY_ORDER)
    experimental = category_row(proxy, Category.EXPERIMENTAL)
    assert experimental.data() == "Experimental (0)"
    assert not proxy.hasChildren(experimental)
    assert "modeldesk variant create" in experimental.data(Qt.ItemDataRole.ToolTipRole)
    assert experimental.data(Qt.ItemDataRole.ForegroundRole) is not None, "an empty category is greyed"
    assert experimental.data(ItemRole.CELL).grey
    text = category_row(proxy, Category.TEXT)
    assert text.data(Qt.ItemDataRole.ForegroundRole) is None and not text.data(ItemRole.CELL).grey
    assert "modeldesk" not in text.data(Qt.ItemDataRole.ToolTipRole)

    proxy.set_text("qwen")  # while filtering, categories without a match hide
    assert shown_categories(proxy) == [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]
    proxy.set_text("")
    assert shown_categories(proxy) == list(CATEGORY_ORDER)

    # A category that a sync empties stays listed (greyed) while nothing filters.
    tree.update_models(
        [m for m in models if m.id != "openrouter/mistral-ai/mistral-small"], scope=["openrouter"]
    )
    assert category_row(proxy, Category.CLOUD_GENERAL).data() == "Cloud · general (0)"
    assert shown_categories(proxy) == list(CATEGORY_ORDER)

    empty = QtModelFilterProxy()
    empty.setSourceModel(QtModelTreeModel([]))
    assert shown_categories(empty) == list(CATEGORY_ORDER) and empty.match_count() == 0


def _gains_thinking_loses_tools(m: UnifiedModel) -> UnifiedModel:
    caps = [c for c in m.capabilities if c != "tools"] + ["thinking"]
    cats = DEFAULT_RULES.for_capabilities(caps)
    return m.model_copy(update={"capabilities": caps, "categories": cats, "category": cats[0]})


@pytest.mark.parametrize("many", [False, True], ids=["row-by-row", "one-layout-change"])
def test_a_model_that_changes_categories_in_a_sync_moves(qtmodeltester: Any, many: bool) -> None:
    """llama3.2 (function_calling, text) gains thinking and loses tools: it leaves function_calling,
    joins reasoning (its new primary category) and stays in text, without a reset."""
    models = hand_made_models()
    if many:  # enough models changing at once that each category is one layout change
        models += [local(f"zz-{i:02d}", ["completion", "tools"]) for i in range(30)]
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(tree)
    qtmodeltester.check(proxy)
    text_row = QPersistentModelIndex(
        next(i for i in tree.indexes_of("ollama/llama3.2:latest") if category_of(i) is Category.TEXT)
    )
    fc_row = QPersistentModelIndex(tree.index_of("ollama/llama3.2:latest"))
    resets: list[int] = []
    tree.modelReset.connect(lambda: resets.append(1))
    layouts: list[int] = []
    tree.layoutChanged.connect(lambda *a: layouts.append(1))

    changing = {"ollama/llama3.2:latest"} | ({f"ollama/zz-{i:02d}" for i in range(30)} if many else set())
    new = [
        _gains_thinking_loses_tools(m) if m.id in changing else m for m in models if m.provider == "ollama"
    ]
    tree.update_models(new, scope=["ollama"])

    assert not resets
    assert bool(layouts) is many
    assert [category_of(i) for i in tree.indexes_of("ollama/llama3.2:latest")] == [
        Category.REASONING,
        Category.TEXT,
    ]
    assert category_of(tree.index_of("ollama/llama3.2:latest")) is Category.REASONING
    assert "llama3.2:latest" not in names_under(tree, Category.FUNCTION_CALLING)
    assert "llama3.2:latest" in names_under(proxy, Category.REASONING)
    assert text_row.isValid() and text_row.data(ItemRole.MODEL_ID) == "ollama/llama3.2:latest"
    assert text_row.data(ItemRole.MODEL).categories == [Category.REASONING, Category.TEXT]
    assert not fc_row.isValid(), "its row under a category it left is gone"
    assert tree.model_count() == len(models)
    assert_rows_shared(tree)
    if many:
        assert names_under(tree, Category.FUNCTION_CALLING) == [
            "gpt-4.1",
            "llama-3.3-70b-instruct",
            "pirate-llama",
            "qwen3:8b",
        ]
        assert len(names_under(tree, Category.REASONING)) == 3 + 1 + 30

    # While filtering, the match moves with it.
    proxy.set_text("llama3.2")
    assert shown_categories(proxy) == [Category.REASONING, Category.TEXT]
    tree.update_models([m for m in models if m.provider == "ollama"], scope=["ollama"])  # and back
    assert shown_categories(proxy) == [Category.FUNCTION_CALLING, Category.TEXT]
    assert text_row.isValid() and text_row.data(ItemRole.MODEL).categories == [
        Category.FUNCTION_CALLING,
        Category.TEXT,
    ]
    assert {cat: names_under(tree, cat) for cat in CATEGORY_ORDER if not many} == (
        {} if many else HAND_MADE_TREE
    )
    assert_rows_shared(tree)
    assert not resets


def test_a_filter_change_is_one_layout_change_and_selection_and_expansion_follow(
    qtmodeltester: Any, qtbot: Any
) -> None:
    """A keystroke tells Qt once (not a signal per row), and the selected row and the open categories
    follow their models to their new rows; a keystroke that changes no match tells Qt nothing."""
    from PySide6.QtWidgets import QTreeView

    tree = QtModelTreeModel(hand_made_models())
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.expand(category_row(proxy, Category.TEXT))
    view.setCurrentIndex(proxy.mapFromSource(tree.index_of("ollama/qwen3:8b", 1)))
    assert view.currentIndex().row() == 4  # fifth under Function calling, its primary category
    changes = proxy.layout_changes
    proxy.set_text("qwen")
    assert proxy.layout_changes == changes + 1
    assert view.currentIndex().data(ItemRole.MODEL_ID) == "ollama/qwen3:8b"
    assert view.currentIndex().row() == 0 and view.currentIndex().column() == 1
    assert view.selectionModel().isSelected(view.currentIndex())
    assert view.isExpanded(category_row(proxy, Category.TEXT))
    proxy.set_text("qwen3")  # the same models match: nothing to tell
    assert proxy.layout_changes == changes + 1
    proxy.set_text("llama")  # filtered out: no current row, nothing selected
    assert not view.currentIndex().isValid() and not view.selectionModel().hasSelection()
    proxy.set_text("")
    assert view.isExpanded(category_row(proxy, Category.TEXT))
    assert names_under(proxy, Category.TEXT) == HAND_MADE_TREE[Category.TEXT]


def test_a_big_category_shows_its_rows_a_page_at_a_time(
    qtmodeltester: Any, qtbot: Any, monkeypatch: Any
) -> None:
    """Qt lays out every row of an open category on each change: rows come a page at a time, the
    next page when the view scrolls to the end of the rows shown, and a model selected by id beyond
    them is shown first. Counts and filtering are over every row."""
    import desktop_app.gui.qt_model_filter as module
    from desktop_app.gui.qt_model_view import QtModelTreeView

    monkeypatch.setattr(module, "ROWS_PER_PAGE", 10)
    models = [local(f"m-{i:03d}", ["completion"]) for i in range(35)]
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    text = category_row(proxy, Category.TEXT)
    assert proxy.rowCount(text) == 10 and proxy.can_show_more(text)
    assert text.data() == "Text (35)" and proxy.match_count(Category.TEXT) == 35
    assert not proxy.mapFromSource(tree.index_of("ollama/m-020")).isValid()
    shown = proxy.reveal(tree.index_of("ollama/m-020"))
    assert shown.data(ItemRole.MODEL_ID) == "ollama/m-020" and proxy.rowCount(text) == 21
    proxy.set_text("m-0")  # a new filter starts from one page again
    assert proxy.rowCount(category_row(proxy, Category.TEXT)) == 10
    assert proxy.match_count() == 35 and len(proxy.visible_model_ids()) == 35

    proxy.set_text("")
    view = QtModelTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(400, 200)
    view.show()
    text = category_row(proxy, Category.TEXT)
    view.expand(text)
    view.setCurrentIndex(proxy.index(3, 0, text))
    assert proxy.rowCount(text) == 10
    view.scrollToBottom()  # the end of the rows shown comes into view: the next page
    qtbot.waitUntil(lambda: proxy.rowCount(text) >= 20)
    assert view.currentIndex().data(ItemRole.MODEL_ID) == "ollama/m-003"
    proxy.set_text("m-03")
    assert names_under(proxy, Category.TEXT) == [f"m-{i:03d}" for i in range(30, 35)]


def test_a_page_is_not_shown_under_a_current_row_below_it(qtbot: Any, monkeypatch: Any) -> None:
    """End in a filtered 100,000-model tree selected the last category; the page then shown above it
    pushed the selected row out of sight (seen driving the window with xdotool)."""
    from PySide6.QtWidgets import QApplication

    import desktop_app.gui.qt_model_filter as module
    from desktop_app.gui.qt_model_view import QtModelTreeView

    monkeypatch.setattr(module, "ROWS_PER_PAGE", 10)
    models = [local(f"m-{i:03d}", ["completion", "tools"]) for i in range(35)]
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(QtModelTreeModel(models))
    view = QtModelTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.resize(400, 300)
    view.show()
    calling = category_row(proxy, Category.FUNCTION_CALLING)
    view.expand(calling)
    last = proxy.index(proxy.rowCount() - 1, 0)  # the last category, below the open one
    view.setCurrentIndex(last)
    view.scrollToBottom()
    QApplication.processEvents()
    assert proxy.rowCount(calling) == 10  # no page under the current row
    assert view.viewport().rect().intersects(view.visualRect(view.currentIndex()))
    view.setCurrentIndex(proxy.index(0, 0, calling))  # scrolling through the category: pages come
    view.scrollToBottom()
    qtbot.waitUntil(lambda: proxy.rowCount(calling) >= 20)


@pytest.mark.parametrize("added", [3, 60])  # a few rows (insert runs) or many (one layout change)
def test_a_sync_while_filtering_keeps_the_selection_and_shows_new_matches(
    qtmodeltester: Any, qtbot: Any, added: int
) -> None:
    from PySide6.QtWidgets import QTreeView

    models = hand_made_models()
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    proxy.set_text("llama")
    view.setCurrentIndex(proxy.mapFromSource(tree.index_of("ollama/llama3.2:latest")))
    new = [local(f"a-llama-{i:02d}", ["completion", "tools"]) for i in range(added)]
    new += [local(f"a-other-{i:02d}", ["completion", "tools"]) for i in range(added)]
    tree.update_models([*models, *new])
    assert view.currentIndex().data(ItemRole.MODEL_ID) == "ollama/llama3.2:latest"
    assert view.selectionModel().isSelected(view.currentIndex())
    assert proxy.match_count() == 3 + added
    assert names_under(proxy, Category.TEXT)[:added] == [f"a-llama-{i:02d}" for i in range(added)]
    assert category_row(proxy, Category.TEXT).data() == f"Text ({2 + added} of {6 + 2 * added})"
    proxy.set_text("llama a-ll")  # the next keystroke starts from the synced rows
    assert proxy.visible_model_ids() == {m.id for m in new[:added]}


def test_a_changed_model_while_filtering_keeps_its_selection_or_leaves_when_it_no_longer_matches(
    qtmodeltester: Any, qtbot: Any
) -> None:
    from PySide6.QtWidgets import QTreeView

    models = hand_made_models()
    tree = QtModelTreeModel(models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    qtmodeltester.check(proxy)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    proxy.set_text("llama")
    view.setCurrentIndex(proxy.mapFromSource(tree.index_of("ollama/llama3.2:latest")))
    offline = [
        m.model_copy(update={"status": ModelStatus.OFFLINE}) if m.id == "ollama/llama3.2:latest" else m
        for m in models
    ]
    tree.update_models(offline)  # a row changes in place and still matches
    assert view.currentIndex().data(ItemRole.MODEL_ID) == "ollama/llama3.2:latest"
    assert view.currentIndex().data(ItemRole.MODEL).status is ModelStatus.OFFLINE
    proxy.set_text("multilingual")
    assert proxy.visible_model_ids() == {"ollama/llama3.2:latest"}
    renamed = [
        m.model_copy(update={"description": "A small model"}) if m.id == "ollama/llama3.2:latest" else m
        for m in offline
    ]
    tree.update_models(renamed)  # ... and now no longer matches: it leaves, and so does the selection
    assert proxy.visible_model_ids() == set() and proxy.match_count() == 0 and proxy.rowCount() == 0
    assert not view.currentIndex().isValid()
