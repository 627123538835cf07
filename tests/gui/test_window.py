"""The main window against a hand-made registry: tree, filters, detail pane, shortcuts, settings, state."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox

from desktop_app.core.models import Category, SourceKind
from desktop_app.gui.qt_model_tree import ItemRole, category_of
from desktop_app.services.context import AppContext
from tests.gui.conftest import hand_made_models


def tree_contents(window: Any) -> dict[str, list[str]]:
    view = window.tree
    model = view.model()
    out = {}
    for r in range(model.rowCount()):
        parent = model.index(r, 0)
        out[parent.data()] = [model.index(c, 0, parent).data() for c in range(model.rowCount(parent))]
    return out


def test_opens_from_the_registry_with_categories_counts_and_badges(make_window: Any, ctx: AppContext) -> None:
    ctx.registry.upsert(hand_made_models())
    window = make_window()
    contents = tree_contents(window)
    # Every category, in the fixed order, the empty one too; a model under each of its categories.
    assert contents == {
        "Embedding (2)": ["nomic-embed-text:latest", "text-embedding-3-small"],
        "Multimodal (2)": ["gpt-4.1", "llava:7b"],
        "Function calling (5)": [
            "gpt-4.1",
            "llama-3.3-70b-instruct",
            "llama3.2:latest",
            "pirate-llama",
            "qwen3:8b",
        ],
        "Reasoning (3)": ["deepseek-r1", "deepseek-r1:7b", "qwen3:8b"],
        "Text (6)": [
            "deepseek-r1:7b",
            "llama3.2:latest",
            "llava:7b",
            "phi3:mini",
            "pirate-llama",
            "qwen3:8b",
        ],
        "Cloud · text (3)": ["gpt-4.1", "llama-3.3-70b-instruct", "text-embedding-3-small"],
        "Cloud · code (1)": ["deepseek-r1"],
        "Cloud · multimodal (0)": [],
        "Cloud · general (1)": ["mistral-small"],
        "Experimental (1)": ["pirate-llama"],
    }
    # A small registry opens fully expanded, and the summary says what is there.
    assert all(
        window.tree.isExpanded(window.proxy.index(r, 0))
        for r in range(window.proxy.rowCount())
        if window.proxy.hasChildren(window.proxy.index(r, 0))
    )
    assert window.summary.text() == "12 models · 7 local · 5 remote"
    # Category rows span the whole width so their labels are never cut.
    assert window.tree.isFirstColumnSpanned(0, window.proxy.index(0, 0).parent())


def test_filters_from_the_widgets(make_window: Any, ctx: AppContext, qtbot: Any) -> None:
    window = make_window(hand_made_models())
    qtbot.keyClicks(window.search, "llama")
    assert tree_contents(window) == {
        "Function calling (3 of 5)": ["llama-3.3-70b-instruct", "llama3.2:latest", "pirate-llama"],
        "Text (2 of 6)": ["llama3.2:latest", "pirate-llama"],
        "Cloud · text (1 of 3)": ["llama-3.3-70b-instruct"],
        "Experimental (1)": ["pirate-llama"],
    }
    assert window.summary.text() == "3 of 12 models match"  # models, not rows
    window.search.clear()
    qtbot.mouseClick(window.chips["embedding"], Qt.MouseButton.LeftButton)
    assert tree_contents(window) == {
        "Embedding (2)": ["nomic-embed-text:latest", "text-embedding-3-small"],
        "Cloud · text (1 of 3)": ["text-embedding-3-small"],
    }
    assert window.summary.text() == "2 of 12 models match"
    qtbot.mouseClick(window.serving_buttons["local"], Qt.MouseButton.LeftButton)
    assert tree_contents(window) == {"Embedding (1 of 2)": ["nomic-embed-text:latest"]}
    qtbot.mouseClick(window.chips["embedding"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.serving_buttons["remote"], Qt.MouseButton.LeftButton)
    assert len({n for v in tree_contents(window).values() for n in v}) == 5
    qtbot.mouseClick(window.serving_buttons["all"], Qt.MouseButton.LeftButton)
    assert (
        len(tree_contents(window)) == 10 and len({n for v in tree_contents(window).values() for n in v}) == 12
    )


def test_search_in_a_big_registry_opens_only_matching_categories(make_window: Any) -> None:
    from tests.gui.conftest import local

    models = [local(f"model-{i:04d}", ["completion"]) for i in range(400)]
    models += [local("needle:7b", ["completion", "vision"])]
    window = make_window(models)
    # Too many models to open everything at start.
    assert not any(window.tree.isExpanded(window.proxy.index(r, 0)) for r in range(window.proxy.rowCount()))
    window.search.setText("needle")
    multimodal = window.proxy.index(0, 0)
    assert category_of(multimodal) is Category.MULTIMODAL and window.tree.isExpanded(multimodal)
    text = window.proxy.index(1, 0)  # and its other category
    assert category_of(text) is Category.TEXT and window.tree.isExpanded(text)
    window.search.clear()  # back to how the user left it
    assert not any(window.tree.isExpanded(window.proxy.index(r, 0)) for r in range(window.proxy.rowCount()))


def test_selection_shows_every_fact_in_the_detail_pane(make_window: Any, qtbot: Any) -> None:
    window = make_window(hand_made_models())
    assert window.detail.title.text() == "No model selected"
    assert window.select_model("ollama/llama3.2:latest")
    d = window.detail
    assert d.title.text() == "llama3.2:latest"
    assert d.model_id.text() == "ollama/llama3.2:latest"
    facts = {k: v.text() for k, v in d.fields.items() if not v.isHidden()}
    assert facts["source"].startswith("ollama — Ollama host")
    assert facts["categories"] == "Function calling, Text"
    assert facts["capabilities"] == "completion, tools"
    assert facts["parameter_size"] == "3.2B"
    assert facts["quantization"] == "Q4_K_M"
    assert facts["context_length"] == "131,072 tokens"
    assert facts["size"] == "2.0 GB"
    assert facts["family"] == "llama"
    assert d.description.text() == "Meta's small multilingual model"
    assert d.chat_button.isVisible() and d.copy_button.isVisible() and d.delete_button.isVisible()

    window.select_model("openrouter/openai/gpt-4.1")
    assert d.fields["rate_limit_tier"].text() == "high" and not d.fields["rate_limit_tier"].isHidden()
    assert d.delete_button.isHidden(), "remote models cannot be deleted from a host"

    window.select_model("experimental/pirate-llama")
    assert d.fields["parent"].text() == "ollama/llama3.2:latest"

    window.select_model("ollama/phi3:mini")  # offline: says why, and cannot chat
    assert d.status_note.isVisible() and "cannot connect" in d.status_note.text()
    assert not d.chat_button.isEnabled()

    qtbot.mouseClick(d.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "ollama/phi3:mini"

    category = window.proxy.index(0, 0)
    window.tree.setCurrentIndex(category)
    assert d.title.text() == "Embedding" and "2 models" in d.model_id.text()

    # Chat from the detail pane hands the model to the chat panel.
    window.select_model("ollama/qwen3:8b")
    qtbot.mouseClick(d.chat_button, Qt.MouseButton.LeftButton)
    assert window.chat.model is not None and window.chat.model.id == "ollama/qwen3:8b"
    assert window.chat.send_button.isEnabled()
    assert not window.chat.attach_button.isEnabled(), "qwen3 reads no images"
    window.select_model("ollama/llava:7b")
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)  # Enter on a model opens the chat too
    assert window.chat.model is not None and window.chat.model.id == "ollama/llava:7b"
    assert window.chat.attach_button.isEnabled()


def test_keyboard_shortcuts(make_window: Any, qtbot: Any) -> None:
    window = make_window(hand_made_models())
    window.activateWindow()
    qtbot.waitActive(window)
    window.tree.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "qwen")
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.search.text() == ""
    assert window.refresh_action.shortcut().toString() == "F5"
    assert "Ctrl+," in [s.toString() for s in window.settings_action.shortcuts()]
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window._settings_dialog is not None and window._settings_dialog.isVisible())
    window._settings_dialog.reject()
    with qtbot.waitSignal(window.closed, timeout=2000):
        qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)


def test_geometry_and_splitters_are_remembered(make_window: Any, ctx: AppContext) -> None:
    window = make_window(hand_made_models())
    window.resize(780, 560)  # the offscreen screen is 800x600; a restored window is kept on screen
    window.splitter.setSizes([400, 100, 280])
    sizes, width = window.splitter.sizes(), window.width()
    window.close()
    saved = json.loads(ctx.settings_store.path.read_text())["preferences"]["window"]
    assert {"geometry", "splitter", "tree_header"} <= set(saved)
    ctx.settings = ctx.settings_store.load()
    again = make_window(hand_made_models())
    assert again.splitter.sizes() == sizes
    assert again.width() == width


def test_settings_round_trip(make_window: Any, ctx: AppContext, qtbot: Any) -> None:
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    dialog.show()
    # A bad URL is refused with a message, nothing is added.
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("ollama"))
    dialog.add_name.setText("gpu-box")
    dialog.add_url.setText("ftp://10.0.0.5")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert "http://" in dialog.sources_message.text() and not ctx.settings.sources
    dialog.add_url.setText("http://10.0.0.5:11434")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    # A remote source with its key.
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("openai_compat"))
    dialog.add_name.setText("openrouter")
    dialog.add_url.setText("https://openrouter.ai/api/v1")
    dialog.add_key.setText("sk-or-secret-123")
    with qtbot.waitSignal(dialog.sources_changed):
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert [s.name for s in ctx.settings.sources] == ["gpu-box", "openrouter"]
    assert dialog.table.item(1, 4).text() in ("in key file", "in keyring")
    # Disable one, change the key of the other, set the MLflow URI.
    dialog.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    dialog.select_source("openrouter")
    dialog.key_edit.setText("sk-or-secret-456")
    qtbot.mouseClick(dialog.key_button, Qt.MouseButton.LeftButton)
    dialog.mlflow_uri.setText("not a uri")
    dialog.accept()
    assert dialog.isVisible() and "tracking URI" in dialog.prefs_message.text()
    dialog.mlflow_uri.setText("http://mlflow.internal:5000")
    dialog.accept()
    assert not dialog.isVisible()

    fresh = AppContext.open()
    try:
        sources = {s.name: s for s in fresh.settings.sources}
        assert sources["gpu-box"].kind is SourceKind.OLLAMA and not sources["gpu-box"].enabled
        assert sources["openrouter"].kind is SourceKind.OPENAI_COMPAT and sources["openrouter"].enabled
        assert fresh.settings.preferences.mlflow_tracking_uri == "http://mlflow.internal:5000"
        assert fresh.keys.resolve(sources["openrouter"]) == "sk-or-secret-456"
        assert "sk-or-secret" not in ctx.settings_store.path.read_text(), "keys never go into settings"
    finally:
        fresh.close()
    # The status bar shows a dot per source; the disabled one is grey and says so.
    window.health.set_sources(ctx.settings.sources, {})
    assert "disabled" in window.health.label("gpu-box").toolTip()

    # Removing asks first, then removes the source and its key.
    dialog2 = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog2)
    dialog2.show()
    dialog2.select_source("openrouter")
    qtbot.mouseClick(dialog2.remove_button, Qt.MouseButton.LeftButton)
    box = dialog2.findChild(QMessageBox, "confirmRemoveSource")
    assert box is not None and "openrouter" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    assert [s.name for s in ctx.settings.sources] == ["gpu-box"]
    assert ctx.keys.get("openrouter") is not None, "the key is forgotten on Save, so Cancel can undo"
    dialog2.accept()
    assert ctx.keys.get("openrouter") is None


def test_theme_follows_the_preference(make_window: Any, ctx: AppContext) -> None:
    from desktop_app.gui.theme import apply_theme, is_dark

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        apply_theme(app, "dark")
        assert is_dark()
        apply_theme(app, "light")
        assert not is_dark()
    finally:
        apply_theme(app, "system")


def test_an_error_from_a_slot_is_shown_and_logged(make_window: Any, monkeypatch: Any, caplog: Any) -> None:
    import sys

    from desktop_app.gui.app import install_excepthook

    window = make_window([])
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook(window)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    box = window.findChild(QMessageBox, "unexpectedErrorBox")
    assert box is not None and "boom in a slot" in box.text()
    assert "Traceback" in box.detailedText()
    assert any("boom in a slot" in r.getMessage() for r in caplog.records)
    status = window.findChild(QLabel, "statusError")
    assert status is not None and "boom in a slot" in status.text()
    box.close()


def test_empty_registry_says_what_to_do(make_window: Any) -> None:
    window = make_window([])
    # The categories are listed (empty, greyed): what ModelDesk sorts models into.
    assert window.proxy.rowCount() == 10 and window.proxy.match_count() == 0
    assert window.summary.text() == "0 models · 0 local · 0 remote"
    assert "Settings" in window.tree.empty_text
    grab = window.tree.grab()  # paints the empty-state text without error
    assert not grab.isNull()


def test_start_up_opens_from_stored_json_then_attaches_the_context(
    qtbot: Any, ctx: AppContext, run: Any
) -> None:
    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.startup import read_startup

    ctx.registry.upsert(hand_made_models())
    ctx.settings.preferences.window = {"chat_options_open": True}
    ctx.save_settings()
    startup = read_startup()
    assert len(startup.rows) == 12 and startup.window == {"chat_options_open": True}
    window = QtMainWindow(startup=startup)
    qtbot.addWidget(window, before_close_func=lambda w: run(w.shutdown()))
    window.show()
    qtbot.waitUntil(lambda: window.first_paint_done)
    assert tree_contents(window)["Function calling (5)"][2:] == [
        "llama3.2:latest",
        "pirate-llama",
        "qwen3:8b",
    ]
    assert not window.tree_model.category_rows(2)[0].materialized, "rows stay JSON until needed"
    # Until the context is attached, nothing can reach a source.
    assert not window.refresh_action.isEnabled() and not window.settings_action.isEnabled()
    assert window.chat.options_toggle.isChecked()
    # Selecting a row builds just that model, and the detail pane shows it.
    assert window.select_model("ollama/llama3.2:latest")
    assert window.detail.fields["parameter_size"].text() == "3.2B"
    window.attach(ctx)
    assert window.refresh_action.isEnabled() and window.pull_action.isEnabled()
    run(window.materialize())
    assert all(r.materialized for ci in range(10) for r in window.tree_model.category_rows(ci))
    assert {m.id for m in window.tree_model.models()} == {m.id for m in hand_made_models()}


def test_any_row_of_a_model_selects_it_and_selection_follows_a_category_change(
    make_window: Any, ctx: AppContext, qtbot: Any, run: Any
) -> None:
    from desktop_app.core.categories import DEFAULT_RULES

    models = hand_made_models()
    ctx.registry.upsert(models)
    window = make_window()
    d = window.detail
    # Programmatic selection picks the row under the primary category.
    assert window.select_model("ollama/qwen3:8b")
    assert category_of(window.tree.currentIndex()) is Category.FUNCTION_CALLING
    # Selecting its row under another category shows the same model, and Chat takes it.
    rows = window.tree_model.indexes_of("ollama/qwen3:8b")
    assert [category_of(i) for i in rows] == [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]
    window.select_model("ollama/llava:7b")
    window.tree.setCurrentIndex(window.proxy.mapFromSource(rows[2]))
    assert d.model is not None and d.model.id == "ollama/qwen3:8b" and d.title.text() == "qwen3:8b"
    assert window.current_model() is not None and window.current_model().id == "ollama/qwen3:8b"
    qtbot.mouseClick(d.chat_button, Qt.MouseButton.LeftButton)
    assert window.chat.model is not None and window.chat.model.id == "ollama/qwen3:8b"

    # A sync that moves the selected model out of the category its selected row is in keeps it
    # selected (under its new primary category), and expanded categories stay expanded.
    window.select_model("ollama/llama3.2:latest")
    llama = next(m for m in models if m.id == "ollama/llama3.2:latest")
    caps = ["completion", "thinking"]
    cats = DEFAULT_RULES.for_capabilities(caps)
    ctx.registry.upsert(
        [llama.model_copy(update={"capabilities": caps, "categories": cats, "category": cats[0]})]
    )
    expanded = {
        category_of(window.proxy.index(r, 0))
        for r in range(10)
        if window.tree.isExpanded(window.proxy.index(r, 0))
    }
    run(window.reload_models(["ollama"]))
    current = window.tree.currentIndex()
    assert current.data(ItemRole.MODEL_ID) == "ollama/llama3.2:latest"
    assert category_of(current) is Category.REASONING
    assert d.model is not None and d.model.categories == [Category.REASONING, Category.TEXT]
    assert "llama3.2:latest" not in tree_contents(window)["Function calling (4)"]
    assert expanded == {
        category_of(window.proxy.index(r, 0))
        for r in range(10)
        if window.tree.isExpanded(window.proxy.index(r, 0))
    }
