"""The settings dialog: sources (add / remove / enable, keys into the keyring), the MLflow tracking URI,
and the theme (follows the system unless the user picks one).

Source changes go through ``services.sources`` and apply at once (the list says so); keys go to the
``KeyStore`` and are never shown again. Preferences are saved when the dialog is accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.limits import MAX_TIMEOUT, Timeouts
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.urls import mask_url
from desktop_app.services.context import AppContext

if TYPE_CHECKING:
    from desktop_app.store.settings import Settings

__all__ = ["KIND_CHOICES", "QtSettingsDialog", "validate_tracking_uri"]

# (kind, label, default URL, needs a key)
KIND_CHOICES: tuple[tuple[SourceKind, str, str, bool], ...] = (
    (SourceKind.OLLAMA, "Ollama host", "http://127.0.0.1:11434", False),
    (SourceKind.OPENAI_COMPAT, "OpenAI-compatible API", "https://api.openai.com/v1", True),
    (SourceKind.GITHUB_MODELS, "GitHub Models (retired 2026-07-30)", "https://models.github.ai", True),
)
_KIND_LABEL = {k: label for k, label, _, _ in KIND_CHOICES}

THEMES = (("system", "Follow the system (light or dark)"), ("light", "Light"), ("dark", "Dark"))

_COL_ON, _COL_NAME, _COL_KIND, _COL_URL, _COL_KEY = range(5)


def validate_tracking_uri(text: str) -> str | None:
    """Empty means the default (SQLite in the data folder); else a URI MLflow understands."""
    value = text.strip()
    if not value:
        return None
    allowed = ("http://", "https://", "sqlite:///", "file:", "postgresql://", "mysql://", "databricks")
    if value.startswith(allowed) or value.startswith("/"):
        return value
    raise InvalidInput(
        f"{value!r} is not a tracking URI MLflow understands: use http(s)://host:port, sqlite:///path.db or a "
        "folder path, or leave it empty for the default."
    )


class QtSettingsDialog(QDialog):
    sources_changed = Signal()
    preferences_changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("ModelDesk settings")
        self.ctx = ctx
        self.resize(820, 600)
        root = QVBoxLayout(self)

        # ------------------------------------------------------------ sources
        sources = QGroupBox("Sources — where models come from (changes apply at once; F5 syncs)")
        sl = QVBoxLayout(sources)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("sourcesTable")
        self.table.setHorizontalHeaderLabels(["On", "Name", "Kind", "URL", "Key"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(_COL_URL, QHeaderView.ResizeMode.Stretch)
        for col in (_COL_ON, _COL_NAME, _COL_KIND, _COL_KEY):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        sl.addWidget(self.table)

        row = QHBoxLayout()
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("sourceRemove")
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("sourceKey")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("paste a key for the selected source")
        self.key_button = QPushButton("Store key")
        self.key_button.setObjectName("sourceKeySave")
        self.key_clear = QPushButton("Forget key")
        self.key_clear.setObjectName("sourceKeyForget")
        self.sync_timeout = QDoubleSpinBox()
        self.sync_timeout.setObjectName("sourceSyncTimeout")
        self.sync_timeout.setRange(1.0, MAX_TIMEOUT)
        self.sync_timeout.setDecimals(0)
        self.sync_timeout.setSuffix(" s")
        self.sync_timeout.setKeyboardTracking(False)
        self.sync_timeout.setToolTip(
            "A sync gives up on the selected source when it has sent no reply for this long "
            "(each reply moves the deadline on, so many models on a slow server still finish)."
        )
        row.addWidget(self.remove_button)
        row.addWidget(QLabel("Give up after"))
        row.addWidget(self.sync_timeout)
        row.addStretch(1)
        row.addWidget(self.key_edit, 2)
        row.addWidget(self.key_button)
        row.addWidget(self.key_clear)
        sl.addLayout(row)

        add = QGroupBox("Add a source")
        al = QFormLayout(add)
        self.add_kind = QComboBox()
        self.add_kind.setObjectName("addKind")
        for kind, label, _, _ in KIND_CHOICES:
            self.add_kind.addItem(label, kind.value)
        self.add_name = QLineEdit()
        self.add_name.setObjectName("addName")
        self.add_name.setPlaceholderText("a short name, e.g. gpu-box or openai")
        self.add_url = QLineEdit()
        self.add_url.setObjectName("addUrl")
        self.add_key = QLineEdit()
        self.add_key.setObjectName("addKey")
        self.add_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.add_key.setPlaceholderText("API key (stored in the system keyring)")
        self.add_button = QPushButton("Add source")
        self.add_button.setObjectName("addSource")
        al.addRow("Kind", self.add_kind)
        al.addRow("Name", self.add_name)
        al.addRow("URL", self.add_url)
        al.addRow("Key", self.add_key)
        al.addRow("", self.add_button)
        sl.addWidget(add)
        self.sources_message = QLabel()
        self.sources_message.setObjectName("sourcesMessage")
        self.sources_message.setWordWrap(True)
        sl.addWidget(self.sources_message)
        root.addWidget(sources, 1)

        # ------------------------------------------------------------ preferences
        prefs = QGroupBox("Preferences")
        pl = QFormLayout(prefs)
        self.mlflow_uri = QLineEdit(ctx.settings.preferences.mlflow_tracking_uri or "")
        self.mlflow_uri.setObjectName("mlflowUri")
        self.mlflow_uri.setPlaceholderText(f"default: SQLite in {ctx.home}")
        self.mlflow_uri.setToolTip(
            "Where evaluations are logged: empty for the local default, or http(s)://server:port"
        )
        pl.addRow("MLflow tracking URI", self.mlflow_uri)
        self.theme = QComboBox()
        self.theme.setObjectName("theme")
        for value, label in THEMES:
            self.theme.addItem(label, value)
        idx = self.theme.findData(ctx.settings.preferences.theme)
        self.theme.setCurrentIndex(max(0, idx))
        pl.addRow("Theme", self.theme)
        self.prefs_message = QLabel()
        self.prefs_message.setObjectName("prefsMessage")
        self.prefs_message.setWordWrap(True)
        self.prefs_message.setStyleSheet("color: #dc2626;")
        pl.addRow("", self.prefs_message)
        root.addWidget(prefs)
        warning = ctx.keys.warning
        if warning:
            note = QLabel(warning)
            note.setWordWrap(True)
            note.setStyleSheet("color: #b45309;")
            root.addWidget(note)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.setObjectName("settingsButtons")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        root.addWidget(buttons)
        self.buttons = buttons

        self.add_kind.currentIndexChanged.connect(self._kind_changed)
        self.add_button.clicked.connect(self.add_from_form)
        self.remove_button.clicked.connect(self._remove_clicked)
        self.key_button.clicked.connect(self.store_key)
        self.key_clear.clicked.connect(self.forget_key)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.sync_timeout.valueChanged.connect(self._sync_timeout_changed)
        self._kind_changed()
        self._fill()

    # ------------------------------------------------------------------ table
    def _key_text(self, src: SourceConfig) -> str:
        if src.kind is SourceKind.OLLAMA:
            return "not needed"
        origin = self.ctx.keys.origin(src)
        return {"env": "from $GITHUB_TOKEN", "keyring": "in keyring", "file": "in key file"}.get(
            origin.value if origin else "", "missing"
        )

    def _fill(self) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for src in self.ctx.settings.sources:
            r = self.table.rowCount()
            self.table.insertRow(r)
            on = QTableWidgetItem()
            on.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
            )
            on.setCheckState(Qt.CheckState.Checked if src.enabled else Qt.CheckState.Unchecked)
            on.setData(Qt.ItemDataRole.UserRole, src.name)
            on.setToolTip("Enabled sources are synced and shown")
            self.table.setItem(r, _COL_ON, on)
            for col, text in (
                (_COL_NAME, src.name),
                (_COL_KIND, _KIND_LABEL[src.kind]),
                (_COL_URL, mask_url(src.base_url, 120)),
                (_COL_KEY, self._key_text(src)),
            ):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(r, col, item)
        self.table.blockSignals(False)
        self._selection_changed()

    def selected_source(self) -> SourceConfig | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), _COL_ON)
        if item is None:
            return None
        name = item.data(Qt.ItemDataRole.UserRole)
        try:
            return self.ctx.settings.source(name)
        except InvalidInput:
            return None

    def select_source(self, name: str) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, _COL_ON)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(r)
                return

    def _selection_changed(self) -> None:
        src = self.selected_source()
        self.remove_button.setEnabled(src is not None)
        self.sync_timeout.setEnabled(src is not None)
        self.sync_timeout.blockSignals(True)
        self.sync_timeout.setValue(Timeouts.from_options(src.options if src else {}).sync)
        self.sync_timeout.blockSignals(False)
        needs_key = src is not None and src.kind is not SourceKind.OLLAMA
        for w in (self.key_edit, self.key_button, self.key_clear):
            w.setEnabled(needs_key)

    def _message(self, text: str, *, error: bool = False) -> None:
        self.sources_message.setStyleSheet(f"color: {'#dc2626' if error else 'palette(text)'};")
        self.sources_message.setText(text)

    # ------------------------------------------------------------------ actions
    def _sync_timeout_changed(self, value: float) -> None:
        from desktop_app.services.sources import set_timeouts

        src = self.selected_source()
        if src is None:
            return
        try:
            set_timeouts(self.ctx, src.name, sync=value)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._message(f"{src.name}: a sync now gives up after {value:g} s without a reply.")

    def _kind_changed(self) -> None:
        kind = SourceKind(self.add_kind.currentData())
        for k, _, url, needs_key in KIND_CHOICES:
            if k is kind:
                self.add_url.setPlaceholderText(url)
                if not self.add_url.text().strip() or self.add_url.text().strip() in {
                    u for *_, u, _ in KIND_CHOICES
                }:
                    self.add_url.setText(url)
                self.add_key.setEnabled(needs_key)

    def add_from_form(self) -> bool:
        from desktop_app.services.sources import add_source

        kind = SourceKind(self.add_kind.currentData())
        name = self.add_name.text().strip()
        try:
            try:
                config = SourceConfig(name=name, kind=kind, base_url=self.add_url.text().strip())
            except ValueError as exc:
                errors = getattr(exc, "errors", None)
                reason = errors()[0]["msg"] if callable(errors) else str(exc)
                raise InvalidInput(
                    f"Invalid source name {name!r}: {reason.removeprefix('Value error, ')}"
                ) from None
            key = self.add_key.text().strip()
            if key and kind is not SourceKind.OLLAMA:
                self.ctx.keys.check(key)
            seen = len(self.ctx.notices)
            config = add_source(self.ctx, config)
            moved = " ".join(self.ctx.notices[seen:])
            if key and kind is not SourceKind.OLLAMA:
                self.ctx.keys.set(self.ctx.keys.ref_for(config), key)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return False
        self.add_name.clear()
        self.add_key.clear()
        self._fill()
        self.select_source(config.name)
        note = (
            ""
            if kind is SourceKind.OLLAMA or self.ctx.keys.origin(config)
            else " It needs a key: paste it above."
        )
        self._message(
            f"Added {config.name}. Its models arrive with the next sync (F5).{note} {moved}".strip()
        )
        self.sources_changed.emit()
        return True

    def _remove_clicked(self) -> None:
        src = self.selected_source()
        if src is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove source",
            f"Remove the source “{src.name}” ({src.base_url})?\n\nIts models leave the tree; your variants "
            "built on them are kept. Its stored key is forgotten.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmRemoveSource")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result, name=src.name: self._remove_answered(result, name))
        box.open()

    def _remove_answered(self, result: int, name: str) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self.remove(name)

    def remove(self, name: str) -> None:
        from desktop_app.services.sources import remove_source

        try:
            config = self.ctx.settings.source(name)
            removed = remove_source(self.ctx, name)
            if config.kind is not SourceKind.OLLAMA:
                self.ctx.keys.delete(self.ctx.keys.ref_for(config))
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._fill()
        self._message(f"Removed {name} ({removed} model{'s' if removed != 1 else ''} left the registry).")
        self.sources_changed.emit()

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != _COL_ON:
            return
        from desktop_app.services.sources import set_enabled

        name = item.data(Qt.ItemDataRole.UserRole)
        enabled = item.checkState() == Qt.CheckState.Checked
        try:
            set_enabled(self.ctx, name, enabled)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._message(f"{name} is {'enabled' if enabled else 'disabled'}.")
        self.sources_changed.emit()

    def store_key(self) -> None:
        src = self.selected_source()
        if src is None:
            return
        try:
            where = self.ctx.keys.set(self.ctx.keys.ref_for(src), self.key_edit.text())
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self.key_edit.clear()
        self._fill()
        self.select_source(src.name)
        place = (
            "the system keyring" if where.value == "keyring" else f"{self.ctx.keys.file} (no keyring here)"
        )
        self._message(f"Stored the key for {src.name} in {place}.")
        self.sources_changed.emit()

    def forget_key(self) -> None:
        src = self.selected_source()
        if src is None:
            return
        removed = self.ctx.keys.delete(self.ctx.keys.ref_for(src))
        self._fill()
        self.select_source(src.name)
        self._message(f"Forgot the key for {src.name}." if removed else f"No key was stored for {src.name}.")
        self.sources_changed.emit()

    # ------------------------------------------------------------------ preferences
    def accept(self) -> None:
        try:
            uri = validate_tracking_uri(self.mlflow_uri.text())
        except InvalidInput as exc:
            self.prefs_message.setText(exc.message)
            self.mlflow_uri.setFocus()
            return
        theme = str(self.theme.currentData())
        prefs = self.ctx.settings.preferences
        changed = prefs.mlflow_tracking_uri != uri or prefs.theme != theme

        def change(settings: Settings) -> None:
            settings.preferences.mlflow_tracking_uri = uri
            settings.preferences.theme = theme

        try:
            self.ctx.update_settings(change)
        except ModelDeskError as exc:
            self.prefs_message.setText(str(exc))
            return
        if changed:
            self.preferences_changed.emit()
        super().accept()

    def keyPressEvent(self, event: Any) -> None:
        # Enter in the add form adds the source instead of closing the dialog.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.focusWidget() in (
            self.add_name,
            self.add_url,
            self.add_key,
        ):
            self.add_from_form()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.focusWidget() is self.key_edit:
            self.store_key()
            return
        super().keyPressEvent(event)
