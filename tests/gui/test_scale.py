"""Issue 17: a big registry's first paint shows counts from one query and fills the categories right
after (or when one is expanded); tree rows made from stored JSON match the models; the filter over a
big generated registry shows exactly the matching models."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import desktop_app.gui.startup as startup_module
from desktop_app.core.models import Category, UnifiedModel
from desktop_app.gui.labels import CATEGORY_LABELS, CATEGORY_ORDER
from desktop_app.gui.qt_main_window import QtMainWindow
from desktop_app.gui.qt_model_filter import QtModelFilterProxy, Serving
from desktop_app.gui.qt_model_tree import Col, ItemRole, ModelRow, QtModelTreeModel, category_of
from desktop_app.gui.startup import read_startup
from desktop_app.store.paths import data_dir
from desktop_app.store.registry import Registry
from tests.gui.conftest import hand_made_models, local, remote

WORDS = ["llama", "qwen", "phi", "gemma", "mistral", "deep", "embed", "vl", "ünï"]
CAPSETS = [["completion"], ["completion", "tools"], ["embedding"], ["completion", "vision"], ["thinking"]]


def generated(n: int, seed: int = 17) -> list[UnifiedModel]:
    rng = random.Random(seed)
    out = list(hand_made_models())
    for i in range(n):
        name = f"{rng.choice(WORDS)}-{i}:{rng.choice(['7b', 'latest', '70B'])}"
        caps = rng.choice(CAPSETS)
        if i % 3:
            out.append(local(name, caps, provider=rng.choice(["ollama", "gpu"]), family=rng.choice(WORDS)))
        else:
            out.append(remote(f"{rng.choice(['openai', 'meta', 'x'])}/{name}", caps))
    return out


def fill(models: list[UnifiedModel]) -> None:
    registry = Registry(data_dir() / "registry.db")
    registry.upsert(models)
    registry.close()


def category_labels(model: Any) -> list[str]:
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def rows_under(model: Any) -> dict[Category | None, list[str]]:
    out = {}
    for r in range(model.rowCount()):
        parent = model.index(r, 0)
        out[category_of(parent)] = [
            model.index(c, 0, parent).data(ItemRole.MODEL_ID) for c in range(model.rowCount(parent))
        ]
    return out


def test_a_big_registry_paints_counts_first_then_fills_on_expand(
    qtbot: Any, qtmodeltester: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = generated(300)
    fill(models)
    eager = QtModelTreeModel(models)
    eager_proxy = QtModelFilterProxy()
    eager_proxy.setSourceModel(eager)

    monkeypatch.setattr(startup_module, "LAZY_ABOVE", 100)
    startup = read_startup()
    assert startup.rows == [] and startup.kinds is not None  # no row read before the first paint
    window = QtMainWindow(startup=startup)
    qtbot.addWidget(window)
    tree, proxy = window.tree_model, window.proxy
    assert tree.pending
    qtmodeltester.check(tree)
    qtmodeltester.check(proxy)
    # Counts from one query: the same labels, totals and local count as the tree built from every row.
    assert category_labels(proxy) == category_labels(eager_proxy)
    assert (tree.model_count(), tree.local_count()) == (eager.model_count(), eager.local_count())
    for cat in CATEGORY_ORDER:
        assert tree.category_count(cat) == eager.category_count(cat)
        index = proxy.mapFromSource(tree.category_index(cat))
        assert proxy.hasChildren(index) == (eager.category_count(cat) > 0)
    assert all(proxy.rowCount(proxy.index(r, 0)) == 0 for r in range(proxy.rowCount()))
    assert f"{eager.model_count():,} models" in window.summary.text()

    # Expanding a category reads the rows; the category stays open and shows its models.
    text = proxy.mapFromSource(tree.category_index(Category.TEXT))
    window.tree.expand(text)
    qtbot.waitUntil(lambda: not tree.pending)
    qtmodeltester.check(tree)
    assert rows_under(proxy) == rows_under(eager_proxy)
    assert category_labels(proxy) == category_labels(eager_proxy)
    assert window.tree.isExpanded(proxy.mapFromSource(tree.category_index(Category.TEXT)))
    assert tree.category_count(Category.TEXT) == len(tree.category_rows(CATEGORY_ORDER.index(Category.TEXT)))


def test_a_small_registry_is_read_before_the_first_paint(isolated_home: Path) -> None:
    fill(generated(20))
    startup = read_startup()
    assert startup.kinds is None and len(startup.rows) == 20 + len(hand_made_models())


def old_haystack(m: UnifiedModel) -> str:
    """What a search looked into before rows were made per kind (names, facts, tags, capabilities,
    categories with their labels)."""
    cats = list(dict.fromkeys([m.category, *m.categories]))
    parts = [
        m.name,
        m.native_name if m.native_name != m.name else "",
        m.description,
        m.family or "",
        m.publisher or "",
        m.parameter_size or "",
        m.quantization or "",
        " ".join(m.tags),
        " ".join(m.capabilities),
        " ".join(f"{c.value} {CATEGORY_LABELS[c]}" for c in cats),
    ]
    return " ".join(x for x in parts if x).lower()


def test_rows_from_stored_json_match_rows_from_models() -> None:
    for m in generated(400):
        a, b = ModelRow(m), ModelRow.from_json(m.model_dump_json())
        assert a.haystack == b.haystack == old_haystack(m)
        assert a.texts == b.texts and a.texts[Col.NAME] == m.name and a.texts[Col.SOURCE] == m.provider
        assert [(c.kind, c.text, c.grey, c.extra) for c in a.cells] == [
            (c.kind, c.text, c.grey, c.extra) for c in b.cells
        ]
        assert (a.categories, a.capabilities, a.badge, a.local) == (
            b.categories,
            b.capabilities,
            b.badge,
            b.local,
        )


@pytest.mark.parametrize("query", ["l", "llama", "ünï", "qwen 7b", "gpu", "embed", "-1", "zzz"])
def test_filter_over_a_big_registry_shows_exactly_the_matches(query: str) -> None:
    models = generated(3_000, seed=3)
    tree = QtModelTreeModel.from_json(m.model_dump_json() for m in models)
    proxy = QtModelFilterProxy()
    proxy.setSourceModel(tree)
    for caps, serving in (((), Serving.ALL), (("tools",), Serving.LOCAL), ((), Serving.REMOTE)):
        proxy.set_capabilities(caps)
        proxy.set_serving(serving)
        proxy.set_text(query)
        words = query.lower().split()
        expected = {
            m.id
            for m in models
            if all(w in old_haystack(m) or m.provider.lower().startswith(w) for w in words)
            and set(caps) <= set(m.capabilities)
            and (serving is Serving.ALL or (serving is Serving.LOCAL) == (m.serving_type.value == "local"))
        }
        assert proxy.visible_model_ids() == expected
        assert proxy.match_count() == len(expected)
