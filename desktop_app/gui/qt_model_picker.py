"""Picking models in the category tree for an evaluation: a check box before each model (and a
tri-state one on each category: all its models), drawn by a delegate and toggled by a click on it or
by Space, bound to a :class:`~desktop_app.services.eval_session.ModelPicks`.

It lives beside the tree instead of in it: the tree's item model stays as fast as it is (no check
state role, no Python ``flags()``), and picking costs nothing until the Evaluate view turns it on.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionButton, QStyleOptionViewItem, QTreeView

from desktop_app.core.capabilities import chat_refusal
from desktop_app.gui.qt_model_tree import POOL_OWNER, Col, ItemRole, QtModelTreeModel
from desktop_app.gui.qt_model_view import QtRowDelegate
from desktop_app.services.eval_session import ModelPicks

__all__ = ["QtModelPicker", "QtPickDelegate"]

_Index = QModelIndex | QPersistentModelIndex
_BOX = 16
_PAD = 22  # room taken by the check box before the name


def _pickable(row: Any) -> bool:
    return not row.grey and chat_refusal(row.id, row.capabilities) is None


class QtPickDelegate(QtRowDelegate):
    """The tree's delegate, with a check box before the name of every row."""

    def __init__(self, picker: QtModelPicker, parent: Any = None) -> None:
        super().__init__(parent)
        self.picker = picker

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        if index.column() != Col.NAME:
            super().paint(painter, option, index)
            return
        state, enabled = self.picker.state_of(index)
        box = QStyleOptionButton()
        box.rect = QRect(
            option.rect.x() + 3, option.rect.y() + (option.rect.height() - _BOX) // 2, _BOX, _BOX
        )
        box.state = QStyle.StateFlag.State_Enabled if enabled else QStyle.StateFlag.State_None
        box.state |= {
            Qt.CheckState.Checked: QStyle.StateFlag.State_On,
            Qt.CheckState.PartiallyChecked: QStyle.StateFlag.State_NoChange,
            Qt.CheckState.Unchecked: QStyle.StateFlag.State_Off,
        }[state]
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorCheckBox, box, painter, widget)
        shifted = QStyleOptionViewItem(option)
        shifted.rect = option.rect.adjusted(_PAD, 0, 0, 0)
        super().paint(painter, shifted, index)


class QtModelPicker(QObject):
    """Turns picking on and off for one tree view; clicks on a box (or Space) toggle picks."""

    def __init__(self, view: QTreeView, tree: QtModelTreeModel, picks: ModelPicks) -> None:
        super().__init__(view)
        self.view = view
        self.tree = tree
        self.picks = picks
        self._normal = view.itemDelegate()
        self._delegate = QtPickDelegate(self, view)
        self.active = False
        # category row -> ((tree version, picks version), pickable ids, state): a paint of the tree
        # asks each category's box, and a category can hold thousands of models.
        self._categories: dict[int, tuple[tuple[int, int], list[str], Qt.CheckState]] = {}
        picks.changed.connect(self._repaint)

    def set_active(self, active: bool) -> None:
        if active == self.active:
            return
        self.active = active
        if active:
            self.view.setItemDelegate(self._delegate)
            self.view.viewport().installEventFilter(self)
            self.view.installEventFilter(self)
        else:
            self.view.setItemDelegate(self._normal)
            self.view.viewport().removeEventFilter(self)
            self.view.removeEventFilter(self)
        self.view.viewport().update()

    def _repaint(self) -> None:
        if self.active:
            self.view.viewport().update()

    # ------------------------------------------------------------------ state
    def _source(self, index: _Index) -> Any:
        model: Any = self.view.model()
        return index if model is self.tree else model.mapToSource(index)

    def _category(self, index: _Index) -> tuple[list[str], Qt.CheckState]:
        """A category's pickable models and its box's state (cached until the tree or picks change)."""
        row = self._source(index).row()
        key = (self.tree.version, self.picks.version)
        cached = self._categories.get(row)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        if cached is not None and cached[0][0] == key[0]:
            ids = cached[1]
        else:
            # A category's box picks its models once per host, as "Add category" does: not its pools
            # (a pool is picked on its own row; with its hosts' rows it would run every case twice).
            ids = [r.id for r in self.tree.category_rows(row) if _pickable(r) and r.owner != POOL_OWNER]
        picked = sum(1 for i in ids if i in self.picks)
        if picked == 0:
            state = Qt.CheckState.Unchecked
        else:
            state = Qt.CheckState.Checked if picked == len(ids) else Qt.CheckState.PartiallyChecked
        self._categories[row] = (key, ids, state)
        return ids, state

    def state_of(self, index: _Index) -> tuple[Qt.CheckState, bool]:
        """The box of a row: checked or not (partly, for a category) and whether it can be toggled."""
        model_id = index.data(ItemRole.MODEL_ID)
        if model_id:
            source = self._source(index)
            row = self.tree.model_at(source.parent().row(), source.row())
            checked = Qt.CheckState.Checked if model_id in self.picks else Qt.CheckState.Unchecked
            return checked, _pickable(row)
        ids, state = self._category(index)
        return state, bool(ids)

    def toggle(self, index: _Index) -> None:
        """Toggle a model; on a category, pick all its models (or, when all are picked, none)."""
        state, enabled = self.state_of(index)
        if not enabled:
            return
        model_id = index.data(ItemRole.MODEL_ID)
        if model_id:
            self.picks.toggle(model_id)
            return
        ids, _ = self._category(index)
        self.picks.set_many(ids, state is not Qt.CheckState.Checked)

    # ------------------------------------------------------------------ events
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonDblClick,
        ):
            assert isinstance(event, QMouseEvent)
            pos = event.position().toPoint()
            index = self.view.indexAt(pos)
            if index.isValid() and event.button() == Qt.MouseButton.LeftButton:
                name = index.siblingAtColumn(Col.NAME)
                rect = self.view.visualRect(name)
                if rect.x() <= pos.x() < rect.x() + _PAD:
                    if event.type() == QEvent.Type.MouseButtonPress:
                        self.toggle(name)
                    return True
        elif watched is self.view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Space and self.view.currentIndex().isValid():
                self.toggle(self.view.currentIndex().siblingAtColumn(Col.NAME))
                return True
        return False
