"""Per-source health in the status bar: a coloured dot and the source's name, a tooltip that says why."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop_app.core.enums import SourceHealth
from desktop_app.gui import icons
from desktop_app.gui.labels import HEALTH_LABELS, for_window

if TYPE_CHECKING:
    from desktop_app.core.models import SourceConfig, SourceState

__all__ = ["QtSourceHealthBar", "SourceView"]


class SourceView:
    """What one dot shows (plain data, so tests can read it)."""

    __slots__ = ("checking", "health", "hint", "message", "model_count", "name", "url", "when")

    def __init__(self, name: str, url: str = "") -> None:
        self.name = name
        self.url = url
        self.health = SourceHealth.UNKNOWN
        self.message = ""
        self.hint = ""
        self.model_count = 0
        self.when: datetime | None = None
        self.checking = False

    def tooltip(self) -> str:
        lines = [f"<b>{self.name}</b> — {HEALTH_LABELS[self.health]}"]
        if self.url:
            lines.append(self.url)
        if self.checking:
            lines.append("<i>Checking now…</i>")
        if self.health is SourceHealth.OK:
            lines.append(f"{self.model_count} model{'s' if self.model_count != 1 else ''}")
        elif self.message:
            lines.append(escape(for_window(self.message)))
        if self.hint and self.hint not in self.message:
            lines.append(f"<i>{escape(for_window(self.hint))}</i>")
        if self.when is not None:
            lines.append(f"Last checked {self.when.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")
        elif self.health is SourceHealth.UNKNOWN and not self.checking:
            lines.append("Press F5 to check it.")
        return "<br>".join(lines)


class QtSourceHealthBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourceHealth")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 4, 0)
        self._layout.setSpacing(10)
        self.views: dict[str, SourceView] = {}
        self._labels: dict[str, QLabel] = {}

    def set_sources(self, sources: list[SourceConfig] | list[Any], states: dict[str, SourceState]) -> None:
        """One dot per configured source, in settings order; disabled sources are grey."""
        old = self.views
        self.views = {}
        for src in sources:
            view = old.get(src.name) or SourceView(src.name)
            view.url = src.base_url
            state = states.get(src.name)
            if not src.enabled:
                view.health, view.message = SourceHealth.DISABLED, "Disabled in Settings."
            elif src.name not in old and state is not None:
                view.health, view.message, view.model_count, view.when = (
                    state.health,
                    state.message,
                    state.model_count,
                    state.checked_at,
                )
            elif view.health is SourceHealth.DISABLED:
                view.health, view.message = SourceHealth.UNKNOWN, ""
            self.views[src.name] = view
        self._rebuild()

    def set_checking(self, names: list[str]) -> None:
        for name in names:
            if name in self.views:
                self.views[name].checking = True
        self._refresh()

    def set_report(
        self, name: str, health: SourceHealth, message: str, hint: str, model_count: int, when: datetime
    ) -> None:
        view = self.views.get(name)
        if view is None:
            view = self.views[name] = SourceView(name)
            self._rebuild()
        view.health, view.message, view.hint, view.model_count, view.when = (
            health,
            message,
            hint,
            model_count,
            when,
        )
        view.checking = False
        self._refresh()

    def stop_checking(self) -> None:
        for view in self.views.values():
            view.checking = False
        self._refresh()

    def label(self, name: str) -> QLabel:
        return self._labels[name]

    def _rebuild(self) -> None:
        for label in self._labels.values():
            self._layout.removeWidget(label)
            label.deleteLater()
        self._labels = {}
        for name in self.views:
            label = QLabel(self)
            label.setObjectName(f"health-{name}")
            label.setTextFormat(Qt.TextFormat.RichText)
            self._layout.addWidget(label)
            self._labels[name] = label
        self._refresh()

    def _refresh(self) -> None:
        for name, view in self.views.items():
            label = self._labels[name]
            dot = icons.icons_dir() / f"{icons.HEALTH_DOTS[view.health]}.svg"
            suffix = "…" if view.checking else ""
            label.setText(f'<img src="{dot.as_posix()}" width="11" height="11">&nbsp;{escape(name)}{suffix}')
            label.setToolTip(view.tooltip())
            label.setAccessibleName(f"{name}: {HEALTH_LABELS[view.health]}")
