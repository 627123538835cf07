"""The Evaluate view's small item models: the suite's test cases, the per-model progress, past runs;
and the delegate that draws a progress bar in a table cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop_app.core.suite import Suite
from desktop_app.services.eval_session import ModelProgress
from desktop_app.services.run_files import RunInfo

__all__ = ["PROGRESS_ROLE", "QtCasesModel", "QtProgressDelegate", "QtProgressModel", "QtRunsModel"]

_Index = QModelIndex | QPersistentModelIndex
PROGRESS_ROLE = int(Qt.ItemDataRole.UserRole) + 10  # a ModelProgress (the progress column)
_MAX_CELL = 160  # characters of a test case's value shown in its cell (the tooltip has more)


def _one_line(value: Any, limit: int = _MAX_CELL) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class QtCasesModel(QAbstractTableModel):
    """The suite's ``testData``: one row per case, one column per variable."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self._keys: list[str] = []

    def set_suite(self, suite: Suite | None) -> None:
        rows = [dict(r) for r in suite.test_data] if suite is not None else []
        keys = list(dict.fromkeys(k for r in rows for k in r))
        if rows == self._rows and keys == self._keys:
            return
        self.beginResetModel()
        self._rows, self._keys = rows, keys
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._keys)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or index.column() >= len(self._keys):
            return None
        value = self._rows[index.row()].get(self._keys[index.column()], "")
        if role == Qt.ItemDataRole.DisplayRole:
            return _one_line(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(value)[:2000]
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._keys[section] if 0 <= section < len(self._keys) else None
        return f"#{section}" if 0 <= section < len(self._rows) else None


class QtProgressModel(QAbstractTableModel):
    """One row per model: its name, a bar (cases done of total), passed, failed, errors."""

    HEADERS = ("Model", "Progress", "Passed", "Failed", "Errors")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ModelProgress] = []
        self._where: dict[str, int] = {}

    def set_rows(self, rows: Sequence[ModelProgress]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._where = {p.model_id: i for i, p in enumerate(self._rows)}
        self.endResetModel()

    def model_ids(self) -> list[str]:
        return [p.model_id for p in self._rows]

    def refresh(self, model_ids: set[str]) -> None:
        rows = sorted(self._where[m] for m in model_ids if m in self._where)
        if rows:
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], len(self.HEADERS) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows) or index.column() >= len(self.HEADERS):
            return None
        p = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return p.model_id
            if col == 1:
                return f"{p.done}/{p.total}" + (" · waiting (rate limit)" if p.waiting else "")
            return str((p.passed, p.failed, p.errors)[col - 2])
        if role == PROGRESS_ROLE and col == 1:
            return p
        if role == Qt.ItemDataRole.ToolTipRole:
            return p.waiting or p.text
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col >= 2:
            colors = {2: QColor(21, 128, 61), 3: QColor(185, 28, 28), 4: QColor(180, 83, 9)}
            return colors[col] if (p.passed, p.failed, p.errors)[col - 2] else None
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None


class QtProgressDelegate(QStyledItemDelegate):
    """A bar split into passed (green), failed (red) and errors (amber), with ``done/total`` on it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        p: ModelProgress | None = index.data(PROGRESS_ROLE)
        if p is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        rect = QRectF(option.rect.adjusted(4, 5, -4, -5))
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(option.palette.color(option.palette.ColorRole.Midlight))
        painter.drawRoundedRect(rect, 3, 3)
        x = rect.x()
        total = max(1, p.total)
        for count, color in (
            (p.passed, QColor(34, 160, 84)),
            (p.failed, QColor(214, 69, 65)),
            (p.errors, QColor(217, 119, 6)),
        ):
            if count <= 0:
                continue
            w = rect.width() * count / total
            painter.fillRect(QRectF(x, rect.y(), w, rect.height()), color)
            x += w
        painter.setPen(option.palette.color(option.palette.ColorRole.Text))
        painter.drawText(
            rect, int(Qt.AlignmentFlag.AlignCenter), index.data(Qt.ItemDataRole.DisplayRole) or ""
        )
        painter.restore()


class QtRunsModel(QAbstractTableModel):
    """Past runs, newest first: when, suite, models, status."""

    HEADERS = ("Started", "Suite", "Models", "Cases", "Status")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []

    def set_runs(self, runs: Sequence[RunInfo]) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self.endResetModel()

    def run_at(self, row: int) -> RunInfo | None:
        return self._runs[row] if 0 <= row < len(self._runs) else None

    def row_of(self, run_id: str) -> int:
        return next((i for i, r in enumerate(self._runs) if r.run_id == run_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._runs) or index.column() >= len(self.HEADERS):
            return None
        r = self._runs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return r.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if r.started_at else "?"
            if col == 1:
                return r.suite_name or "(unnamed suite)"
            if col == 2:
                names = ", ".join(m.rsplit("/", 1)[-1] for m in r.model_ids[:3])
                return names + (f" +{len(r.model_ids) - 3}" if len(r.model_ids) > 3 else "")
            if col == 3:
                return f"{len(r.model_ids)} × {r.case_count}"
            return r.status.value + (" — resumable" if r.resumable else "")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{r.run_id}\n{r.path}\nmodels: {', '.join(r.model_ids)}"
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None
