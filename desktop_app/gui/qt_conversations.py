"""The conversations list: every kept conversation, grouped by date or by model, searchable; open one to
read or continue it, rename, delete (asks first), export as Markdown or JSON.

It reads ``store.conversations`` (summaries, newest first) when shown and when the chat saves; the chat
panel's session does the writing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import ModelDeskError
from desktop_app.gui import icons

if TYPE_CHECKING:
    from desktop_app.core.conversation import ConversationSummary
    from desktop_app.store.conversations import ConversationStore

__all__ = ["QtConversationList", "date_group"]

_ID_ROLE = Qt.ItemDataRole.UserRole


def date_group(when: datetime, now: datetime | None = None) -> str:
    """Today, Yesterday, Previous 7 days, Previous 30 days, else the month ("March 2026")."""
    local = when.astimezone()
    today = (now or datetime.now().astimezone()).date()
    day = local.date()
    if day >= today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    if day > today - timedelta(days=7):
        return "Previous 7 days"
    if day > today - timedelta(days=30):
        return "Previous 30 days"
    return local.strftime("%B %Y")


def _when(when: datetime) -> str:
    """Its time today, else its date: the group already says the day."""
    local = when.astimezone()
    return (
        local.strftime("%H:%M")
        if local.date() == datetime.now().astimezone().date()
        else local.strftime("%Y-%m-%d")
    )


class QtConversationList(QWidget):
    open_requested = Signal(str)  # conversation id
    deleted = Signal(str)
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversations")
        self.store: ConversationStore | None = None
        self.summaries: list[ConversationSummary] = []
        self._loaded = False
        self.current_conversation: str | None = None  # the chat's, selected when nothing else is

        root = QVBoxLayout(self)
        root.setContentsMargins(8, 6, 4, 4)
        root.setSpacing(6)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("conversationSearch")
        self.search.setPlaceholderText("Search conversations — title, model, text…")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        top.addWidget(self.search, 1)
        self.group_by = QComboBox()
        self.group_by.setObjectName("conversationGroup")
        self.group_by.addItem("By date", "date")
        self.group_by.addItem("By model", "model")
        self.group_by.setToolTip("Group the conversations by day or by the model they were held with")
        top.addWidget(self.group_by)
        root.addLayout(top)

        self.tree = QTreeWidget()
        self.tree.setObjectName("conversationTree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Conversation", "Model", "Updated"])
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(1, 130)
        root.addWidget(self.tree, 1)
        self.empty = QLabel(
            "No conversations yet. Pick a model, press Chat and say something: every conversation is kept "
            "here, to reopen and continue."
        )
        self.empty.setObjectName("conversationsEmpty")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 16px;")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        root.addWidget(self.empty)

        buttons = QHBoxLayout()
        self.open_button = QPushButton(icons.icon("chat"), "Open")
        self.open_button.setObjectName("conversationOpen")
        self.open_button.setToolTip("Show it in the chat to read or continue it (Enter)")
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setObjectName("conversationRename")
        self.rename_button.setToolTip("Give it a title (F2)")
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("conversationExport")
        self.export_button.setToolTip("Save it as Markdown or JSON")
        self.delete_button = QPushButton(icons.icon("delete"), "Delete…")
        self.delete_button.setObjectName("conversationDelete")
        self.delete_button.setToolTip("Delete it (Delete; asks first)")
        for b in (self.open_button, self.rename_button, self.export_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        root.addLayout(buttons)

        self.search.textChanged.connect(self._populate)
        self.group_by.currentIndexChanged.connect(self._populate)
        self.tree.itemActivated.connect(lambda item, _col: self._open_item(item))
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.open_button.clicked.connect(lambda: self._open_item(self.tree.currentItem()))
        self.rename_button.clicked.connect(self.ask_rename)
        self.export_button.clicked.connect(self.ask_export)
        self.delete_button.clicked.connect(self.ask_delete)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.ask_delete)
        rename = QShortcut(QKeySequence(Qt.Key.Key_F2), self.tree)
        rename.setContext(Qt.ShortcutContext.WidgetShortcut)
        rename.activated.connect(self.ask_rename)
        down = QShortcut(QKeySequence(Qt.Key.Key_Down), self.search)
        down.setContext(Qt.ShortcutContext.WidgetShortcut)
        down.activated.connect(self._into_results)
        self.search.returnPressed.connect(self._into_results)
        self._update_buttons()

    # ------------------------------------------------------------------ data
    def set_store(self, store: ConversationStore) -> None:
        self.store = store
        if self.isVisible():
            self.reload()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._loaded:
            self.reload()

    def stale(self) -> None:
        """The store changed while the list was hidden: read it again when next shown."""
        self._loaded = False

    def reload(self) -> None:
        """Read the summaries again (the chat saved, or the list is first shown)."""
        if self.store is None:
            return
        self._loaded = True
        self.summaries = self.store.list()
        self._populate()

    def current_id(self) -> str | None:
        item = self.tree.currentItem()
        value = item.data(0, _ID_ROLE) if item is not None else None
        return value if isinstance(value, str) else None

    def select(self, conversation_id: str) -> bool:
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is None:
                continue
            for j in range(group.childCount()):
                child = group.child(j)
                if child is not None and child.data(0, _ID_ROLE) == conversation_id:
                    self.tree.setCurrentItem(child)
                    return True
        return False

    def _populate(self) -> None:
        keep = self.current_id()
        text = self.search.text()
        shown = [s for s in self.summaries if s.matches(text)] if text.strip() else list(self.summaries)
        by_model = self.group_by.currentData() == "model"
        self.tree.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for s in shown:  # newest first, so groups come in order of their newest conversation
            key = (s.model_id or "unknown model") if by_model else date_group(s.updated_at)
            group = groups.get(key)
            if group is None:
                group = groups[key] = QTreeWidgetItem(self.tree, [key])
                group.setFirstColumnSpanned(True)
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
            item = QTreeWidgetItem(group, [s.title, s.model_name or s.model_id, _when(s.updated_at)])
            item.setData(0, _ID_ROLE, s.id)
            item.setToolTip(0, f"{s.title}\n{s.turns} messages · {s.model_id}")
            item.setToolTip(1, s.model_id)
        self.tree.expandAll()
        for group in groups.values():
            group.setText(0, f"{group.text(0)} ({group.childCount()})")
        self.empty.setVisible(not self.summaries)
        self.tree.setVisible(bool(self.summaries))
        if self.summaries and not shown:
            self.status_message.emit("No conversation matches the search.")
        if keep is not None:
            self.select(keep)
        elif self.current_conversation is not None:
            self.select(self.current_conversation)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.current_id() is not None
        for b in (self.open_button, self.rename_button, self.export_button, self.delete_button):
            b.setEnabled(has)

    def _into_results(self) -> None:
        """Down or Enter in the search box: into the first conversation shown."""
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            if group is not None and group.childCount():
                child = group.child(0)
                if child is not None:
                    self.tree.setCurrentItem(child)
                self.tree.setFocus(Qt.FocusReason.OtherFocusReason)
                return

    def _open_item(self, item: QTreeWidgetItem | None) -> None:
        value = item.data(0, _ID_ROLE) if item is not None else None
        if isinstance(value, str):
            self.open_requested.emit(value)

    # ------------------------------------------------------------------ actions
    def ask_rename(self) -> None:
        cid = self.current_id()
        if cid is None or self.store is None:
            return
        current = next((s.title for s in self.summaries if s.id == cid), "")
        dialog = QInputDialog(self)
        dialog.setObjectName("renameConversation")
        dialog.setWindowTitle("Rename conversation")
        dialog.setLabelText("Title")
        dialog.setTextValue(current)
        dialog.textValueSelected.connect(lambda title: self.rename(cid, title))
        dialog.open()

    def rename(self, conversation_id: str, title: str) -> None:
        if self.store is None:
            return
        try:
            self.store.rename(conversation_id, title)
        except ModelDeskError as exc:
            self.status_message.emit(exc.message)
            return
        self.reload()
        self.select(conversation_id)

    def ask_delete(self) -> None:
        cid = self.current_id()
        if cid is None:
            return
        title = next((s.title for s in self.summaries if s.id == cid), cid)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete conversation",
            f"Delete the conversation “{title}”?\n\nIts messages cannot be brought back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmDeleteConversation")
        yes = box.button(QMessageBox.StandardButton.Yes)
        if yes is not None:
            yes.setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._delete_answered(result, cid))
        box.open()

    def _delete_answered(self, result: int, conversation_id: str) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self.delete(conversation_id)

    def delete(self, conversation_id: str) -> None:
        if self.store is None:
            return
        try:
            self.store.delete(conversation_id)
        except ModelDeskError as exc:
            self.status_message.emit(exc.message)
            return
        self.reload()
        self.deleted.emit(conversation_id)
        self.status_message.emit("Conversation deleted.")

    def ask_export(self) -> None:
        cid = self.current_id()
        if cid is None or self.store is None:
            return
        title = next((s.title for s in self.summaries if s.id == cid), cid)
        safe = "".join(c if c.isalnum() or c in "-_ " else "_" for c in title).strip() or cid
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export conversation",
            str(Path.home() / f"{safe}.md"),
            "Markdown (*.md);;JSON (*.json)",
        )
        if path:
            self.export(
                cid, Path(path), "json" if "json" in chosen.lower() or path.endswith(".json") else "markdown"
            )

    def export(self, conversation_id: str, path: Path, fmt: str) -> bool:
        from desktop_app.store.conversations import export_text

        if self.store is None:
            return False
        try:
            text = export_text(self.store.load(conversation_id), fmt)
            path.write_text(text, encoding="utf-8")
        except ModelDeskError as exc:
            self.status_message.emit(exc.message)
            return False
        except OSError as exc:
            self.status_message.emit(f"Cannot write {path}: {exc.strerror or exc}")
            return False
        self.status_message.emit(f"Exported to {path}.")
        return True
