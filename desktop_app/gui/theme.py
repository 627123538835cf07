"""Light and dark: follow the system's colour scheme unless the user picked one in Settings."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory, QStyleOption, QWidget

from desktop_app.gui import icons

__all__ = ["IndicatorStyle", "apply_theme", "contrast", "indicator_outline", "is_dark"]

MIN_CONTRAST = 3.0  # WCAG 2.1 (1.4.11) for the outline of a control against what surrounds it
_AIM = 4.0  # above it: antialiasing softens a one-pixel line, a radio button's circle most
_AIM_DISABLED = 2.0  # seen, but plainly fainter than a box that can be clicked
_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup


def _linear(channel: int) -> float:
    v = channel / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    la, lb = (
        (0.2126 * _linear(c.red()) + 0.7152 * _linear(c.green()) + 0.0722 * _linear(c.blue())) for c in (a, b)
    )
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _fusion_outlines(window: QColor) -> tuple[QColor, QColor]:
    """What Fusion paints around a radio button and a check box given the palette's Window colour
    (qfusionstyle: ``outline = window.darker(140)``; the check box uses ``outline.lighter(110)``)."""
    outline = window.darker(140)
    return outline, outline.lighter(110)


def indicator_outline(palette: QPalette, enabled: bool = True) -> QColor:
    """The Window colour to draw indicators with so that Fusion's outline stands out against both the
    window and the base (a box in a dialog, a box in a list row): the least of the text colour mixed into
    the window colour that reaches the aim. Fusion derives the outline from Window alone, a shade darker,
    which on a dark palette is darker than the background: the box all but disappears."""
    back, base, ink = (palette.color(_Group.Active, r) for r in (_Role.Window, _Role.Base, _Role.WindowText))
    aim = _AIM if enabled else _AIM_DISABLED
    for percent in range(0, 101, 5):
        t = percent / 100
        mixed = QColor.fromRgbF(
            back.redF() + (ink.redF() - back.redF()) * t,
            back.greenF() + (ink.greenF() - back.greenF()) * t,
            back.blueF() + (ink.blueF() - back.blueF()) * t,
        )
        window = mixed.lighter(140)  # Fusion takes it darker(140) again
        if all(contrast(c, bg) >= aim for c in _fusion_outlines(window) for bg in (back, base)):
            return window
    return ink.lighter(140)


class IndicatorStyle(QProxyStyle):
    """Fusion, with check box and radio button outlines that show on any palette (light and dark): the
    indicator is drawn with a palette whose Window colour gives an outline of ≥3:1 contrast. Only that
    colour changes, so the size, the check mark, the fill and the focus outline stay Fusion's own, and
    boxes in item views (drawn through ``PE_IndicatorCheckBox`` too) get the same outline."""

    _INDICATORS = (
        QStyle.PrimitiveElement.PE_IndicatorCheckBox,
        QStyle.PrimitiveElement.PE_IndicatorRadioButton,
    )

    def __init__(self, base: QStyle) -> None:
        super().__init__(base)
        self._cache: dict[tuple[int, bool], QColor] = {}

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element not in self._INDICATORS:
            super().drawPrimitive(element, option, painter, widget)
            return
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        palette = option.palette
        key = (palette.cacheKey(), enabled)
        window = self._cache.get(key)
        if window is None:
            if len(self._cache) > 64:
                self._cache.clear()
            window = self._cache[key] = indicator_outline(palette, enabled)
        shown = QPalette(palette)
        shown.setColor(_Role.Window, window)  # every group: the state decides, not the palette's group
        option.palette = shown
        try:
            super().drawPrimitive(element, option, painter, widget)
        finally:
            option.palette = palette


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#1f2227"), QColor("#16181c"), QColor("#e6e6e6")
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#1c1f23"))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor("#2b2f36"))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor("#2a2e35"))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor("#ff6b6b"))
    p.setColor(QPalette.ColorRole.Highlight, QColor("#2f6feb"))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.Link, QColor("#6ea8fe"))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8b929c"))
    p.setColor(QPalette.ColorRole.Mid, QColor("#3a3f47"))
    p.setColor(QPalette.ColorRole.Midlight, QColor("#343a42"))
    p.setColor(QPalette.ColorRole.Light, QColor("#3f4650"))
    p.setColor(QPalette.ColorRole.Dark, QColor("#101215"))
    p.setColor(QPalette.ColorRole.Shadow, QColor("#08090b"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    return p


def is_dark() -> bool:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QApplication, preference: str = "system") -> None:
    """``system`` follows the platform's scheme (and its later changes); ``light``/``dark`` force one."""
    style = app.style()
    if not isinstance(style, IndicatorStyle) and (
        sys.platform.startswith("linux") or style.name().lower() == "fusion"
    ):
        fusion = QStyleFactory.create("Fusion")
        if fusion is not None:
            proxy = IndicatorStyle(fusion)
            app._modeldesk_style = proxy  # type: ignore[attr-defined]  # keep the Python side alive
            app.setStyle(proxy)
    hints = app.styleHints()
    if preference == "system":
        scheme = hints.colorScheme()
    else:
        scheme = Qt.ColorScheme.Dark if preference == "dark" else Qt.ColorScheme.Light
    if scheme == Qt.ColorScheme.Dark:
        app.setPalette(_dark_palette())
    else:
        app.setPalette(app.style().standardPalette())
    icons.clear_cache()
    from desktop_app.gui.qt_model_tree import forget_style_cache

    forget_style_cache()
    repolish(app)
    if not getattr(app, "_modeldesk_theme_hooked", False):
        app._modeldesk_theme_hooked = True  # type: ignore[attr-defined]
        hints.colorSchemeChanged.connect(lambda _scheme: _follow(app))
    app._modeldesk_theme = preference  # type: ignore[attr-defined]


def repolish(app: QApplication) -> None:
    """Make every widget take the new palette now. A widget styled by a style sheet (the window's chips,
    the chat header, the status bar: everything under the window's sheet) keeps the palette it was
    polished with when only the application palette changes; setting its sheet again re-resolves
    ``palette(...)`` and its inherited colours. Widgets that paint themselves are told to repaint."""
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet("")
            widget.setStyleSheet(sheet)
    for widget in app.topLevelWidgets():
        widget.update()


def _follow(app: QApplication) -> None:
    if getattr(app, "_modeldesk_theme", "system") == "system":
        apply_theme(app, "system")
