"""The tree view: a one-call-per-cell delegate (badges, status dots, greyed rows) and the empty state."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from desktop_app.core.enums import Category, ModelStatus
from desktop_app.gui import icons
from desktop_app.gui.qt_model_filter import QtModelFilterProxy
from desktop_app.gui.qt_model_tree import Cell, Col, ItemRole

__all__ = ["QtModelTreeView", "QtRowDelegate"]

_Index = QModelIndex | QPersistentModelIndex
_BADGE_HEIGHT = 16.0


class QtRowDelegate(QStyledItemDelegate):
    """Paints every cell of the tree from one ``ItemRole.CELL`` answer.

    The stock delegate asks the model for seven roles per cell (through the proxy: fourteen calls into
    Python), which made a repaint of the tree cost three times a plain C++ tree's. Here a cell costs one
    ``data()`` call: its text, whether the row is greyed, and its badge / status dot / category icon.
    The model still answers every standard role, for accessibility, tooltips and keyboard search.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._pixmaps: dict[tuple[str, float], QPixmap] = {}
        self._bold: QFont | None = None

    def _badge(self, badge: str, ratio: float) -> QPixmap | None:
        key = (badge, ratio)
        px = self._pixmaps.get(key)
        if px is None:
            renderer = icons.badge_renderer(badge)
            if renderer is None:
                return None
            size = renderer.defaultSize()
            w = size.width() * _BADGE_HEIGHT / max(1, size.height())
            px = QPixmap(int(w * ratio), int(_BADGE_HEIGHT * ratio))
            px.setDevicePixelRatio(ratio)
            px.fill(Qt.GlobalColor.transparent)
            p = QPainter(px)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(p, QRectF(0, 0, w, _BADGE_HEIGHT))
            p.end()
            self._pixmaps[key] = px
        return px

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        cell: Cell | None = index.data(ItemRole.CELL)
        if cell is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        rect: QRect = option.rect.adjusted(4, 0, -4, 0)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            color = palette.color(QPalette.ColorRole.HighlightedText)
        elif cell.grey:
            color = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        else:
            color = palette.color(QPalette.ColorRole.Text)
        kind = cell.kind
        if kind == "badge":
            ratio = painter.device().devicePixelRatioF()
            px = self._badge(cell.extra, ratio)
            if px is not None and px.width() / ratio > rect.width():
                px = self._badge(f"{cell.extra}-short", ratio) or px  # EXP in a narrow tree
            if px is not None:
                painter.save()
                painter.setClipRect(option.rect)  # a column made narrower than the badge cuts it
                if cell.grey:
                    painter.setOpacity(0.4)
                painter.drawPixmap(QPointF(rect.x(), rect.y() + (rect.height() - _BADGE_HEIGHT) / 2), px)
                painter.restore()
                return
        elif kind == "status":
            dot = icons.status_icon(ModelStatus(cell.extra))
            side = 10
            dot.paint(painter, QRect(rect.x(), rect.y() + (rect.height() - side) // 2, side, side))
            rect = rect.adjusted(side + 6, 0, 0, 0)
        elif kind == "category":
            icon = icons.category_icon(Category(cell.extra))
            side = 16
            icon.paint(painter, QRect(rect.x(), rect.y() + (rect.height() - side) // 2, side, side))
            rect = rect.adjusted(side + 6, 0, 0, 0)
            if self._bold is None:
                self._bold = QFont(option.font)
                self._bold.setBold(True)
            painter.save()
            painter.setFont(self._bold)
            painter.setPen(color)
            text = painter.fontMetrics().elidedText(cell.text, Qt.TextElideMode.ElideRight, rect.width())
            painter.drawText(rect, _TEXT_FLAGS, text)
            painter.restore()
            return
        painter.setPen(color)
        text = option.fontMetrics.elidedText(cell.text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, _TEXT_FLAGS, text)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        height = max(int(_BADGE_HEIGHT) + 6, option.fontMetrics.height() + 8)
        cell: Cell | None = index.data(ItemRole.CELL)
        width = option.fontMetrics.horizontalAdvance(cell.text) + 12 if cell else 40
        return QSize(width, height)


_TEXT_FLAGS = int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextSingleLine)


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
        self.setItemDelegate(QtRowDelegate(self))
        self.setAccessibleName("Models by category")
        self.activated.connect(self._on_activated)
        self.doubleClicked.connect(self._on_double_clicked)
        self.verticalScrollBar().valueChanged.connect(self._show_more_rows)
        self.empty_text = ""

    def _show_more_rows(self, *_args: Any) -> None:
        """A big category's rows come a page at a time (see ``QtModelFilterProxy.show_more``): the next
        page is shown when the last row shown of an open category scrolls into view — unless the
        current row is below it and in view (End, or a click on a later category): the new page would
        push that row out of sight."""
        from desktop_app.gui.qt_model_filter import QtModelFilterProxy

        model = self.model()
        if not isinstance(model, QtModelFilterProxy):
            return
        bottom = self.viewport().height()
        current = self.currentIndex()
        at = self.visualRect(current) if current.isValid() else None
        for r in range(model.rowCount()):
            parent = model.index(r, 0)
            if self.isExpanded(parent) and model.can_show_more(parent):
                last = self.visualRect(model.index(model.rowCount(parent) - 1, 0, parent))
                if not last.isValid() or last.top() >= bottom:
                    continue
                if at is not None and at.isValid() and last.top() < at.top() < bottom:
                    continue
                model.show_more(parent)

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Col.NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in self.WIDE.items():
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(col, width)
        header.setMinimumSectionSize(40)
        self._caps_width = 124
        header.sectionResized.connect(self._section_resized)
        model.rowsInserted.connect(self._span_categories)
        model.layoutChanged.connect(self._span_categories)
        model.modelReset.connect(self._span_categories)
        self._span_categories()

    # A narrow tree (a 1024-pixel window) drops the Capabilities column (the chips and the detail pane
    # say the same) rather than push Source and Status out of sight behind a scroll bar.
    NAME_MIN = 150

    WIDE = {Col.BADGE: 96, Col.CAPABILITIES: 124, Col.SOURCE: 88, Col.STATUS: 84}
    # Narrow: the badge column as wide as LOCAL / REMOTE.
    NARROW = {Col.BADGE: 68, Col.SOURCE: 78, Col.STATUS: 84}
    # Wide, with an experimental model in the tree: the EXPERIMENTAL badge (100 px) and the cell's
    # padding. Narrow, the names keep the room and the badge reads EXP.
    BADGE_EXPERIMENTAL = 108

    def _section_resized(self, column: int, _old: int, new: int) -> None:
        if column == Col.CAPABILITIES and new > 0:
            self._caps_width = new

    def _has_experimental(self) -> bool:
        from desktop_app.core.enums import Category
        from desktop_app.gui.qt_model_filter import QtModelFilterProxy
        from desktop_app.gui.qt_model_tree import QtModelTreeModel

        model = self.model()
        source = model.sourceModel() if isinstance(model, QtModelFilterProxy) else model
        return isinstance(source, QtModelTreeModel) and source.category_count(Category.EXPERIMENTAL) > 0

    def fit_columns(self) -> None:
        header = self.header()
        if header.count() <= Col.STATUS:
            return
        narrow = self.viewport().width() < self.NAME_MIN + sum(self.WIDE.values())
        if narrow != self.isColumnHidden(Col.CAPABILITIES):
            # only on a change between narrow and wide: a column the user resized stays so
            self.setColumnHidden(Col.CAPABILITIES, narrow)
            widths = dict(self.NARROW) if narrow else {**self.WIDE, Col.CAPABILITIES: self._caps_width}
            for col, width in widths.items():
                self.setColumnWidth(col, width)
        self._fit_badge_column()

    def _fit_badge_column(self) -> None:
        """In a wide tree, widen the badge column when an experimental model arrives (never narrower:
        the user's width stays), so EXPERIMENTAL is shown whole; a narrow tree shows EXP."""
        if (
            not self.isColumnHidden(Col.CAPABILITIES)
            and self.columnWidth(Col.BADGE) < self.BADGE_EXPERIMENTAL
            and self._has_experimental()
        ):
            self.setColumnWidth(Col.BADGE, self.BADGE_EXPERIMENTAL)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def _span_categories(self, *args: Any) -> None:
        """Category rows use the whole width, so their labels and counts are never cut."""
        model = self.model()
        if model is None:
            return
        if self.header().count() > Col.BADGE:
            self._fit_badge_column()
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
        if model is None:
            return
        viewport = self.viewport()
        rect = viewport.rect().adjusted(24, 24, -24, -24)
        flags = Qt.AlignmentFlag.AlignCenter
        if isinstance(model, QtModelFilterProxy) and model.is_filtering():
            if model.rowCount() > 0:
                return
            text = "No model matches the search and filters.\nClear them to see every model."
        else:
            # Without a filter the categories are always listed, empty or not: the empty-state text
            # goes below them, once there is no model in any.
            rows = model.rowCount()
            if any(model.hasChildren(model.index(r, 0)) for r in range(rows)):
                return
            text = self.empty_text or "No models yet."
            if rows:
                last = self.visualRect(model.index(rows - 1, 0))
                rect.setTop(max(rect.top(), last.bottom() + 24))
                flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter = QPainter(viewport)
        painter.setPen(
            self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text)
        )
        painter.drawText(rect, int(flags | Qt.TextFlag.TextWordWrap), text)
        painter.end()
