"""Light and dark: follow the system's colour scheme unless the user picked one in Settings."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from desktop_app.gui import icons

__all__ = ["apply_theme", "is_dark"]


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
    if sys.platform.startswith("linux") and app.style().name().lower() not in ("fusion",):
        fusion = QStyleFactory.create("Fusion")
        if fusion is not None:
            app.setStyle(fusion)
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
