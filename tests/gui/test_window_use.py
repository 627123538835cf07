"""The window as people use it (issue 18): one theme at a time, every size from 1024×640, every key,
conversations kept, messages in the window's own words."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget

from desktop_app.services.context import AppContext
from tests.gui.conftest import hand_made_models


def _text_colour(widget: QWidget) -> int:
    role = (
        QPalette.ColorRole.ButtonText
        if isinstance(widget, QAbstractButton)
        else QPalette.ColorRole.WindowText
    )
    return widget.palette().color(role).lightness()


def test_a_theme_switch_repaints_every_widget_at_once(make_window: Any, ctx: AppContext) -> None:
    from desktop_app.gui.theme import apply_theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    window = make_window(hand_made_models())
    window.chat_with(window.tree_model.index_of("ollama/qwen3:8b").data(0x0100 + 1) or hand_made_models()[1])
    window.show_status("hello")
    sample: list[QWidget] = [
        *window.chips.values(),
        *window.serving_buttons.values(),
        window.chat.title,
        window.chat.options_toggle,
        window.summary,
        window.detail.title,
        *window.health.findChildren(QLabel),
        window.statusBar(),
    ]
    try:
        for theme in ("dark", "light", "dark"):
            ctx.settings.preferences.theme = theme
            window._preferences_changed()
            dark = theme == "dark"
            for widget in sample:
                lightness = _text_colour(widget)
                assert (lightness > 128) == dark, (
                    f"{widget.objectName() or widget} keeps the old theme's text"
                )
                window_colour = widget.palette().color(QPalette.ColorRole.Window).lightness()
                assert (window_colour < 128) == dark, (
                    f"{widget.objectName() or widget} keeps the old background"
                )
    finally:
        apply_theme(app, "system")


def _clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons narrower than their text needs (elided or cut)."""
    out = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.width() <= 0:
            continue
        if isinstance(w, QAbstractButton) and w.text():
            need = w.minimumSizeHint().width() if w.objectName() == "chatTitle" else w.sizeHint().width()
            if w.width() < need:
                out.append(f"{w.objectName() or w.text()} {w.width()} < {need}")
    return out


@pytest.mark.parametrize("size", [QSize(1024, 640), QSize(1024, 700)])
def test_the_window_works_at_its_smallest_size_and_never_resizes_itself(
    make_window: Any, size: QSize, qtbot: Any
) -> None:
    window = make_window(hand_made_models())
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size, timeout=3000)
    assert window.minimumSizeHint().width() <= 1024 and window.minimumSizeHint().height() <= 640
    # A thinking model: its header has the Think combo too.
    assert window.select_model("ollama/qwen3:8b")
    window.chat_with(window.current_model())
    QApplication.processEvents()
    assert window.chat.think_level.isVisible() and window.size() == size
    assert window.select_model("ollama/llama3.2:latest")
    window.chat_with(window.current_model())
    QApplication.processEvents()
    assert _clipped(window) == []
    for chip in [*window.chips.values(), *window.serving_buttons.values()]:
        assert chip.width() >= chip.sizeHint().width(), chip.text()
    # Opening the options neither widens the window nor clips it.
    window.chat.options_toggle.setChecked(True)
    QApplication.processEvents()
    assert window.size() == size
    assert window.chat.seed.width() >= window.chat.seed.minimumSizeHint().width()
    # The tree's Source and Status columns can be reached (a horizontal scroll bar, or in view).
    tree = window.tree
    header = tree.header()
    last = header.sectionViewportPosition(4) + header.sectionSize(4)
    assert last <= tree.viewport().width() and not tree.isColumnHidden(3)
    assert header.sectionSize(0) >= 110, "the model names keep room"
    # The detail pane shows the badge, Delete and the endpoint without clipping them.
    pane = window.detail
    for w in (pane.badge, pane.delete_button, pane.fields["source"]):
        assert w.isVisible()
        right = w.mapTo(pane.widget(), w.rect().topRight()).x()
        assert right <= pane.viewport().width(), w.objectName()


# ---------------------------------------------------------------------------------------- with a host
from desktop_app.core.models import ModelStatus  # noqa: E402
from tests.fakes.ollama import FakeOllama  # noqa: E402
from tests.gui.conftest import point_ollama  # noqa: E402


@pytest.fixture
def synced(make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, run: Any) -> Any:
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    return window


def say(window: Any, run: Any, text: str) -> Any:
    window.chat.input.setPlainText(text)
    run(window.chat.send())
    return window.chat.replies[-1]


def test_conversations_are_kept_reopened_continued_renamed_exported_and_deleted(
    synced: Any,
    ctx: AppContext,
    fake_ollama: FakeOllama,
    qtbot: Any,
    run: Any,
    tmp_path: Any,
    monkeypatch: Any,
) -> None:
    window = synced
    assert window.select_model("ollama/llama3.2:latest")
    window.chat_with(window.current_model())
    window.chat.system_prompt.setPlainText("Be brief.")
    window.chat.temperature.setValue(0.4)
    first = say(window, run, "Why is the sky blue?")
    assert first.state == "done"
    # Chat on another model: a new conversation; the first is kept, not thrown away.
    assert window.select_model("ollama/qwen3:8b")
    window.chat_with(window.current_model())
    assert window.chat.replies == [] and "kept under Conversations" in window.statusBar().currentMessage()
    say(window, run, "Hello qwen")

    qtbot.keyClick(window, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    conv = window.conversations
    qtbot.waitUntil(lambda: conv.isVisible() and len(conv.summaries) == 2, timeout=3000)
    assert conv.search.hasFocus()
    # Searchable, and grouped by model on demand.
    qtbot.keyClicks(conv.search, "why")
    assert [
        conv.tree.topLevelItem(0).child(i).text(0) for i in range(conv.tree.topLevelItem(0).childCount())
    ] == ["Why is the sky blue?"]
    conv.group_by.setCurrentIndex(1)
    assert conv.tree.topLevelItem(0).text(0).startswith("ollama/llama3.2:latest")
    # Down goes from the search into the list, Enter opens: the chat shows it, ready to continue.
    qtbot.keyClick(conv.search, Qt.Key.Key_Down)
    assert conv.tree.hasFocus() and conv.current_id() is not None
    qtbot.keyClick(conv.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.chat.model is not None and window.chat.model.id == "ollama/llama3.2:latest"
    )
    assert [r.state for r in window.chat.replies] == ["done"] and window.chat.replies[
        0
    ].content == first.content
    assert window.chat.system_prompt.toPlainText() == "Be brief." and window.chat.temperature.value() == 0.4
    say(window, run, "And at sunset?")
    sent = fake_ollama.last_bodies["/api/chat"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    cid = conv.current_id()
    assert cid is not None and len(window.chat.session.store.load(cid).turns) == 4

    # Rename, export (Markdown and JSON), delete with the confirm.
    conv.rename(cid, "Sky colours")
    assert conv.summaries[0].title == "Sky colours" or any(s.title == "Sky colours" for s in conv.summaries)
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    assert conv.export(cid, md, "markdown") and conv.export(cid, js, "json")
    assert md.read_text().startswith("# Sky colours") and "And at sunset?" in md.read_text()
    assert '"model_id": "ollama/llama3.2:latest"' in js.read_text()
    conv.search.clear()
    assert conv.select(cid)
    conv.tree.setFocus()
    qtbot.keyClick(conv.tree, Qt.Key.Key_Delete)
    box = conv.findChild(QWidget, "confirmDeleteConversation")
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    from PySide6.QtWidgets import QMessageBox

    assert isinstance(box, QMessageBox) and box.defaultButton() is box.button(
        QMessageBox.StandardButton.Cancel
    )
    box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: len(conv.summaries) == 1)
    # It was the one on screen: the chat starts afresh, and its next message does not bring it back.
    assert window.chat.replies == [] and window.chat.session.conversation.id != cid
    say(window, run, "A new start")
    assert cid not in {s.id for s in window.chat.session.store.list()}


def test_a_disabled_sources_models_are_shown_disabled_and_cannot_chat(
    synced: Any, ctx: AppContext, run: Any, qtbot: Any
) -> None:
    from desktop_app.services.sources import set_enabled

    window = synced
    set_enabled(ctx, "ollama", False)
    run(window.reload_models(None))
    assert window.select_model("ollama/llama3.2:latest")
    model = window.current_model()
    assert model.status is ModelStatus.DISABLED and not model.usable
    assert not window.detail.chat_button.isEnabled()
    assert "disabled" in window.detail.status_note.text()
    window.chat_with(model)
    assert window.chat.model is None and "disabled" in window.error_label.text()
    # Even if a chat was open on it, the services refuse (and the window says where to enable it).
    window.chat.set_model(model.model_copy(update={"status": ModelStatus.AVAILABLE}))
    reply = say(window, run, "hello?")
    assert reply.state == "failed" and "disabled" in reply.error_label.text()
    assert "Settings" in reply.error_label.text() and "modeldesk" not in reply.error_label.text()


def test_keyboard_paths(synced: Any, qtbot: Any, run: Any) -> None:
    window = synced
    window.activateWindow()
    # Ctrl+F, type, Down: into the results, on the first model shown.
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search.hasFocus()
    qtbot.keyClicks(window.search, "llava")
    qtbot.keyClick(window.search, Qt.Key.Key_Down)
    assert (window.tree.hasFocus() and window.tree.currentIndex().data(0x0100 + 2)) or window.current_model()
    assert window.current_model() is not None and window.current_model().name == "llava:7b"
    # Enter in the search box does the same.
    window.focus_search()
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    assert window.tree.hasFocus()
    # Delete on the tree asks first.
    qtbot.keyClick(window.tree, Qt.Key.Key_Delete)
    box = window.findChild(QWidget, "confirmDelete")
    qtbot.waitUntil(lambda: box is not None and box.isVisible())
    box.reject()
    # Ctrl+N: a new chat (the old one kept); Ctrl+Shift+P: the pull dialog.
    window.chat_with(window.current_model())
    say(window, run, "What is in this picture?")
    assert window.chat.replies
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.replies == [] and window.chat.session.turns == []
    assert len(window.chat.session.store.list()) == 1
    assert window.pull_action.shortcut().toString() == "Ctrl+Shift+P"
    window.pull_action.trigger()
    qtbot.waitUntil(lambda: window._pull_dialog is not None and window._pull_dialog.isVisible())
    window._pull_dialog.close()
    # The toolbar's buttons are in the Tab chain; chips and the switch take focus and show it.
    refresh = window.toolbar.widgetForAction(window.refresh_action)
    assert refresh.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert refresh.nextInFocusChain() is window.toolbar.widgetForAction(window.pull_action)
    for w in [*window.chips.values(), *window.serving_buttons.values()]:
        assert w.focusPolicy() & Qt.FocusPolicy.TabFocus
    assert ":focus" in window.styleSheet()
    chain, w = [], window.search
    for _ in range(12):
        chain.append(w)
        w = w.nextInFocusChain()
    assert chain[1:4] == list(window.serving_buttons.values())
    assert chain[4:8] == list(window.chips.values())


def test_a_sign_shows_when_options_are_set_with_the_panel_collapsed(synced: Any) -> None:
    chat = synced.chat
    assert not chat.options.isVisible()
    assert "●" not in chat.options_toggle.text()
    chat.seed.setValue(42)
    assert "●" in chat.options_toggle.text() and "seed 42" in chat.options_toggle.toolTip()
    chat.seed.setValue(-1)
    chat.system_prompt.setPlainText("Be brief.")
    assert "●" in chat.options_toggle.text() and "system prompt" in chat.options_toggle.toolTip()


def test_chat_header_and_details_never_silently_disagree(synced: Any) -> None:
    window = synced
    assert window.select_model("ollama/qwen3:8b")
    window.chat_with(window.current_model())
    assert window.chat.title.text() == "ollama/qwen3:8b" and "ollama/qwen3:8b" in window.chat.title.toolTip()
    assert window.detail.chat_note.text().startswith("The chat on the right is with this model")
    assert window.select_model("ollama/llama3.2:latest")
    note = window.detail.chat_note.text()
    assert "ollama/qwen3:8b" in note and window.detail.chat_button.text() == "Chat with this"


def test_missing_facts_are_fetched_when_a_model_is_selected(
    synced: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    bare = ctx.registry.get("ollama/llama3.2:latest").model_copy(update={"context_length": None})
    ctx.registry.upsert([bare])
    run(window.reload_models(None))
    assert window.select_model("ollama/llama3.2:latest")
    with qtbot.waitSignal(window.facts_completed, timeout=5000):
        pass
    assert window.detail.fields["context_length"].text() == "131,072 tokens"


def test_a_source_added_from_the_cli_appears_in_the_running_window(
    synced: Any, ctx: AppContext, qtbot: Any
) -> None:
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.store.settings import SettingsStore
    from tests.fakes.ollama import FakeOllama as Fake

    window = synced
    with Fake() as other:
        store = SettingsStore(ctx.settings_store.path)  # another process's view of the same file
        fresh = store.load()
        fresh.sources.append(SourceConfig(name="gpu-box", kind=SourceKind.OLLAMA, base_url=other.url))
        store.save(fresh)
        qtbot.waitUntil(lambda: "gpu-box" in window.health.views, timeout=5000)
        qtbot.waitUntil(lambda: window.tree_model.index_of("gpu-box/llama3.2:latest").isValid(), timeout=8000)
    assert any(s.name == "gpu-box" for s in ctx.settings.sources)


def test_settings_edit_in_place_cancel_undoes_save_applies(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

    ctx.settings.sources = [
        SourceConfig(name="box", kind=SourceKind.OLLAMA, base_url="http://10.0.0.5:11434")
    ]
    ctx.save_settings()
    window = make_window([])

    def dialog() -> QtSettingsDialog:
        d = QtSettingsDialog(ctx, window)
        qtbot.addWidget(d)
        d.show()
        return d

    d = dialog()
    assert d.buttons.button(d.buttons.StandardButton.Save).isDefault()
    d.table.item(0, 3).setText("ftp://nope")  # what typing in the cell and pressing Enter does
    assert "http" in d.sources_message.text() and ctx.settings.sources[0].base_url == "http://10.0.0.5:11434"
    assert d.table.item(0, 3).text() == "http://10.0.0.5:11434", "a refused edit goes back"
    d.table.item(0, 3).setText("http://10.0.0.6:11434")
    d.table.item(0, 1).setText("gpu-box")
    assert [(s.name, s.base_url) for s in ctx.settings.sources] == [("gpu-box", "http://10.0.0.6:11434")]
    d.reject()  # Cancel undoes
    assert [(s.name, s.base_url) for s in ctx.settings.sources] == [("box", "http://10.0.0.5:11434")]
    assert on_disk(ctx) == ["box"]

    d = dialog()
    d.table.item(0, 1).setText("gpu-box")
    with qtbot.waitSignal(d.sources_changed):
        d.accept()  # Save applies
    assert [s.name for s in ctx.settings.sources] == ["gpu-box"]
    assert on_disk(ctx) == ["gpu-box"]


def on_disk(ctx: AppContext) -> list[str]:
    from desktop_app.store.settings import SettingsStore

    return [s.name for s in SettingsStore(ctx.settings_store.path).load().sources]


def test_window_messages_point_at_the_windows_own_buttons(make_window: Any) -> None:
    from desktop_app.core.errors import ModelNotFound, SourceUnavailable
    from desktop_app.core.models import SourceHealth
    from desktop_app.gui.labels import for_window
    from desktop_app.gui.qt_source_status import SourceView

    window = make_window([])
    box = window.show_error(ModelNotFound("No model x on ollama."))
    assert box.informativeText() == "Press Refresh (F5), or pull the model first with Pull model…."
    assert "modeldesk" not in window.error_label.text() + box.text() + box.informativeText()
    window.show_status(
        "The registry file was damaged; a fresh one was made. Run `modeldesk sync` to fill it again."
    )
    assert (
        window.error_label.isHidden()
        and "Press Refresh (F5) to fill it again" in window.statusBar().currentMessage()
    )
    view = SourceView("box", "http://10.0.0.5:11434")
    down = SourceUnavailable("box: cannot connect")
    view.health, view.message, view.hint = SourceHealth.DOWN, down.message, down.hint
    assert "Settings (Ctrl+,)" in view.tooltip() and "modeldesk" not in view.tooltip()
    assert (
        for_window("Set a valid key with `modeldesk key set work`.")
        == "Set a valid key for work in Settings (Ctrl+,)."
    )
    # The CLI keeps its own words: the errors themselves are unchanged.
    assert "`modeldesk sync`" in ModelNotFound("x").hint


def test_settings_cancel_undoes_only_what_the_dialog_did(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog
    from desktop_app.services.sources import add_source

    ctx.settings.sources = [
        SourceConfig(name="box", kind=SourceKind.OLLAMA, base_url="http://10.0.0.5:11434")
    ]
    ctx.save_settings()
    window = make_window([])
    d = QtSettingsDialog(ctx, window)
    qtbot.addWidget(d)
    d.show()
    d.table.item(0, 0).setCheckState(Qt.CheckState.Unchecked)
    d.add_name.setText("other")
    d.add_url.setText("http://10.0.0.7:11434")
    d.add_from_form()
    # Meanwhile, another process (the CLI) adds a source of its own.
    from desktop_app.services.context import AppContext as Ctx

    cli = Ctx.open()
    try:
        add_source(
            cli, SourceConfig(name="from-cli", kind=SourceKind.OLLAMA, base_url="http://10.0.0.9:11434")
        )
    finally:
        cli.close()
    d.reject()
    assert [(s.name, s.enabled) for s in ctx.settings.sources] == [("box", True), ("from-cli", True)]
    assert on_disk(ctx) == ["box", "from-cli"]


@pytest.mark.parametrize("width", [1024, 1560])
def test_the_experimental_badge_fits_its_column_when_a_variant_arrives(
    make_window: Any, width: int, qtbot: Any
) -> None:
    """Seen in the Evaluate screenshot: a variant made after the window opened drew its EXPERIMENTAL
    badge over the Source column (the column was sized for LOCAL / REMOTE)."""
    from desktop_app.gui import icons
    from desktop_app.gui.qt_model_tree import Col

    models = hand_made_models()
    plain = [m for m in models if not m.id.startswith("experimental/")]
    window = make_window(plain)
    window.resize(QSize(width, 700))
    qtbot.waitUntil(lambda: window.width() == width, timeout=3000)
    tree = window.tree
    renderer = icons.badge_renderer("EXPERIMENTAL")
    assert renderer is not None
    need = renderer.defaultSize().width() + 8  # the cell's padding, 4 px a side
    assert tree.columnWidth(Col.BADGE) < need  # sized for LOCAL / REMOTE until a variant exists
    window.tree_model.update_models(models)
    QApplication.processEvents()
    if tree.isColumnHidden(Col.CAPABILITIES):  # narrow: the names keep their room, the badge reads EXP
        short = icons.badge_renderer("EXPERIMENTAL-short")
        assert short is not None
        assert short.defaultSize().width() + 8 <= tree.columnWidth(Col.BADGE) < need
        assert _badge_pixels_outside_the_cell(tree, "experimental/pirate-llama") == 0
    else:
        assert tree.columnWidth(Col.BADGE) >= need


def _badge_pixels_outside_the_cell(tree: Any, model_id: str) -> int:
    """Paint the row's badge cell into a wider image and count the painted pixels right of the cell."""
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from desktop_app.gui.qt_model_tree import Col

    assert tree.window().select_model(model_id)
    index = tree.currentIndex().siblingAtColumn(Col.BADGE)
    width, height = tree.columnWidth(Col.BADGE), 24
    image = QImage(width + 80, height, QImage.Format.Format_ARGB32)
    image.fill(0)
    option = QStyleOptionViewItem()
    option.initFrom(tree)
    option.rect = image.rect().adjusted(0, 0, -80, 0)
    painter = QPainter(image)
    tree.itemDelegate().paint(painter, option, index)
    painter.end()
    return sum(1 for x in range(width, width + 80) for y in range(height) if image.pixelColor(x, y).alpha())


def test_a_long_status_message_is_elided_before_the_source_dots(make_window: Any, qtbot: Any) -> None:
    """Seen in the Evaluate screenshot: a long message ran into the source dots, cut mid-letter."""
    window = make_window(hand_made_models())
    window.resize(QSize(1024, 640))
    window.show()
    qtbot.waitUntil(lambda: window.health.isVisible() and window.health.geometry().left() > 0, timeout=3000)
    long = "Logging run 20261130-144318-why-is-the-sky-blue-76b5 to MLflow in the background " + "x" * 200
    window.show_status(long)
    bar = window.statusBar()
    shown = bar.currentMessage()
    assert shown.endswith("…") and shown != long
    assert bar.fontMetrics().horizontalAdvance(shown) < window.health.geometry().left()
    assert bar.toolTip() == long  # the whole message on hover
    window.show_status("Synced 1 source.")
    assert bar.currentMessage() == "Synced 1 source."
