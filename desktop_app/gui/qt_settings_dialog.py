"""The settings dialog: sources (add / remove / enable, keys into the keyring), the MLflow tracking URI,
and the theme (follows the system unless the user picks one).

Source changes go through ``services.sources`` and show at once; Save keeps them, Cancel puts the sources
back as they were when the dialog opened (a removed source's models and key are only forgotten on Save).
Name and URL are edited in place in the table. Keys go to the ``KeyStore`` and are never shown again.
Preferences are saved when the dialog is accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
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
from desktop_app.core.kinds import KINDS, kind_spec
from desktop_app.core.limits import MAX_TIMEOUT, Timeouts
from desktop_app.core.models import SourceConfig
from desktop_app.core.pools import DEFAULT_WEIGHT, weight_of
from desktop_app.core.urls import mask_url
from desktop_app.gui.qt_serve_switch import QtServeSnippet
from desktop_app.services.context import AppContext

if TYPE_CHECKING:
    from desktop_app.store.settings import Settings

__all__ = ["QtSettingsDialog", "validate_tracking_uri"]

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
        self.resize(820, 760)
        # What Cancel goes back to; what Save finishes (a removed source's models and key, a renamed
        # source's old models).
        self._before = [s.model_copy(deep=True) for s in ctx.settings.sources]
        self._removed: list[tuple[SourceConfig, bool]] = []  # and whether to forget its key
        self._renamed: dict[str, str] = {}  # current name -> name when the dialog opened
        self._added: set[str] = set()  # sources this dialog added (current names)
        self._touched: set[str] = set()  # sources (names when it opened) this dialog changed
        root = QVBoxLayout(self)

        # ------------------------------------------------------------ sources
        sources = QGroupBox(
            "Sources — where models come from (double-click a name or URL to edit it; Save keeps the "
            "changes and syncs what changed, Cancel undoes them)"
        )
        sl = QVBoxLayout(sources)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("sourcesTable")
        self.table.setHorizontalHeaderLabels(["On", "Name", "Kind", "URL", "Key"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
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
        self.weight = QDoubleSpinBox()
        self.weight.setObjectName("sourceWeight")
        self.weight.setRange(0.0, 1000.0)
        self.weight.setDecimals(1)
        self.weight.setKeyboardTracking(False)
        self.weight.setToolTip(
            "The selected Ollama host's share of a pool's chats: 2 takes twice the requests of a host "
            "of weight 1; 0 keeps it out of pools."
        )
        row.addWidget(self.remove_button)
        row.addWidget(QLabel("Give up after"))
        row.addWidget(self.sync_timeout)
        row.addWidget(QLabel("Pool weight"))
        row.addWidget(self.weight)
        row.addStretch(1)
        row.addWidget(self.key_edit, 2)
        row.addWidget(self.key_button)
        row.addWidget(self.key_clear)
        sl.addLayout(row)

        add = QGroupBox("Add a source")
        al = QFormLayout(add)
        self.add_kind = QComboBox()
        self.add_kind.setObjectName("addKind")
        for spec in KINDS.values():  # the kinds table, in its order
            self.add_kind.addItem(spec.choice_label, spec.kind)
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
        self.pooling = QCheckBox("Pool hosts that serve the same model")
        self.pooling.setObjectName("pooling")
        self.pooling.setChecked(ctx.settings.preferences.pooling)
        self.pooling.setToolTip(
            "One model with the same digest on two or more Ollama hosts is one pool (pool/<model>): "
            "its chats go to the least busy host"
        )
        pl.addRow("", self.pooling)
        self.prefs_message = QLabel()
        self.prefs_message.setObjectName("prefsMessage")
        self.prefs_message.setWordWrap(True)
        self.prefs_message.setStyleSheet("color: #dc2626;")
        pl.addRow("", self.prefs_message)
        root.addWidget(prefs)
        root.addWidget(QtServeSnippet(self))
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
        self.weight.valueChanged.connect(self._weight_changed)
        self._kind_changed()
        self._fill()

    # ------------------------------------------------------------------ table
    def _key_text(self, src: SourceConfig) -> str:
        if src.spec is None:
            return "—"
        if not src.spec.needs_key:
            return "not needed"
        origin = self.ctx.keys.origin(src)
        return {"env": f"from ${src.spec.key_env}", "keyring": "in keyring", "file": "in key file"}.get(
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
                (_COL_KIND, src.spec.choice_label if src.spec else f"{src.kind} (unknown kind)"),
                (_COL_URL, mask_url(src.base_url, 120)),
                (_COL_KEY, self._key_text(src)),
            ):
                item = QTableWidgetItem(text)
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if col in (_COL_NAME, _COL_URL):
                    flags |= Qt.ItemFlag.ItemIsEditable
                    item.setToolTip("Double-click (or F2) to edit")
                item.setFlags(flags)
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
        pooled = src is not None and src.spec is not None and src.spec.local and src.spec.manages_models
        self.weight.setEnabled(pooled)
        self.weight.blockSignals(True)
        self.weight.setValue(weight_of(src.options) if src is not None and pooled else DEFAULT_WEIGHT)
        self.weight.blockSignals(False)
        needs_key = src is not None and src.spec is not None and src.spec.needs_key
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

    def _weight_changed(self, value: float) -> None:
        from desktop_app.services.sources import set_weight

        src = self.selected_source()
        if src is None:
            return
        try:
            set_weight(self.ctx, src.name, value)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._mark(src.name)  # Cancel puts the old weight back
        self._message(
            f"{src.name}: pool weight {value:g}." if value > 0 else f"{src.name} is kept out of pools."
        )

    def _kind_changed(self) -> None:
        spec = kind_spec(self.add_kind.currentData())
        if spec is not None:
            url = spec.default_url
            self.add_url.setPlaceholderText(url)
            if not self.add_url.text().strip() or self.add_url.text().strip() in {
                k.default_url for k in KINDS.values()
            }:
                self.add_url.setText(url)
            self.add_key.setEnabled(spec.needs_key)

    def add_from_form(self) -> bool:
        from desktop_app.services.sources import add_source

        kind = self.add_kind.currentData()
        spec = kind_spec(kind)
        needs_key = spec is not None and spec.needs_key
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
            if key and needs_key:
                self.ctx.keys.check(key)
            seen = len(self.ctx.notices)
            config = add_source(self.ctx, config)
            moved = " ".join(self.ctx.notices[seen:])
            self._added.add(config.name)
            if key and needs_key:
                self.ctx.keys.set(self.ctx.keys.ref_for(config), key)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return False
        self.add_name.clear()
        self.add_key.clear()
        self._fill()
        self.select_source(config.name)
        note = "" if not needs_key or self.ctx.keys.origin(config) else " It needs a key: paste it above."
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
            "built on them are kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmRemoveSource")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        forget_key: QCheckBox | None = None
        if self.ctx.keys.where(self.ctx.keys.ref_for(src)) is not None:  # a stored key: forget it too?
            forget_key = QCheckBox("Also forget its stored API key")
            forget_key.setObjectName("forgetKey")
            forget_key.setChecked(True)
            box.setCheckBox(forget_key)
        box.finished.connect(
            lambda result, name=src.name: self._remove_answered(
                result, name, forget_key is not None and forget_key.isChecked()
            )
        )
        box.open()

    def _remove_answered(self, result: int, name: str, delete_key: bool) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self.remove(name, delete_key=delete_key)

    def remove(self, name: str, *, delete_key: bool = True) -> None:
        """Remove the source now; its models (and its key, when ``delete_key``) are forgotten on Save
        (Cancel brings it back)."""
        from desktop_app.services.sources import drop_source

        try:
            config = drop_source(self.ctx, name)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._removed.append((config, delete_key))
        self._mark(name)
        self._fill()
        self._message(
            f"Removed {name}. Save forgets its models{' and its key' if delete_key else ''}; Cancel brings it back."
        )
        self.sources_changed.emit()

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() in (_COL_NAME, _COL_URL):
            self._edited(item)
            return
        if item.column() != _COL_ON:
            return
        from desktop_app.services.sources import set_enabled

        name = item.data(Qt.ItemDataRole.UserRole)
        enabled = item.checkState() == Qt.CheckState.Checked
        try:
            set_enabled(self.ctx, name, enabled)
            self._mark(name)
        except ModelDeskError as exc:
            self._message(str(exc), error=True)
            return
        self._message(f"{name} is {'enabled' if enabled else 'disabled'}.")
        self.sources_changed.emit()

    def _edited(self, item: QTableWidgetItem) -> None:
        """A name or URL edited in place: checked and applied, or refused with why (the cell goes back)."""
        from desktop_app.services.sources import update_source

        on = self.table.item(item.row(), _COL_ON)
        if on is None:
            return
        name = on.data(Qt.ItemDataRole.UserRole)
        text = item.text().strip()
        try:
            if item.column() == _COL_NAME:
                config = update_source(self.ctx, name, new_name=text)
            else:
                config = update_source(self.ctx, name, base_url=text)
        except ModelDeskError as exc:
            self._fill()
            self.select_source(name)
            self._message(str(exc), error=True)
            return
        self._mark(name)
        if config.name != name:
            if name in self._added:
                self._added.discard(name)
                self._added.add(config.name)
            else:
                self._renamed[config.name] = self._renamed.pop(name, name)
            what = f"Renamed {name} to {config.name}"
        else:
            what = f"{name} now points at {config.base_url}"
        self._fill()
        self.select_source(config.name)
        self._message(f"{what}. Save keeps it and syncs it; Cancel undoes it.")
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
        pooling = self.pooling.isChecked()
        prefs = self.ctx.settings.preferences
        changed = prefs.mlflow_tracking_uri != uri or prefs.theme != theme or prefs.pooling != pooling

        def change(settings: Settings) -> None:
            settings.preferences.mlflow_tracking_uri = uri
            settings.preferences.theme = theme
            settings.preferences.pooling = pooling

        try:
            self.ctx.update_settings(change)
        except ModelDeskError as exc:
            self.prefs_message.setText(str(exc))
            return
        self._finish_sources()
        if changed:
            self.preferences_changed.emit()
        super().accept()

    def _finish_sources(self) -> None:
        """Save: forget what removed and renamed sources leave behind (their old models, a removed
        source's key)."""
        forgotten = False
        from desktop_app.services.sources import forget_source_data

        for config, delete_key in self._removed:
            if any(s.name == config.name for s in self.ctx.settings.sources):
                continue  # added back under the same name meanwhile
            forget_source_data(self.ctx, config, delete_key=delete_key)
            forgotten = True
        for new, old in self._renamed.items():
            if new != old and not any(s.name == old for s in self.ctx.settings.sources):
                self.ctx.registry.forget_source(old)
                forgotten = True
        self._removed, self._renamed, self._added, self._touched = [], {}, set(), set()
        self._before = [s.model_copy(deep=True) for s in self.ctx.settings.sources]
        if forgotten:
            self.sources_changed.emit()

    def _mark(self, name: str) -> None:
        """Remember that this dialog changed a source (by its name when the dialog opened)."""
        if name not in self._added:
            self._touched.add(self._renamed.get(name, name))

    def reject(self) -> None:
        """Cancel: what this dialog did to the sources is undone (and only that: a source another
        process changed meanwhile keeps its change)."""
        if self._added or self._touched:
            before = [s.model_copy(deep=True) for s in self._before]
            drop = self._added | set(self._renamed)
            touched = set(self._touched)

            def undo(settings: Settings) -> None:
                settings.sources = [s for s in settings.sources if s.name not in drop]
                for i, old in enumerate(before):
                    if old.name not in touched:
                        continue
                    names = [s.name for s in settings.sources]
                    if old.name in names:
                        settings.sources[names.index(old.name)] = old
                    else:
                        settings.sources.insert(min(i, len(settings.sources)), old)

            try:
                self.ctx.update_settings(undo)
            except ModelDeskError as exc:
                self._message(str(exc), error=True)
                return
            self._removed, self._renamed, self._added, self._touched = [], {}, set(), set()
            self.sources_changed.emit()
        super().reject()

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
