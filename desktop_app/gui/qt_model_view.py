"""The tree view: badge delegate, empty-state message, expansion policy helpers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from desktop_app.core.models import ModelStatus, UnifiedModel
from desktop_app.gui import icons
from desktop_app.gui.qt_model_filter import QtModelFilterProxy
from desktop_app.gui.qt_model_tree import Col, ItemRole

__all__ = ["QtBadgeDelegate", "QtModelTreeView"]

_Index = QModelIndex | QPersistentModelIndex
_BADGE_HEIGHT = 16.0


class QtBadgeDelegate(QStyledItemDelegate):
    """Paints the LOCAL / REMOTE / EXPERIMENTAL badge (an SVG from resources), dimmed when unusable."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        badge = index.data(ItemRole.BADGE)
        renderer = icons.badge_renderer(badge) if badge else None
        if renderer is None:
            super().paint(painter, option, index)
            return
        # Background and selection as usual, without the text.
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        size = renderer.defaultSize()
        h = _BADGE_HEIGHT
        w = size.width() * h / max(1, size.height())
        rect = QRectF(option.rect.x() + 4, option.rect.y() + (option.rect.height() - h) / 2, w, h)
        painter.save()
        model: UnifiedModel | None = index.data(ItemRole.MODEL)
        if model is not None and model.status not in (ModelStatus.AVAILABLE,):
            painter.setOpacity(0.4)
        renderer.render(painter, rect)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        hint = super().sizeHint(option, index)
        badge = index.data(ItemRole.BADGE)
        renderer = icons.badge_renderer(badge) if badge else None
        if renderer is None:
            return hint
        size = renderer.defaultSize()
        w = int(size.width() * _BADGE_HEIGHT / max(1, size.height())) + 8
        return QSize(max(w, hint.width()), max(int(_BADGE_HEIGHT) + 4, hint.height()))


class QtModelTreeView(QTreeView):
    """The category tree. Emits ``model_activated`` on Enter / double click on a model row."""

    model_activated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelTree")
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setAllColumnsShowFocus(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setExpandsOnDoubleClick(False)
        self.setAnimated(False)
        self.setSortingEnabled(False)
        self.setItemDelegateForColumn(Col.BADGE, QtBadgeDelegate(self))
        self.setAccessibleName("Models by category")
        self.activated.connect(self._on_activated)
        self.doubleClicked.connect(self._on_double_clicked)
        self.empty_text = ""

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Col.NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in ((Col.BADGE, 100), (Col.CAPABILITIES, 124), (Col.SOURCE, 96), (Col.STATUS, 90)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(col, width)
        header.setMinimumSectionSize(40)
        model.rowsInserted.connect(self._span_categories)
        model.layoutChanged.connect(self._span_categories)
        model.modelReset.connect(self._span_categories)
        self._span_categories()

    def _span_categories(self, *args: Any) -> None:
        """Category rows use the whole width, so their labels and counts are never cut."""
        model = self.model()
        if model is None:
            return
        root = QModelIndex()
        for row in range(model.rowCount(root)):
            if not self.isFirstColumnSpanned(row, root):
                self.setFirstColumnSpanned(row, root, True)

    def _on_activated(self, index: QModelIndex) -> None:
        model = index.data(ItemRole.MODEL)
        if model is not None:
            self.model_activated.emit(model)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        if index.data(ItemRole.MODEL) is None:  # a category: toggle it
            first = index.siblingAtColumn(0)
            self.setExpanded(first, not self.isExpanded(first))

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is None or model.rowCount() > 0:
            return
        if isinstance(model, QtModelFilterProxy) and model.is_filtering():
            text = "No model matches the search and filters.\nClear them to see every model."
        else:
            text = self.empty_text or "No models yet."
        painter = QPainter(self.viewport())
        painter.setPen(self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text))
        rect = self.viewport().rect().adjusted(24, 24, -24, -24)
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
        painter.end()
