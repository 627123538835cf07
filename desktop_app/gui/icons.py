"""SVG icons and badges from ``resources/icons``, loaded once and cached.

Action icons draw with ``currentColor``, replaced by the palette's text colour when loaded, so they
read in light and dark themes. A missing file never breaks the window: callers get an empty icon and
the badge delegate falls back to text.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from desktop_app.core.enums import Category, ModelStatus, SourceHealth

__all__ = [
    "HEALTH_DOTS",
    "app_icon",
    "badge_renderer",
    "category_icon",
    "health_icon",
    "icon",
    "icons_dir",
    "status_icon",
]


@cache
def icons_dir() -> Path:
    """``$MODELDESK_RESOURCES/icons``, the PyInstaller bundle's, or the source tree's."""
    candidates = []
    if os.environ.get("MODELDESK_RESOURCES"):
        candidates.append(Path(os.environ["MODELDESK_RESOURCES"]) / "icons")
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "icons")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "icons")
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]


def _svg_bytes(name: str, tint: str | None) -> bytes | None:
    path = icons_dir() / f"{name}.svg"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if tint is not None:
        data = data.replace(b"currentColor", tint.encode())
    return data


def _render(data: bytes, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(data))
    px = QPixmap(int(size * ratio), int(size * ratio))
    px.setDevicePixelRatio(ratio)
    px.fill(Qt.GlobalColor.transparent)
    painter = QPainter(px)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return px


def _text_color() -> str:
    app = QApplication.instance()
    if app is None:
        return "#374151"
    return QApplication.palette().color(QPalette.ColorRole.WindowText).name()


@cache
def _icon(name: str, tint: str | None) -> QIcon:
    data = _svg_bytes(name, tint)
    app = QApplication.instance()
    if data is None or not isinstance(app, QApplication):  # pixmaps need an application
        return QIcon()
    ratio = app.devicePixelRatio()
    result = QIcon()
    for size in (16, 20, 24, 32, 48):
        result.addPixmap(_render(data, size, max(1.0, ratio)))
    return result


def icon(name: str) -> QIcon:
    """An action icon, tinted for the current palette."""
    return _icon(name, _text_color())


def category_icon(category: Category) -> QIcon:
    return _icon(f"cat-{category.value}", None)


_STATUS_DOTS = {
    ModelStatus.AVAILABLE: "dot-green",
    ModelStatus.OFFLINE: "dot-red",
    ModelStatus.ERROR: "dot-red",
    ModelStatus.RETIRED: "dot-grey",
    ModelStatus.DISABLED: "dot-grey",
}

# The one health-colour map: the status bar's dots and every health icon read it.
HEALTH_DOTS = {
    SourceHealth.OK: "dot-green",
    SourceHealth.RETIRED: "dot-amber",
    SourceHealth.DOWN: "dot-red",
    SourceHealth.DISABLED: "dot-grey",
    SourceHealth.UNKNOWN: "dot-grey",
}


def status_icon(status: ModelStatus) -> QIcon:
    return _icon(_STATUS_DOTS[status], None)


def health_icon(health: SourceHealth) -> QIcon:
    return _icon(HEALTH_DOTS[health], None)


def health_pixmap(health: SourceHealth, size: int = 12) -> QPixmap:
    return health_icon(health).pixmap(QSize(size, size))


def app_icon() -> QIcon:
    return _icon("modeldesk", None)


@cache
def badge_renderer(badge: str) -> QSvgRenderer | None:
    """A renderer for LOCAL / REMOTE / EXPERIMENTAL (painted by the tree's badge delegate)."""
    data = _svg_bytes(f"badge-{badge.lower()}", None)
    if data is None:
        return None
    renderer = QSvgRenderer(QByteArray(data))
    return renderer if renderer.isValid() else None


def clear_cache() -> None:
    """Forget tinted icons (after the palette changes between light and dark)."""
    _icon.cache_clear()
