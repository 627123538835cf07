"""The window as people use it (issue 18): one theme at a time, every size from 1024×640, every key,
conversations kept, messages in the window's own words."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QSize
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
