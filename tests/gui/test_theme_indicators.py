"""Check boxes and radio buttons stay visible in both themes: their outline, as Fusion paints it, stands
≥3:1 (WCAG 1.4.11, non-text contrast) against the window and the base around it — in dialogs and in item
views. On the plain Fusion style the dark theme's outline was 1.13:1 (``Window.darker(140)``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QListWidget, QListWidgetItem, QRadioButton, QWidget
from pytestqt.qtbot import QtBot

from desktop_app.gui.theme import apply_theme

MIN_CONTRAST = 3.0


def _contrast(a: QColor, b: QColor) -> float:
    """WCAG 2.1 contrast ratio, written out here so the test does not trust the code under test."""

    def lum(c: QColor) -> float:
        def ch(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _outline_contrast(image: QImage, background: QColor) -> float:
    """The strongest contrast any pixel has against the background: with no text and nothing checked,
    only the indicator's outline differs from it."""
    return max(
        _contrast(image.pixelColor(x, y), background)
        for x in range(image.width())
        for y in range(image.height())
    )


@pytest.fixture
def app(qtbot: QtBot) -> Iterator[QApplication]:
    instance = QApplication.instance()
    assert isinstance(instance, QApplication)
    try:
        yield instance
    finally:
        apply_theme(instance, "system")


def _button(qtbot: QtBot, button: QWidget, enabled: bool = True) -> float:
    qtbot.addWidget(button)
    button.setEnabled(enabled)
    button.resize(button.sizeHint())
    background = button.palette().color(QPalette.ColorRole.Window)
    return _outline_contrast(button.grab().toImage(), background)


def _row_check(qtbot: QtBot) -> float:
    """A check box in a list row (``Qt.ItemIsUserCheckable``), drawn on the view's Base."""
    view = QListWidget()
    qtbot.addWidget(view)
    item = QListWidgetItem("")
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Unchecked)
    view.addItem(item)
    view.resize(120, 60)
    rect = view.visualItemRect(item)
    image = view.viewport().grab(rect).toImage()
    return _outline_contrast(image, view.palette().color(QPalette.ColorRole.Base))


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_unchecked_indicators_stand_out_from_their_background(
    qtbot: QtBot, app: QApplication, theme: str
) -> None:
    apply_theme(app, theme)
    assert (app.palette().color(QPalette.ColorRole.Window).lightness() < 128) == (theme == "dark")
    figures = {
        "check box": _button(qtbot, QCheckBox()),
        "radio button": _button(qtbot, QRadioButton()),
        "check box in a list row": _row_check(qtbot),
    }
    for what, ratio in figures.items():
        assert ratio >= MIN_CONTRAST, f"{theme}: an unchecked {what}'s outline is {ratio:.2f}:1 (needs 3:1)"


def test_a_disabled_box_is_fainter_but_still_drawn(qtbot: QtBot, app: QApplication) -> None:
    apply_theme(app, "dark")
    enabled, disabled = _button(qtbot, QCheckBox()), _button(qtbot, QCheckBox(), enabled=False)
    assert 1.5 <= disabled < enabled


def test_a_theme_switch_redraws_the_outlines_for_the_new_palette(qtbot: QtBot, app: QApplication) -> None:
    """Light, dark, light again on one box: each time its outline is measured against the new colours,
    and the style is wrapped once (no proxy around a proxy)."""
    box = QCheckBox()
    qtbot.addWidget(box)
    box.resize(box.sizeHint())
    style = None
    for theme in ("light", "dark", "light"):
        apply_theme(app, theme)
        style = style or app.style()
        assert app.style() is style
        ratio = _outline_contrast(box.grab().toImage(), box.palette().color(QPalette.ColorRole.Window))
        assert ratio >= MIN_CONTRAST, f"after switching to {theme}: {ratio:.2f}:1"


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_window_colour_indicators_are_drawn_with_gives_a_visible_outline(
    app: QApplication, theme: str
) -> None:
    """Fusion's outline comes from the palette's Window role (``Window.darker(140)``, ``.lighter(110)`` on a
    check box): from the Window colour the style hands to Fusion, both reach 3:1 against window and base."""
    from desktop_app.gui.theme import indicator_outline

    apply_theme(app, theme)
    palette = app.palette()
    window = indicator_outline(palette)
    for outline in (window.darker(140), window.darker(140).lighter(110)):
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
            ratio = _contrast(outline, palette.color(role))
            assert ratio >= MIN_CONTRAST, f"{theme}: outline {outline.name()} on {role.name} is {ratio:.2f}:1"
