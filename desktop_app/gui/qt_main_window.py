"""The main window: the category tree with its filters on the left, the detail pane and the chat panel on
the right, sources' health in the status bar.

It opens from the registry at once and then syncs in the background; every network call is an
``asyncSlot`` that disables its controls and restores them in ``finally``. Errors the user can act on
show in the window (inline, status bar or a message box), unexpected ones go to the excepthook.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import itertools
import logging
import subprocess
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QModelIndex, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from desktop_app.core.enums import Category, SourceHealth
from desktop_app.core.errors import ModelDeskError
from desktop_app.core.kinds import can_delete
from desktop_app.gui import icons
from desktop_app.gui.labels import CATEGORY_ORDER, for_window, sync_advice
from desktop_app.gui.qt_chat_panel import QtChatPanel
from desktop_app.gui.qt_detail_pane import QtDetailPane
from desktop_app.gui.qt_model_filter import CHIPS, QtModelFilterProxy, Serving
from desktop_app.gui.qt_model_tree import POOL_OWNER, ItemRole, ModelRow, QtModelTreeModel, category_of
from desktop_app.gui.qt_model_view import QtModelTreeView
from desktop_app.gui.qt_serve_switch import QtServeSwitch
from desktop_app.gui.qt_source_status import QtSourceHealthBar
from desktop_app.gui.qt_workspace import WorkspaceMixin
from desktop_app.gui.startup import Startup

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.gui.qt_conversations import QtConversationList
    from desktop_app.services.context import AppContext
    from desktop_app.store.settings import Settings

__all__ = ["EXPAND_ALL_UP_TO", "EXPAND_MATCHES_UP_TO", "QtMainWindow"]

log = logging.getLogger(__name__)

EXPAND_ALL_UP_TO = 300  # a registry this small opens with every category expanded
EXPAND_MATCHES_UP_TO = 200  # a search with this few matches opens the categories that have them
_VALIDATE_SLICE = 150  # models validated between two turns of the event loop (~4 ms)
_ROW_SLICE = 1_000  # tree rows made from stored JSON between two turns of the event loop (~10 ms)

EMPTY_WHILE_ASKING = (
    "No models yet.\nModelDesk is asking your sources; add Ollama hosts or remote services in "
    "Settings (Ctrl+,), then press F5."
)
EMPTY_AFTER_SYNC = (
    "No models yet.\nYour sources list none: pull one onto an Ollama host (Pull model…), or add a remote "
    "service in Settings (Ctrl+,)."
)

_CHIP_STYLE = """
QFrame#syncAdvice { border: 1px solid #d97706; border-radius: 6px; background: rgba(217, 119, 6, 0.10); }
QFrame#syncAdvice QLabel { border: none; background: transparent; }
QToolButton[chip="true"] { border: 1px solid palette(mid); border-radius: 11px; padding: 2px 10px; }
QToolButton[chip="true"]:checked { background: palette(highlight); color: palette(highlighted-text);
                                   border-color: palette(highlight); }
QToolButton[segment="true"] { border: 1px solid palette(mid); padding: 2px 12px; }
QToolButton[segment="true"]:checked { background: palette(highlight); color: palette(highlighted-text);
                                      border-color: palette(highlight); }
QToolButton[chip="true"]:focus, QToolButton[segment="true"]:focus { border: 2px solid palette(highlight);
                                                                    padding: 1px 9px; }
QToolButton[chip="true"]:checked:focus, QToolButton[segment="true"]:checked:focus {
    border: 2px solid palette(highlighted-text); }
QToolBar QToolButton:focus { border: 2px solid palette(highlight); border-radius: 4px; }
"""


def mark_disabled(model: UnifiedModel) -> UnifiedModel:
    """How the window shows a model whose source is disabled in Settings: greyed, unable to chat (the
    registry keeps it as it was; enabling the source brings it back at once)."""
    from desktop_app.core.enums import ModelStatus

    return model.model_copy(
        update={"status": ModelStatus.DISABLED, "status_message": f"its source {model.provider} is disabled"}
    )


def _read_pools(ctx: AppContext) -> tuple[dict[str, Any], list[tuple[Any, Any]]]:
    """The pools over the pooled hosts' registry rows, and each pool's row for the tree
    (``services.pools.pool_rows``). Run in a thread: it reads the registry."""
    from desktop_app.services.pools import pool_rows

    rows = pool_rows(ctx)
    return {p.id: p for _row, p in rows}, rows


def warm_up(kinds: Sequence[str]) -> None:
    """Import the services and adapters the window will call, and build the shared TLS context, in a
    worker thread after the first paint: done lazily on the UI thread they froze it for 100+ ms."""
    import importlib

    from desktop_app.core.kinds import kind_spec

    modules = [
        "desktop_app.services.sync",
        "desktop_app.services.serving",
        "desktop_app.services.library",
        "desktop_app.store.registry",
        "desktop_app.adapters._http",
    ]
    for kind in dict.fromkeys(kinds):  # the adapters of the kinds configured, as the table names them
        spec = kind_spec(kind)
        if spec is not None and isinstance(spec.factory, str):
            modules.append(spec.factory.partition(":")[0])
    for name in modules:
        importlib.import_module(name)
    from desktop_app.adapters._http import shared_ssl_context

    shared_ssl_context()


class _FirstPaint(QObject):
    """Fires once, the first time the watched widget paints (the window is really on screen)."""

    def __init__(self, callback: Any) -> None:
        super().__init__()
        self._callback = callback

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            callback, self._callback = self._callback, None
            QTimer.singleShot(0, callback)
        return False


class QtMainWindow(WorkspaceMixin, QMainWindow):
    closed = Signal()
    first_painted = Signal()
    models_reloaded = Signal()
    sync_started = Signal()
    sync_finished = Signal(list)
    facts_completed = Signal(str)  # a model id whose missing facts arrived

    def __init__(
        self,
        ctx: AppContext | None = None,
        models: Sequence[UnifiedModel] | None = None,
        *,
        startup: Startup | None = None,
    ) -> None:
        """Open over ``models``, else the registry of ``ctx``; or, at start-up, over ``startup`` (the
        registry's stored JSON, no pydantic yet) with ``ctx`` attached later by ``attach``."""
        super().__init__()
        self.ctx: AppContext | None = None
        self.setObjectName("mainWindow")
        self.setWindowTitle("ModelDesk")
        self.setWindowIcon(icons.app_icon())
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sync_task: asyncio.Task[Any] | None = None
        # `sync`'s MLflow part runs in a child process (the window never imports mlflow); polled.
        self.mlflow_sync: subprocess.Popen[bytes] | None = None
        self._mlflow_poll = QTimer(self)
        self._mlflow_poll.setInterval(500)
        self._mlflow_poll.timeout.connect(self._mlflow_sync_poll)
        self._tree_updates_held = 0  # reloads in progress that hold the tree's repaint
        self._tree_lock = asyncio.Lock()  # one update of the tree's rows at a time (reloads, pools)
        # The registry's data_version (it moves when another process commits) when the tree last read
        # all of it; None when unknown, or when only part was read since another process wrote.
        self._in_step: int | None = None
        self._read_version: int | None = None  # data_version of the last full read (``_stored_rows``)
        self._saved_expansion: set[Category] | None = None
        self._pull_dialog: Any = None
        self._settings_dialog: Any = None
        self._share_dialog: Any = None
        self._tool_servers: Any = None  # the MCP servers dialog, while open
        self.share_process: Any = None  # the `modeldesk share` child, once started
        self._asked_facts: set[str] = set()  # models whose missing facts were asked for
        self._completed: dict[str, UnifiedModel] = {}  # ... and what came back, until the next reload
        self.first_paint_done = False
        self.last_reports: list[Any] = []
        self._splitter_placed = False
        self._pending_splitter: QByteArray | None = None

        load_error: ModelDeskError | None = None
        if models is not None:
            self.tree_model = QtModelTreeModel(models, self)
        elif startup is not None:
            self.tree_model = QtModelTreeModel.from_json(startup.rows, self)
            if startup.kinds is not None:  # a big registry: counts now, rows right after the first paint
                self.tree_model.set_pending(startup.kinds, fetch=self._load_rows_now)
        else:
            assert ctx is not None, "a window needs models, a context or a start-up snapshot"
            try:
                loaded = ctx.registry.list_models()
            except ModelDeskError as exc:
                loaded, load_error = [], exc
            self.tree_model = QtModelTreeModel(loaded, self)
        self.proxy = QtModelFilterProxy(self)
        self.proxy.setSourceModel(self.tree_model)

        self._build_actions()
        self._build_central()
        self._build_statusbar()
        self._build_shortcuts()
        self._build_workspace()  # Evaluate mode and the variant editor (qt_workspace.py)
        self.setStyleSheet(_CHIP_STYLE)
        self._apply_default_expansion()
        self._update_counts()
        self._startup_notices = list(startup.notices) if startup is not None else []
        self._registry_path = startup.home / "registry.db" if startup is not None else None
        self.notice_box: QMessageBox | None = None
        if startup is not None:
            self.health.set_sources(startup.sources, {})
            self._restore_state(startup.window)
        elif ctx is not None:
            self._restore_state(ctx.settings.preferences.window or {})
        self._first_paint = _FirstPaint(self._on_first_paint)
        self.tree.viewport().installEventFilter(self._first_paint)
        self._set_ready(False)
        if ctx is not None:
            self.attach(ctx)
        if load_error is not None:
            self.show_error(load_error, title="The registry could not be read")

    def attach(self, ctx: AppContext) -> None:
        """The app's context is open: sources, keys and actions become available."""
        self.ctx = ctx
        self.chat.attach(ctx)
        if self._conversations is not None and self.chat.session is not None and self.chat.session.store:
            self._conversations.set_store(self.chat.session.store)
        self.health.set_sources(ctx.settings.sources, ctx.registry.source_states())
        notices = [*self._startup_notices, *ctx.notices]
        notices += [s.problem for s in ctx.settings.sources if s.problem]
        self._startup_notices = []
        if notices:
            self.show_notices(notices)
        self._set_ready(True)
        disabled = self._disabled_sources()
        if disabled:  # their models opened as stored; show them disabled (a sync never reloads them)
            self._spawn(self.reload_models(sorted(disabled)))
        self._watch_settings(ctx)

    def _watch_settings(self, ctx: AppContext) -> None:
        """Sources added, changed or removed by another process (``modeldesk source add`` in a terminal)
        appear here too: the settings file is watched, and a change of sources syncs them."""
        from PySide6.QtCore import QFileSystemWatcher

        if getattr(self, "_settings_watcher", None) is not None:
            return
        path = str(ctx.settings_store.path)
        watcher = QFileSystemWatcher(self)
        # The file is replaced (temp file + rename), which drops a watch on the file itself: watch its
        # folder too, and re-add the file after each change.
        watcher.addPath(str(ctx.settings_store.path.parent))
        if ctx.settings_store.path.exists():
            watcher.addPath(path)
        self._settings_watcher = watcher
        self._settings_debounce = QTimer(self)
        self._settings_debounce.setSingleShot(True)
        self._settings_debounce.setInterval(250)
        self._settings_debounce.timeout.connect(self._settings_file_changed)
        watcher.fileChanged.connect(lambda _p: self._settings_debounce.start())
        watcher.directoryChanged.connect(lambda _p: self._settings_debounce.start())

    def _settings_file_changed(self) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        store = ctx.settings_store
        if store.path.exists() and str(store.path) not in self._settings_watcher.files():
            self._settings_watcher.addPath(str(store.path))
        try:
            fresh = store.load() if store.path.exists() else None
        except ModelDeskError as exc:
            log.warning("settings changed on disk but cannot be read: %s", exc)
            return
        if fresh is None or fresh.sources == ctx.settings.sources:
            return
        old = {s.name: s for s in ctx.settings.sources}
        changed = [s.name for s in fresh.sources if old.get(s.name) != s]
        ctx.settings.sources = fresh.sources
        self.health.set_sources(ctx.settings.sources, ctx.registry.source_states())
        log.info("settings file changed: sources %s", ", ".join(changed) or "removed")
        self.show_status(
            f"Sources changed outside the window ({', '.join(changed) or 'one removed'}); syncing them."
        )
        self.sources_changed_elsewhere(changed)

    def sources_changed_elsewhere(self, names: list[str]) -> None:
        """New or changed sources sync by themselves; the tree shows what was removed or disabled."""
        ctx = self.ctx
        if ctx is None:
            return
        enabled = {s.name for s in ctx.settings.enabled_sources()}
        to_sync = [n for n in names if n in enabled]
        self._spawn(self._reload_then_sync(to_sync))

    async def _reload_then_sync(self, names: list[str]) -> None:
        await self.reload_models(None)
        while self._sync_task is not None:  # a sync already running: this one follows it
            await asyncio.sleep(0.1)
        if names:
            await self.sync_sources(names)

    def _disabled_sources(self) -> set[str]:
        ctx = self.ctx
        return {s.name for s in ctx.settings.sources if not s.enabled} if ctx is not None else set()

    def _set_ready(self, ready: bool) -> None:
        for action in (self.refresh_action, self.pull_action, self.settings_action):
            action.setEnabled(ready)
        self.detail.delete_button.setEnabled(ready)

    def _stored_rows(self) -> list[str]:
        """The registry's stored JSON (the context's registry once attached, else the start-up one)."""
        if self.ctx is not None:
            version = self.ctx.registry.data_version()  # before reading: a write after it moves it
            rows = list(self.ctx.registry.iter_json())
            self._read_version = version
            return rows
        from desktop_app.store.registry import Registry

        if self._registry_path is None:
            return []
        registry = Registry(self._registry_path)
        try:
            return list(registry.iter_json())
        finally:
            registry.close()

    def _show_loaded_rows(self, rows: list[ModelRow]) -> None:
        tree = self.tree_model
        if not tree.pending:
            return  # loaded already (a category was expanded meanwhile)
        wanted = set(tree.fetch_requested)
        tree.set_rows(rows)
        self._in_step, self._read_version = self._read_version, None
        # The rows live as long as the window: keep them out of the collector's full passes, which
        # otherwise walk all of them (~200 ms with 100,000 models) in the middle of a keystroke.
        gc.freeze()
        for cat in wanted:
            self._expand(cat)
        if self.proxy.is_filtering():
            self._filter_changed()
        self._update_counts()

    def _load_rows_now(self) -> None:
        """A category was expanded before the rows were read: read them now."""
        if self.tree_model.pending:
            try:
                texts = self._stored_rows()
            except ModelDeskError as exc:
                self.show_error(exc, title="The registry could not be read")
                return
            self._show_loaded_rows([ModelRow.from_json(t) for t in texts])

    async def load_pending_rows(self) -> None:
        """A big registry opened with counts only: read its rows (in a thread) and make the tree's rows
        a slice per turn of the event loop, then show them in one reset."""
        if not self.tree_model.pending:
            return
        texts = await asyncio.to_thread(self._stored_rows)
        rows: list[ModelRow] = []
        for start in range(0, len(texts), _ROW_SLICE):
            rows += [ModelRow.from_json(t) for t in texts[start : start + _ROW_SLICE]]
            await asyncio.sleep(0)
            if not self.tree_model.pending:
                return
        self._show_loaded_rows(rows)

    async def materialize(self) -> None:
        """Turn the start-up rows (stored JSON) into models, a slice per turn of the event loop."""
        while self.tree_model.materialize(_VALIDATE_SLICE):
            await asyncio.sleep(0)

    # ================================================================== building
    def _build_actions(self) -> None:
        self.refresh_action = QAction(icons.icon("refresh"), "Refresh", self)
        self.refresh_action.setObjectName("refreshAction")
        self.refresh_action.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refresh_action.setToolTip("Ask every source for its models again (F5)")
        self.refresh_action.triggered.connect(self.refresh)
        self.pull_action = QAction(icons.icon("pull"), "Pull model…", self)
        self.pull_action.setObjectName("pullAction")
        self.pull_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.pull_action.setToolTip("Download a model onto an Ollama host (Ctrl+Shift+P)")
        self.pull_action.triggered.connect(self.open_pull_dialog)
        self.settings_action = QAction(icons.icon("settings"), "Settings", self)
        self.settings_action.setObjectName("settingsAction")
        self.settings_action.setShortcuts(
            [QKeySequence("Ctrl+,"), QKeySequence(QKeySequence.StandardKey.Preferences)]
        )
        self.settings_action.setToolTip("Sources, keys, MLflow and theme (Ctrl+,)")
        self.settings_action.triggered.connect(self.open_settings)
        self.share_action = QAction(icons.icon("share"), "Share…", self)
        self.share_action.setObjectName("shareAction")
        self.share_action.setToolTip("Open the models in a web browser, here or with a public link")
        self.share_action.triggered.connect(self.open_share_dialog)
        self.tools_action = QAction(icons.icon("tools"), "Tools", self)
        self.tools_action.setObjectName("toolsAction")
        self.tools_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.tools_action.setToolTip(
            "Add, test or remove the MCP servers whose tools models can call (Ctrl+Shift+T)"
        )
        self.tools_action.triggered.connect(self.open_tool_servers)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        self.addAction(self.quit_action)

        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        title = QLabel("  ModelDesk")
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        title.setFont(font)
        bar.addWidget(title)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setStyleSheet("color: palette(placeholder-text); padding-left: 10px;")
        bar.addWidget(self.summary)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        for action in (
            self.refresh_action,
            self.pull_action,
            self.tools_action,
            self.share_action,
            self.settings_action,
        ):
            bar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    def _build_central(self) -> None:
        left = QWidget()
        left.setObjectName("treePane")
        ll = QVBoxLayout(left)
        ll.setContentsMargins(8, 6, 4, 4)
        ll.setSpacing(6)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search models — name, family, publisher, capability…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self._on_search)
        self.search.setMinimumWidth(140)
        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.search, 1)
        ll.addLayout(top)

        filters = QHBoxLayout()
        filters.setSpacing(6)
        self.chips: dict[str, QToolButton] = {}
        for cap, label, tip in CHIPS:
            chip = QToolButton()
            chip.setObjectName(f"chip-{cap}")
            chip.setText(label)
            chip.setCheckable(True)
            chip.setProperty("chip", True)
            chip.setToolTip(f"{tip}. Several chips: models with all of them.")
            chip.toggled.connect(self._on_chips)
            filters.addWidget(chip)
            self.chips[cap] = chip
        filters.addStretch(1)
        self.serving_group = QButtonGroup(self)
        self.serving_group.setExclusive(True)
        self.serving_buttons: dict[Serving, QToolButton] = {}
        for serving, label, tip in (
            (Serving.ALL, "All", "Local and remote models"),
            (Serving.LOCAL, "Local", "Models on your Ollama hosts (and experiments on them)"),
            (Serving.REMOTE, "Remote", "Models at remote services"),
        ):
            button = QToolButton()
            button.setObjectName(f"serving-{serving.value}")
            button.setText(label)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setProperty("segment", True)
            self.serving_group.addButton(button)
            self.serving_buttons[serving] = button
            top.addWidget(button)
        self.serving_buttons[Serving.ALL].setChecked(True)
        self.serving_group.buttonToggled.connect(self._on_serving)
        ll.addLayout(filters)
        ll.addWidget(self._build_advice())

        self.tree = QtModelTreeView()
        self.tree.setModel(self.proxy)
        self.tree.empty_text = EMPTY_WHILE_ASKING
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.tree.model_activated.connect(self.chat_with)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._tree_menu)
        ll.addWidget(self.tree, 1)

        # The conversations list is built when its tab is first shown (not before the first paint).
        self._conversations: Any = None
        self._conversations_page = QWidget()
        self._conversations_page.setObjectName("conversationsPage")
        page = QVBoxLayout(self._conversations_page)
        page.setContentsMargins(0, 0, 0, 0)
        self.left_tabs = QTabWidget()
        self.left_tabs.setObjectName("leftTabs")
        self.left_tabs.setDocumentMode(True)
        self.left_tabs.addTab(left, icons.icon("search"), "Models")
        self.left_tabs.addTab(self._conversations_page, icons.icon("chat"), "Conversations")
        self.left_tabs.currentChanged.connect(
            lambda i: self.left_tabs.widget(i) is self._conversations_page and self.conversations
        )
        self.left_tabs.setTabToolTip(1, "Every conversation, kept: reopen, continue, rename, export (Ctrl+H)")

        self.detail = QtDetailPane()
        self.detail.chat_requested.connect(self.chat_with)
        self.detail.pool_chat_requested.connect(self.chat_with_pool)
        self.detail.copy_requested.connect(self.copy_id)
        self.detail.delete_requested.connect(self.ask_delete)
        self.chat = QtChatPanel(self.ctx)
        self.chat.status_message.connect(lambda text: self.show_status(text))
        self.chat.conversation_saved.connect(self._conversation_saved)
        self.chat.model_changed.connect(self._chat_model_changed)
        self.chat.tools_button.manage_servers.connect(self.open_tool_servers)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.left_tabs)
        self.splitter.addWidget(self.detail)
        self.splitter.addWidget(self.chat)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 5)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _build_advice(self) -> QFrame:
        """What to do when a sync left no source answering (first run without Ollama, most often):
        the advice, with Settings and Retry at hand. Hidden until such a sync."""
        frame = QFrame()
        frame.setObjectName("syncAdvice")
        row = QHBoxLayout(frame)
        row.setContentsMargins(10, 8, 10, 8)
        self.advice_text = QLabel()
        self.advice_text.setObjectName("syncAdviceText")
        self.advice_text.setWordWrap(True)
        self.advice_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.advice_text, 1)
        self.advice_settings = QPushButton(icons.icon("settings"), "Settings")
        self.advice_settings.setObjectName("adviceSettings")
        self.advice_settings.clicked.connect(self.open_settings)
        self.advice_retry = QPushButton(icons.icon("refresh"), "Retry")
        self.advice_retry.setObjectName("adviceRetry")
        self.advice_retry.clicked.connect(self.refresh)
        for button in (self.advice_settings, self.advice_retry):
            row.addWidget(button, 0, Qt.AlignmentFlag.AlignVCenter)
        frame.hide()
        self.advice = frame
        return frame

    def _set_advice(self, text: str | None) -> None:
        """Show (or hide) the advice; an empty tree says the same, the status bar too."""
        if text:
            self.advice_text.setText(text)
            self.advice.show()
            self.tree.empty_text = text
        else:
            self.advice.hide()
            self.tree.empty_text = EMPTY_AFTER_SYNC
        self.tree.viewport().update()

    def _build_statusbar(self) -> None:
        bar = self.statusBar()
        bar.setObjectName("statusBar")
        self.error_label = QLabel()
        self.error_label.setObjectName("statusError")
        self.error_label.setStyleSheet("color: #dc2626;")
        self.error_label.hide()
        bar.addWidget(self.error_label, 1)
        # A busy bar and a label, not a counting bar: QProgressBar.setValue repaints synchronously,
        # which drags every pending repaint of the window into the sync's callback.
        self.progress_label = QLabel()
        self.progress_label.setObjectName("syncProgressText")
        self.progress_label.hide()
        bar.addPermanentWidget(self.progress_label)
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setMaximumWidth(120)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.setRange(0, 0)
        self.progress.hide()
        bar.addPermanentWidget(self.progress)
        self.pull_status = QPushButton(icons.icon("pull"), "")
        self.pull_status.setObjectName("pullStatus")
        self.pull_status.setFlat(True)
        self.pull_status.clicked.connect(self.open_pull_dialog)
        self.pull_status.hide()
        bar.addPermanentWidget(self.pull_status)
        self.health = QtSourceHealthBar()
        bar.addPermanentWidget(self.health)
        self.serve_switch = QtServeSwitch(self)
        self.serve_switch.message.connect(lambda text, error: self.show_status(text, error=error))
        bar.addPermanentWidget(self.serve_switch)

    def _build_shortcuts(self) -> None:
        find = QShortcut(QKeySequence("Ctrl+F"), self)  # Cmd+F on macOS
        find.activated.connect(self.focus_search)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.search)
        esc.setContext(Qt.ShortcutContext.WidgetShortcut)
        esc.activated.connect(self.search.clear)
        # From the search box into the results: Down, or Enter.
        down = QShortcut(QKeySequence(Qt.Key.Key_Down), self.search)
        down.setContext(Qt.ShortcutContext.WidgetShortcut)
        down.activated.connect(self.focus_results)
        self.search.returnPressed.connect(self.focus_results)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self._delete_key)
        history = QShortcut(QKeySequence("Ctrl+H"), self)
        history.activated.connect(self.show_conversations)
        # The toolbar's buttons take Tab focus (a QToolBar makes them NoFocus), then the layout's order.
        for action in (self.refresh_action, self.pull_action, self.settings_action):
            button = self.toolbar.widgetForAction(action)
            if button is not None:
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._set_tab_order()

    def _set_tab_order(self) -> None:
        """Tab follows what the eye reads: the toolbar, the tabs, search and its switch, the chips, the tree,
        the detail pane's buttons, then the chat from its header down to Send."""
        chain: list[QWidget] = [
            w
            for w in (
                self.toolbar.widgetForAction(a)
                for a in (self.refresh_action, self.pull_action, self.settings_action)
            )
            if w is not None
        ]
        chain += [self.left_tabs.tabBar(), self.search, *self.serving_buttons.values(), *self.chips.values()]
        chain += [self.advice_settings, self.advice_retry, self.tree]
        chain += [self.detail.chat_button, self.detail.copy_button, self.detail.delete_button]
        c = self.chat
        chain += [c.new_button, c.think_level, c.options_toggle, c.system_prompt, c.temperature, c.top_p]
        chain += [c.max_tokens, c.seed, c.input, c.send_button, c.stop_button, c.attach_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def focus_results(self) -> None:
        """Into the tree from the search box: the current row if it is a model, else the first model shown."""
        index = self.tree.currentIndex()
        if not index.isValid() or not index.data(ItemRole.MODEL_ID):
            for r in range(self.proxy.rowCount()):
                cat = self.proxy.index(r, 0)
                if self.proxy.rowCount(cat):
                    self.tree.expand(cat)
                    index = self.proxy.index(0, 0, cat)
                    break
        if index.isValid():
            self.tree.setCurrentIndex(index)
        self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _delete_key(self) -> None:
        model = self.current_model()
        if model is None:
            return
        if model.provider == POOL_OWNER:
            self.show_status(f"{model.id} is a pool: delete the model on each of its hosts' rows.")
            return
        if not can_delete(model):
            self.show_status(
                f"{model.name} cannot be deleted from here: only models on your Ollama hosts can."
            )
            return
        self.ask_delete(model)

    @property
    def conversations(self) -> QtConversationList:
        """The conversations list (made on first use)."""
        if self._conversations is None:
            from desktop_app.gui.qt_conversations import QtConversationList

            conversations = QtConversationList()
            conversations.open_requested.connect(self.open_conversation)
            conversations.deleted.connect(self._conversation_deleted)
            conversations.status_message.connect(self.show_status)
            session = self.chat.session
            if session is not None:
                conversations.current_conversation = session.conversation.id if session.turns else None
                if session.store is not None:
                    conversations.store = session.store
            layout = self._conversations_page.layout()
            assert layout is not None
            layout.addWidget(conversations)
            self._conversations = conversations
        conversations_list: QtConversationList = self._conversations
        return conversations_list

    def show_conversations(self) -> None:
        self.left_tabs.setCurrentWidget(self._conversations_page)
        self.conversations.search.setFocus(Qt.FocusReason.ShortcutFocusReason)

    # ================================================================== start-up
    def _on_first_paint(self) -> None:
        self.first_paint_done = True
        self.first_painted.emit()

    def start(self) -> None:
        """The window is up: load what actions need (off the UI thread), then sync in the background."""
        self._spawn(self._warm_up_then_sync())

    async def _warm_up_then_sync(self) -> None:
        assert self.ctx is not None
        await self.load_pending_rows()
        await self.materialize()
        await asyncio.to_thread(warm_up, [str(s.kind) for s in self.ctx.settings.enabled_sources()])
        # What start-up built lives as long as the window: keep it out of the cyclic collector's
        # full passes, which otherwise walk it all (25 ms with a few hundred models) mid-stream.
        gc.freeze()
        await self.refresh()

    def _apply_default_expansion(self) -> None:
        if self.tree_model.model_count() <= EXPAND_ALL_UP_TO:
            self.tree.expandAll()

    # ================================================================== filtering
    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_search(self, text: str) -> None:
        p = self.proxy
        self._filter_about_to_change(
            clearing=not text.split() and not p.capabilities and p.serving is Serving.ALL
        )
        p.set_text(text)
        self._filter_changed()

    def _on_chips(self) -> None:
        caps = [cap for cap, chip in self.chips.items() if chip.isChecked()]
        p = self.proxy
        self._filter_about_to_change(clearing=not caps and not p.text and p.serving is Serving.ALL)
        p.set_capabilities(caps)
        self._filter_changed()

    def _on_serving(self, button: QToolButton, checked: bool) -> None:
        if not checked:
            return
        for serving, b in self.serving_buttons.items():
            if b is button:
                p = self.proxy
                self._filter_about_to_change(
                    clearing=serving is Serving.ALL and not p.text and not p.capabilities
                )
                p.set_serving(serving)
                self._filter_changed()

    def _expanded_categories(self) -> set[Category]:
        out = set()
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if self.tree.isExpanded(index):
                cat = category_of(index)
                if cat is not None:
                    out.add(cat)
        return out

    def _filter_about_to_change(self, clearing: bool = False) -> None:
        if self._saved_expansion is None and not self.proxy.is_filtering():
            self._saved_expansion = self._expanded_categories()
        elif clearing and self._saved_expansion is not None:
            # Close what the search opened before the filter goes, not after: else Qt first lays out
            # every row of those categories, unfiltered (half a second with 10,000 models, a model
            # having a row in each of its categories), only to close them right after.
            for r in range(self.proxy.rowCount()):
                index = self.proxy.index(r, 0)
                if category_of(index) not in self._saved_expansion and self.tree.isExpanded(index):
                    self.tree.collapse(index)

    def _filter_changed(self) -> None:
        if self.proxy.is_filtering():
            if self.proxy.match_count() <= EXPAND_MATCHES_UP_TO:
                for cat in CATEGORY_ORDER:
                    if self.proxy.match_count(cat):
                        self._expand(cat)
        elif self._saved_expansion is not None:
            saved, self._saved_expansion = self._saved_expansion, None
            for cat in CATEGORY_ORDER:
                index = self.proxy.mapFromSource(self.tree_model.category_index(cat))
                if index.isValid():
                    self.tree.setExpanded(index, cat in saved)
        self._update_counts()

    def _expand(self, category: Category) -> None:
        index = self.proxy.mapFromSource(self.tree_model.category_index(category))
        if index.isValid() and not self.tree.isExpanded(index):
            self.tree.expand(index)

    def _update_counts(self) -> None:
        total = self.tree_model.model_count()
        if self.proxy.is_filtering():
            self.summary.setText(f"{self.proxy.match_count():,} of {total:,} models match")
        else:
            local = self.tree_model.local_count()
            pools = self.tree_model.pool_count()  # pool rows are local rows, not models of the registry
            text = f"{total - pools:,} models · {local - pools:,} local · {total - local:,} remote"
            self.summary.setText(text + (f" · {pools} pool{'s' if pools != 1 else ''}" if pools else ""))

    # ================================================================== selection / detail
    def current_model(self) -> UnifiedModel | None:
        index = self.tree.currentIndex()
        return index.data(ItemRole.MODEL) if index.isValid() else None

    def select_model(self, model_id: str) -> bool:
        """Select the model's row under its primary category (it has one under each of its categories)."""
        source = self.tree_model.index_of(model_id)
        index = self.proxy.reveal(source)  # beyond the rows shown so far of a big category: show them
        if not index.isValid():
            return False
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        return True

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(current)

    def _show_detail(self, index: QModelIndex) -> None:
        if not index.isValid():
            self.detail.show_nothing()
            return
        model = index.data(ItemRole.MODEL)
        if model is not None:
            model = self._with_completed_facts(model)
            self.detail.show_model(model)
            self._fetch_missing_facts(model)
            return
        cat = category_of(index)
        if cat is None:
            self.detail.show_nothing()
            return
        self.detail.show_category(cat, self.proxy.match_count(cat), self.tree_model.category_count(cat))

    def _conversation_deleted(self, conversation_id: str) -> None:
        """The conversation on screen was deleted: the chat starts afresh (its next message must not
        bring the deleted one back)."""
        session = self.chat.session
        if session is not None and session.conversation.id == conversation_id and not self.chat.busy:
            session.conversation.turns = []  # nothing left to keep: New chat writes nothing
            self.chat.new_chat()

    def _conversation_saved(self, conversation: Any) -> None:
        if self._conversations is None:
            return  # not made yet: it reads the store when first shown
        self._conversations.current_conversation = conversation.id
        if self._conversations.isVisible():
            self._conversations.reload()
        else:
            self._conversations.stale()

    def _chat_model_changed(self, model: UnifiedModel | None) -> None:
        """The detail pane says when the chat talks to another model than the one it shows."""
        self.detail.set_chat_model(model.id if model is not None else None)

    def _with_completed_facts(self, model: UnifiedModel) -> UnifiedModel:
        """The tree's model, with the facts fetched for it since (a sync lists it without them again)."""
        done = self._completed.get(model.id)
        if done is None:
            return model
        keys = ("context_length", "family", "parameter_size", "quantization")
        update = {
            k: getattr(done, k) for k in keys if getattr(model, k) is None and getattr(done, k) is not None
        }
        return model.model_copy(update=update) if update else model

    def _fetch_missing_facts(self, model: UnifiedModel) -> None:
        """Ask the host for what the registry lacks (context length from a v0.30+ server, whose
        ``/api/tags`` made ``/api/show`` unnecessary during the sync), once per model, in the background."""
        if self.ctx is None or model.id in self._asked_facts or model.provider == POOL_OWNER:
            return
        from desktop_app.services.library import missing_facts

        if not missing_facts(model):
            return
        self._asked_facts.add(model.id)

        async def fetch() -> None:
            from desktop_app.services.library import fill_missing_facts

            assert self.ctx is not None
            try:
                done = await fill_missing_facts(self.ctx, model)
            except ModelDeskError as exc:
                log.info("could not complete the facts of %s: %s", model.id, exc)
                return
            if done is None:
                return
            self._completed[model.id] = done
            shown = self.detail.model
            if shown is not None and shown.id == model.id:
                self.detail.show_model(self._with_completed_facts(shown))
            self.facts_completed.emit(model.id)

        self._spawn(fetch())

    def _tree_menu(self, pos: Any) -> None:
        index = self.tree.indexAt(pos)
        model = index.data(ItemRole.MODEL) if index.isValid() else None
        if model is None:
            return
        from desktop_app.services.serving import chat_refusal

        menu = QMenu(self)
        chat = menu.addAction(icons.icon("chat"), "Chat", lambda: self.chat_with(model))
        refusal = chat_refusal(model)
        chat.setEnabled(model.usable and refusal is None)
        if refusal:
            chat.setToolTip(refusal)
        menu.addAction(icons.icon("copy"), "Copy id", lambda: self.copy_id(model))
        self._workspace_menu(menu, model)
        if can_delete(model):
            menu.addSeparator()
            menu.addAction(icons.icon("delete"), "Delete…", lambda: self.ask_delete(model))
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    # ================================================================== actions
    def chat_with(self, model: UnifiedModel) -> None:
        from desktop_app.services.serving import chat_refusal

        if not model.usable:
            self.show_status(
                f"{model.name} cannot be used right now: {model.status_message or model.status.value}",
                error=True,
            )
            return
        refusal = chat_refusal(model)
        if refusal:  # Enter on the tree: say why instead of opening a chat the server would refuse
            self.show_status(refusal, error=True)
            return
        self.chat.set_model(model)
        self.chat.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def chat_with_pool(self, pool: Any) -> None:
        """Chat on the pool id: each reply goes to the least busy of its hosts (services.serving)."""
        ctx = self.ctx
        if ctx is None:
            return
        from desktop_app.services.pools import pool_model

        try:
            model = pool_model(ctx, pool)
        except ModelDeskError as exc:
            self.show_error(exc, title="Could not open the pool")
            return
        self.chat_with(model)

    def open_conversation(self, conversation_id: str) -> None:
        """Reopen a kept conversation in the chat, with its model as the tree knows it now."""
        session = self.chat.session
        if session is None or session.store is None:
            return
        if self.chat.busy:
            self.show_status("A reply is still streaming; stop it (Esc) before opening another conversation.")
            return
        try:
            conversation = session.store.load(conversation_id)
        except ModelDeskError as exc:
            self.show_error(exc, title="Could not open the conversation")
            if self._conversations is not None:
                self._conversations.reload()
            return
        index = self.tree_model.index_of(conversation.model_id)
        model = index.data(ItemRole.MODEL) if index.isValid() else None
        self.chat.open_conversation(conversation, model)
        if model is None:
            self.show_status(
                f"{conversation.model_id} is not in the registry any more: the conversation can be read, "
                "not continued.",
                error=True,
            )
        elif not model.usable:
            self.show_status(
                f"{model.name} cannot chat right now: {model.status_message or model.status.value}."
            )
        self.chat.input.setFocus(Qt.FocusReason.OtherFocusReason)

    def copy_id(self, model: UnifiedModel) -> None:
        QGuiApplication.clipboard().setText(model.id)
        self.show_status(f"Copied {model.id}")

    def ask_delete(self, model: UnifiedModel) -> None:
        from desktop_app.services.library import delete_check

        if self.ctx is None:
            return
        check = delete_check(self.ctx, model)
        if not check.allowed:
            self.show_status(check.reason, error=True)
            return
        text = f"Delete {model.native_name} from {model.provider}?\n\nThis removes its files from the host."
        if check.warning:
            text += f"\n\n{check.warning}"
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Delete model",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmDelete")
        box.button(QMessageBox.StandardButton.Yes).setText("Delete")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(
            lambda result: result == QMessageBox.StandardButton.Yes and self.delete_model(model)
        )
        box.open()

    @asyncSlot(object)
    async def delete_model(self, model: UnifiedModel) -> None:
        from desktop_app.services.library import delete_model

        assert self.ctx is not None
        self.detail.delete_button.setEnabled(False)
        self._busy(True, f"Deleting {model.name}…")
        try:
            await delete_model(self.ctx, model)
            self.show_status(f"Deleted {model.name} from {model.provider}.")
            await self.reload_models([model.provider])
        except ModelDeskError as exc:
            self.show_error(exc, title=f"Could not delete {model.name}")
        finally:
            self._busy(False)
            self.detail.delete_button.setEnabled(True)

    def open_pull_dialog(self) -> None:
        from desktop_app.gui.qt_pull_dialog import QtPullDialog

        if self.ctx is None:
            return
        if self._pull_dialog is None:
            self._pull_dialog = QtPullDialog(self.ctx, self)
            self._pull_dialog.pulled.connect(lambda _name, source: self._spawn(self.reload_models([source])))
            self._pull_dialog.status_message.connect(self.show_status)
            self._pull_dialog.progress_changed.connect(self._pull_progress)
        self._pull_dialog.show()
        self._pull_dialog.raise_()
        self._pull_dialog.activateWindow()
        if not self._pull_dialog.busy:
            self._pull_dialog.ready_for_typing()

    def _pull_progress(self, text: str, fraction: float) -> None:
        """A pull's progress in the status bar (a button that brings the dialog back); gone when it ends."""
        self.pull_status.setVisible(bool(text))
        if text:
            self.pull_status.setText(text)
            self.pull_status.setToolTip("A model is being pulled; click to see its layers, or to cancel it")

    def open_share_dialog(self) -> None:
        from desktop_app.gui.qt_share_dialog import QtShareDialog, QtShareProcess

        if self.share_process is None:
            self.share_process = QtShareProcess(self)
        if self._share_dialog is None:
            self._share_dialog = QtShareDialog(self.share_process, self)
        self._share_dialog.show()
        self._share_dialog.raise_()

    def open_tool_servers(self) -> None:
        """The MCP servers dialog (one at a time); the chat's Tools menu follows what it changes."""
        from desktop_app.gui.qt_tool_servers import QtToolServersDialog

        if self.ctx is None:
            return
        if self._tool_servers is not None:
            self._tool_servers.raise_()
            self._tool_servers.activateWindow()
            return
        dialog = QtToolServersDialog(self.ctx, self)
        self._tool_servers = dialog
        dialog.changed.connect(self.chat.tools_button.servers_changed)
        dialog.changed.connect(lambda: self.show_status("MCP servers saved (tools.json)."))

        def finished(_result: int) -> None:
            self._tool_servers = None
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()

    def open_settings(self) -> None:
        from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

        ctx = self.ctx
        if ctx is None:
            return
        dialog = QtSettingsDialog(ctx, self)
        self._settings_dialog = dialog
        changed = {"sources": False}

        def sources_changed() -> None:
            changed["sources"] = True
            self.health.set_sources(ctx.settings.sources, ctx.registry.source_states())
            self._spawn(self.reload_models(None))

        def finished(_result: int) -> None:
            self._settings_dialog = None
            self._spawn(self.refresh_pools())  # a host's pool weight may have changed
            if changed["sources"]:
                self.refresh()

        dialog.sources_changed.connect(sources_changed)
        dialog.preferences_changed.connect(self._preferences_changed)
        dialog.finished.connect(finished)
        dialog.open()

    def _preferences_changed(self) -> None:
        from PySide6.QtWidgets import QApplication

        from desktop_app.gui.theme import apply_theme

        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, ctx.settings.preferences.theme if (ctx := self.ctx) else "system")
        self.show_status("Preferences saved.")
        self._spawn(self.refresh_pools())  # pooling may have been switched

    # ================================================================== sync
    @asyncSlot()
    async def refresh(self) -> None:
        await self.sync_sources(None)

    async def sync_sources(self, names: Sequence[str] | None = None) -> None:
        """Sync these sources (every enabled one when None) and update the tree as each reports."""
        if self._sync_task is not None:
            self.show_status("Already syncing…")
            return
        ctx = self.ctx
        if ctx is None:
            return
        from desktop_app.services.sync import sync_all

        self._sync_task = asyncio.current_task()
        configs = [c for c in ctx.settings.enabled_sources() if names is None or c.name in names]
        self.refresh_action.setEnabled(False)
        self.advice_retry.setEnabled(False)
        self.health.set_sources(ctx.settings.sources, ctx.registry.source_states())
        self.health.set_checking([c.name for c in configs])
        self._show_progress(f"Syncing 0/{len(configs)} sources…")
        self.sync_started.emit()
        done: list[Any] = []
        reloads: list[asyncio.Task[Any]] = []
        pending: list[str] = []
        unchanged: list[str] = []

        async def drain() -> None:
            # Sources that report while the tree is being updated are applied together in the next
            # pass: one read and one update of each category, instead of one per source.
            while pending or unchanged:
                if self._in_step is None:  # not known to show the registry: as reported, all read
                    providers: list[str] | None = [*pending, *unchanged]
                elif not await self._in_step_with_registry():
                    providers = None  # another process wrote since: read it all (in step again)
                else:
                    providers = pending[:]  # those that wrote nothing leave the tree as it is
                pending.clear()
                unchanged.clear()
                if providers is None or providers:
                    await self.reload_models(list(dict.fromkeys(providers)) if providers else None)

        def on_report(report: Any) -> None:
            done.append(report)
            self.progress_label.setText(f"Syncing {len(done)}/{len(configs)} sources…")
            self.health.set_report(
                report.source,
                report.health,
                report.message,
                report.hint,
                report.model_count,
                datetime.now(UTC),
            )
            # A sync that wrote nothing leaves the tree as it is (100,000 models are not read and
            # validated again), unless another process changed the registry since the tree read it.
            (pending if report.changed else unchanged).append(report.source)
            if not reloads or reloads[-1].done():
                reloads.append(self._spawn(drain()))

        try:
            reports = await sync_all(ctx, configs, on_report=on_report)
            if reloads:
                await asyncio.gather(*reloads, return_exceptions=True)
            await self.refresh_pools()
            self.last_reports = reports
            self._report_sync(reports, configs)
            if names is None:
                self._start_mlflow_sync()
            self.sync_finished.emit(reports)
        except ModelDeskError as exc:
            self.show_error(exc, title="Sync failed")
        finally:
            self._sync_task = None
            self._hide_progress()
            self.health.stop_checking()
            self.refresh_action.setEnabled(True)
            self.advice_retry.setEnabled(True)

    def _start_mlflow_sync(self) -> None:
        """After a full sync, as `modeldesk sync` does: send runs waiting for MLflow, publish new
        variants and read the team's variants back — in a child process; the tree reloads after."""
        ctx = self.ctx
        if ctx is None or self.mlflow_sync is not None:
            return
        from desktop_app.services import tracking

        try:
            if tracking.disabled() or not tracking.worth_syncing(ctx):
                return
            self.mlflow_sync = tracking.spawn_sync(ctx)
        except (OSError, ModelDeskError) as exc:
            log.warning("could not start the MLflow sync: %s", exc)
            return
        self._mlflow_poll.start()

    def _mlflow_sync_poll(self) -> None:
        child = self.mlflow_sync
        if child is None or child.poll() is None:
            return
        self._mlflow_poll.stop()
        self.mlflow_sync = None
        if child.returncode != 0:
            log.warning("the MLflow sync ended with %s (see logs/mlflow.log)", child.returncode)
        self._spawn(self._reload_if_changed())  # variants read back from MLflow, whatever their host

    async def _in_step_with_registry(self) -> bool:
        """Whether the tree still shows the registry: no other process committed since the tree read
        all of it (this window's own writes reload what they touch)."""
        ctx = self.ctx
        if ctx is None or self._in_step is None:
            return False
        return await asyncio.to_thread(ctx.registry.data_version) == self._in_step

    async def _reload_if_changed(self) -> None:
        if not await self._in_step_with_registry():
            await self.reload_models(None)

    def _report_sync(self, reports: Sequence[Any], configs: Sequence[Any]) -> None:
        log.info("sync done: %d of %d sources answered", sum(r.ok for r in reports), len(reports))
        advice = sync_advice(reports, configs)
        self._set_advice(advice)
        if advice:
            kept = " Models already listed are kept, greyed." if self.tree_model.model_count() else ""
            self.show_status(advice + kept, error=True)
            return
        bad = [r for r in reports if r.health is not SourceHealth.OK]
        if not bad:
            self.show_status(f"Synced {len(reports)} source{'s' if len(reports) != 1 else ''}.")
            return
        names = ", ".join(f"{r.source} ({r.health.value})" for r in bad)
        self.show_status(
            f"{len(reports) - len(bad)} of {len(reports)} sources synced; {names}: models kept, greyed. "
            "Hover the dots for details.",
            error=True,
        )

    async def reload_models(self, providers: Sequence[str] | None = None) -> None:
        """Read the registry (in a thread) and update the tree for these providers (all when None)."""
        from desktop_app.core.models import UnifiedModel
        from desktop_app.store.registry import ModelFilter

        ctx = self.ctx
        if ctx is None:
            return
        await self.load_pending_rows()  # a sync updates rows: they must be there first
        scope = list(providers) if providers else None
        filters = [ModelFilter(provider=p) for p in scope] if scope is not None else [None]

        def read() -> tuple[int, list[str]]:
            version = ctx.registry.data_version()  # before reading: a write after it moves it
            return version, [r for f in filters for r in ctx.registry.iter_json(f)]

        # The query runs in a thread (SQLite waits on its lock there); the JSON is validated here, in
        # slices: Python work in a thread would fight the UI thread for the GIL on every paint.
        version, rows = await asyncio.to_thread(read)
        models: list[UnifiedModel] = []
        disabled = self._disabled_sources()
        for start in range(0, len(rows), _VALIDATE_SLICE):
            models += [UnifiedModel.model_validate_json(r) for r in rows[start : start + _VALIDATE_SLICE]]
            if start + _VALIDATE_SLICE < len(rows):
                await asyncio.sleep(0)
        if disabled:
            models = [mark_disabled(m) if m.provider in disabled else m for m in models]
        # All of it read, or part of it with no other process's write since the tree read all: in step.
        in_step = version if scope is None or version == self._in_step else None
        before = self.tree_model.model_count()
        selected = self.tree.currentIndex().data(ItemRole.MODEL_ID) or ""
        # A category at a time, so the UI keeps breathing during a big sync; but the tree is painted
        # once, at the end: a repaint after each category cost a full paint of the tree (~20 ms) each.
        viewport = self.tree.viewport()
        self._tree_updates_held += 1
        viewport.setUpdatesEnabled(False)
        try:
            async with self._tree_lock:  # not between the categories of a pools update
                for _ in self.tree_model.update_steps(models, scope=scope):
                    await asyncio.sleep(0)
        finally:
            self._tree_updates_held -= 1
            if not self._tree_updates_held:
                viewport.setUpdatesEnabled(True)
        self._in_step = in_step
        if (
            before == 0
            and self.tree_model.model_count() <= EXPAND_ALL_UP_TO
            and not self.proxy.is_filtering()
        ):
            self.tree.expandAll()
        elif self.proxy.is_filtering():
            self._filter_changed()
        self._update_counts()
        if selected and self.tree.currentIndex().data(ItemRole.MODEL_ID) != selected:
            # Its row left (the model changed categories; Qt then moved the selection to a neighbour):
            # select the model again, under its primary category. A model that is gone stays gone.
            self.select_model(selected)
        current = self.tree.currentIndex()
        if current.data(ItemRole.MODEL) is not self.detail.model or current.data(ItemRole.MODEL) is None:
            self._show_detail(current)  # only when what it shows changed: a relayout of the pane is not free
        if self._sync_task is None:  # during a sync, pools are computed once at its end
            await self.refresh_pools()
        self.models_reloaded.emit()

    async def refresh_pools(self) -> None:
        """Which local models are part of a pool, for the detail pane, and the pools' own rows in the tree
        (one per pool, ``pool/<model>``; gone when the pool is). Never before the first paint, and
        nothing to read when pooling is off or fewer than two Ollama hosts are enabled; else only those
        hosts' rows are read, in a thread."""
        ctx = self.ctx
        if ctx is None or not self.first_paint_done:
            return
        from desktop_app.services.pools import pool_hosts, pooling_enabled

        hosts = pool_hosts(ctx)
        pools: dict[str, Any] = {}
        rows: list[tuple[Any, Any]] = []
        if pooling_enabled(ctx) and len(hosts) >= 2:
            try:
                pools, rows = await asyncio.to_thread(_read_pools, ctx)
            except ModelDeskError as exc:
                log.warning("could not compute the pools: %s", exc)
        self.detail.set_pools(pools)
        if self.tree_model.pending:
            return  # no rows yet (a big registry right after start-up): pools come with the next refresh
        if not self.tree_model.pools_changed(rows):
            return
        selected = self.tree.currentIndex().data(ItemRole.MODEL_ID) or ""
        async with self._tree_lock:  # not between the categories of a reload
            viewport = self.tree.viewport()
            self._tree_updates_held += 1
            viewport.setUpdatesEnabled(False)
            try:
                for _ in self.tree_model.pool_steps(rows):
                    await asyncio.sleep(0)  # tens of thousands of pools: let the UI breathe
            finally:
                self._tree_updates_held -= 1
                if not self._tree_updates_held:
                    viewport.setUpdatesEnabled(True)
        if self.proxy.is_filtering():
            self._filter_changed()
        self._update_counts()
        if selected and self.tree.currentIndex().data(ItemRole.MODEL_ID) != selected:
            self.select_model(selected)  # a pool whose row changed (a host joined or left)
        current = self.tree.currentIndex()
        if current.data(ItemRole.MODEL) is not self.detail.model:
            self._show_detail(current)

    # ================================================================== status and errors
    def show_status(self, text: str, *, error: bool = False, timeout_ms: int = 8000) -> None:
        text = for_window(text)
        if error:
            self.error_label.setText(text)
            self.error_label.setToolTip(text)
            self.error_label.show()
            self.statusBar().clearMessage()
        else:
            self.error_label.hide()
            bar = self.statusBar()
            bar.showMessage(self._fit_status(text), timeout_ms)
            bar.setToolTip(text)

    def _fit_status(self, text: str) -> str:
        """The message, elided (…) to the room left of the status bar's permanent widgets: Qt cuts a
        long one at the source dots mid-letter ("…(sqlite:////tmp/modeldesk-sho● ollama")."""
        bar = self.statusBar()
        permanent = [
            w.geometry().left()
            for w in (self.progress_label, self.progress, self.pull_status, self.health, self.serve_switch)
            if w.isVisible()
        ]
        room = (min(permanent) if permanent else bar.width()) - 16
        metrics = bar.fontMetrics()
        if room <= 0 or metrics.horizontalAdvance(text) <= room:
            return text
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)

    def show_notices(self, notices: Sequence[str]) -> QMessageBox:
        """What opening found and the user must know (a damaged file moved aside, with its new path; a
        source this version cannot use): in the status bar, and once in a box the user closes."""
        self.show_status(notices[-1], error=True)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "ModelDesk",
            "\n\n".join(notices),
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("noticeBox")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: setattr(self, "notice_box", None))
        box.open()
        self.notice_box = box
        return box

    def show_error(self, exc: ModelDeskError, *, title: str = "Something went wrong") -> QMessageBox:
        """A user-facing error: what happened, and what to do (the error's hint)."""
        self.show_status(exc.message, error=True)
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, for_window(exc.message), QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("errorBox")
        if exc.hint:
            box.setInformativeText(for_window(exc.hint))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_unexpected(self, exc: BaseException, details: str) -> QMessageBox:
        """Called by the excepthook: a bug, not a user error. Shown, and logged by the hook."""
        if isinstance(exc, ModelDeskError):
            return self.show_error(exc)
        self.show_status(f"Unexpected error: {type(exc).__name__}: {exc}", error=True)
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Unexpected error",
            f"{type(exc).__name__}: {exc}",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("unexpectedErrorBox")
        box.setInformativeText("ModelDesk keeps running. The details below are also in the log file.")
        box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def _busy(self, busy: bool, text: str = "") -> None:
        if busy:
            self._show_progress(text)
            self.show_status(text)
        elif self._sync_task is None:
            self._hide_progress()

    def _show_progress(self, text: str) -> None:
        self.progress_label.setText(text)
        self.progress_label.show()
        self.progress.show()

    def _hide_progress(self) -> None:
        self.progress_label.hide()
        self.progress.hide()

    # ================================================================== tasks
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine beside the UI; its errors reach the excepthook (or the window), never vanish."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if isinstance(exc, ModelDeskError):
                self.show_error(exc)
            elif exc is not None:
                sys.excepthook(type(exc), exc, exc.__traceback__)

        task.add_done_callback(done)
        return task

    async def shutdown(self) -> None:
        """Stop what is running (chat, sync, pulls) before the clients close."""
        await self.chat.shutdown()
        await self._workspace_shutdown()
        pending = [t for t in [*self._tasks, self._sync_task] if t is not None and not t.done()]
        if self._pull_dialog is not None:
            self._pull_dialog.cancel()
            if self._pull_dialog._task is not None:
                pending.append(self._pull_dialog._task)
        if self._tool_servers is not None:  # a Test under way stops its server with it
            pending += self._tool_servers.close_tests()
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)

    # ================================================================== persistence
    def _restore_state(self, state: dict[str, Any]) -> None:

        def blob(key: str) -> QByteArray | None:
            value = state.get(key)
            if not isinstance(value, str):
                return None
            try:
                return QByteArray(base64.b64decode(value))
            except ValueError:
                return None

        geometry = blob("geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self._default_geometry()
        self._pending_splitter = blob("splitter")
        header = blob("tree_header")
        if header is not None:
            self.tree.header().restoreState(header)
        if state.get("chat_options_open"):
            self.chat.options_toggle.setChecked(True)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._splitter_placed:  # once the window has its real size
            self._splitter_placed = True
            state = self._pending_splitter
            if state is None or not self.splitter.restoreState(state):
                total = max(900, self.splitter.width())
                self.splitter.setSizes([int(total * 0.44), int(total * 0.22), int(total * 0.34)])

    def _default_geometry(self) -> None:
        screen = QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        width, height = 1440, 880
        if avail is not None and avail.width() > 0:
            width = min(width, int(avail.width() * 0.92))
            height = min(height, int(avail.height() * 0.9))
        self.resize(width, height)

    def window_state(self) -> dict[str, Any]:
        def enc(data: QByteArray) -> str:
            return base64.b64encode(bytes(data.data())).decode("ascii")

        return {
            "geometry": enc(self.saveGeometry()),
            "splitter": enc(self.splitter.saveState()),
            "tree_header": enc(self.tree.header().saveState()),
            "chat_options_open": self.chat.options_toggle.isChecked(),
        }

    def save_state(self) -> None:
        """Remember geometry and splitters; re-read settings first so another process's edits survive."""
        if self.ctx is None:
            return
        state = self.window_state()

        def remember(settings: Settings) -> None:
            settings.preferences.window = state

        try:
            self.ctx.update_settings(remember)
        except ModelDeskError as exc:
            log.warning("could not save the window state: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.serve_switch.stop(wait=True)
        self._leave_workspace()
        self.save_state()
        if self.share_process is not None:  # the shared app goes with the window
            self.share_process.stop(wait=True)
        super().closeEvent(event)
        self.closed.emit()
