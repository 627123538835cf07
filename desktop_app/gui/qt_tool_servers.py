"""The MCP servers dialog: add, edit, remove, turn on or off and test the tool servers models can call.

It does what ``modeldesk tools add|rm|enable|disable|test`` do, through the same ``services.tools``
calls and ``core.tools`` checks. A server's token is typed into a password field, goes to the keyring
and is never shown again; environment values that look like keys go there too and show as
``SECRET_SHOWN``. Test starts the server in the background (a busy bar; closing the dialog stops it),
lists its tools and stops it; a failure says what is wrong (the command not found, the server exited
with its stderr, HTTP 401, no answer in time).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.tools import (
    McpServerConfig,
    ToolSpec,
    check_server,
    check_server_name,
    check_server_url,
    env_text,
    join_args,
    read_env_text,
    split_args,
)
from desktop_app.gui.labels import for_window

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext
    from desktop_app.services.tools import ToolRegistry

__all__ = ["QtServerEditor", "QtToolServersDialog"]

DETAIL_LINES = 7
ERROR_COLOR = "#dc2626"
OK_COLOR = "#16a34a"
_COL_NAME, _COL_KIND, _COL_TARGET = range(3)


class _TestRunner:
    """A server test in the background, shown by a busy bar and a message; ``cancel`` stops it (and
    the server it started). Shared by the list dialog (a saved server) and the form (what is typed)."""

    def __init__(self, busy: QProgressBar, message: QLabel, details: QPlainTextEdit) -> None:
        self.busy, self.message, self.details = busy, message, details
        self.task: asyncio.Task[Any] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def show(self, text: str, *, error: bool = False, ok: bool = False, details: str = "") -> None:
        if not shiboken6.isValid(self.message):  # the dialog is gone
            return
        color = ERROR_COLOR if error else OK_COLOR if ok else "palette(text)"
        self.message.setStyleSheet(f"color: {color};")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.details.setPlainText(details)
        self.details.setVisible(bool(details))
        # As tall as the text (a stderr tail, a server's tools), at most DETAIL_LINES; more scrolls.
        shown = min(max(len(details.splitlines()), 2), DETAIL_LINES)
        self.details.setFixedHeight(self.details.fontMetrics().lineSpacing() * shown + 14)

    def start(self, name: str, start: Any, on_tools: Any = None) -> asyncio.Task[Any]:
        """Show that ``name`` is starting (at once), and await ``start()`` (a registry test) in a task;
        ``on_tools(tools)`` when it offered its tools. Closing the dialog cancels the task."""
        self.busy.show()
        self.show(f"Starting {name} and asking for its tools…")
        task = asyncio.ensure_future(self._run(name, start, on_tools))
        task.add_done_callback(_report_bug)
        self.task = task
        return task

    async def _run(self, name: str, start: Any, on_tools: Any) -> None:
        from desktop_app.adapters.mcp import ToolServerError

        try:
            tools: list[ToolSpec] = await start()
        except ToolServerError as exc:
            head, _, tail = for_window(exc.message).partition("\n")
            self.show(f"✗ {head}", error=True, details=tail.strip())
            return
        except ModelDeskError as exc:
            self.show(f"✗ {for_window(exc.message)}", error=True, details=for_window(exc.hint))
            return
        finally:
            self.task = None
            if shiboken6.isValid(self.busy):  # closed meanwhile: the test was cancelled with it
                self.busy.hide()
        count = f"{len(tools)} tool{'s' if len(tools) != 1 else ''}"
        listing = (
            ""
            if on_tools is not None
            else "\n".join(f"{t.name} — {_first_line(t.description)}" for t in tools)
        )
        self.show(f"✓ {name} started and offers {count}; it was stopped again.", ok=True, details=listing)
        if on_tools is not None:  # the caller lists them its own way
            on_tools(tools)

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


def _report_bug(task: asyncio.Task[Any]) -> None:
    """An error that is not the server's (a bug) reaches the window's excepthook, never vanishes."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def _home(word: str) -> str:
    """``~`` or ``~/x`` as a shell expands it (the user's home); other words as they are."""
    return str(Path(word).expanduser()) if word == "~" or word.startswith("~/") else word


def _first_line(text: str) -> str:
    return (text or "").strip().split("\n")[0][:100] or "(no description)"


def _test_widgets(parent_name: str) -> tuple[QProgressBar, QLabel, QPlainTextEdit]:
    busy = QProgressBar()
    busy.setObjectName(f"{parent_name}Busy")
    busy.setRange(0, 0)  # a busy bar: how long a server takes to start is not known
    busy.setTextVisible(False)
    busy.setFixedWidth(90)
    busy.setMaximumHeight(12)
    busy.hide()
    message = QLabel()
    message.setObjectName(f"{parent_name}Message")
    message.setWordWrap(True)
    message.setTextFormat(Qt.TextFormat.PlainText)
    message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    message.hide()
    details = QPlainTextEdit()
    details.setObjectName(f"{parent_name}Details")
    details.setReadOnly(True)
    details.setTabChangesFocus(True)
    details.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    details.hide()
    return busy, message, details


class QtServerEditor(QDialog):
    """Add a server, or edit one (its name stays: secrets in the keyring are filed under it)."""

    saved = Signal(object)  # the McpServerConfig as saved

    def __init__(
        self, registry: ToolRegistry, server: McpServerConfig | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        from desktop_app.adapters.mcp import START_TIMEOUT_S

        self.registry = registry
        self.editing = server
        self.start_timeout = START_TIMEOUT_S
        self.setObjectName("toolServerEditor")
        self.setWindowTitle("Add an MCP server" if server is None else f"Edit the MCP server {server.name}")
        self.setMinimumWidth(560)
        root = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.name = QLineEdit()
        self.name.setObjectName("serverName")
        self.name.setPlaceholderText("a short name, e.g. fs; its tools are called fs/…")
        form.addRow("&Name", self.name)

        kinds = QHBoxLayout()
        self.stdio = QRadioButton("&Command (stdio)")
        self.stdio.setObjectName("serverStdio")
        self.stdio.setToolTip(
            "ModelDesk starts the server as a program and talks to it over its input/output"
        )
        self.http = QRadioButton("&URL (streamable HTTP)")
        self.http.setObjectName("serverHttp")
        self.http.setToolTip("The server already runs somewhere; ModelDesk connects to its URL")
        group = QButtonGroup(self)
        group.addButton(self.stdio)
        group.addButton(self.http)
        kinds.addWidget(self.stdio)
        kinds.addWidget(self.http)
        kinds.addStretch(1)
        form.addRow("Kind", kinds)
        root.addLayout(form)

        self.pages = QStackedWidget()
        root.addWidget(self.pages)
        stdio_page = QWidget()
        sf = QFormLayout(stdio_page)
        sf.setContentsMargins(0, 0, 0, 0)
        sf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.command = QLineEdit()
        self.command.setObjectName("serverCommand")
        self.command.setPlaceholderText("npx, uvx, docker, or a program's full path")
        sf.addRow("Co&mmand", self.command)
        self.args = QLineEdit()
        self.args.setObjectName("serverArgs")
        self.args.setPlaceholderText("-y @modelcontextprotocol/server-filesystem ~/notes")
        self.args.setToolTip('Split as a shell splits them: quote an argument with spaces ("my notes")')
        sf.addRow("&Arguments", self.args)
        self.env = QPlainTextEdit()
        self.env.setObjectName("serverEnv")
        self.env.setTabChangesFocus(True)
        self.env.setPlaceholderText("NAME=VALUE, one a line")
        self.env.setToolTip(
            "Values of names like *_KEY, *_TOKEN or *SECRET* go to the keyring, not tools.json, and show "
            "as •••••••• afterwards: leave those as they are to keep them."
        )
        self.env.setFixedHeight(self.env.fontMetrics().lineSpacing() * 3 + 14)
        sf.addRow("&Environment", self.env)
        cwd_row = QHBoxLayout()
        self.cwd = QLineEdit()
        self.cwd.setObjectName("serverCwd")
        self.cwd.setPlaceholderText("optional: the folder it starts in")
        self.browse = QPushButton("Browse…")
        self.browse.setObjectName("serverCwdBrowse")
        self.browse.setAutoDefault(False)
        self.browse.clicked.connect(self._choose_folder)
        cwd_row.addWidget(self.cwd, 1)
        cwd_row.addWidget(self.browse)
        cwd_label = QLabel("&Working folder")
        cwd_label.setBuddy(self.cwd)  # a row whose field is a layout gets no buddy (nor Alt+W) by itself
        sf.addRow(cwd_label, cwd_row)
        self.pages.addWidget(stdio_page)

        http_page = QWidget()
        hf = QFormLayout(http_page)
        hf.setContentsMargins(0, 0, 0, 0)
        hf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.url = QLineEdit()
        self.url.setObjectName("serverUrl")
        self.url.setPlaceholderText("https://example.com/mcp")
        hf.addRow("U&RL", self.url)
        self.token = QLineEdit()
        self.token.setObjectName("serverToken")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optional bearer token; kept in the keyring, never shown again")
        hf.addRow("&Token", self.token)
        self.forget_token = QCheckBox("Forget the stored token")
        self.forget_token.setObjectName("serverForgetToken")
        self.forget_token.hide()
        hf.addRow("", self.forget_token)
        self.pages.addWidget(http_page)

        more = QFormLayout()
        more.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.timeout = QDoubleSpinBox()
        self.timeout.setObjectName("serverTimeout")
        self.timeout.setRange(0.5, 3600)
        self.timeout.setDecimals(1)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(30)
        self.timeout.setToolTip("How long one tool call may take before it is stopped")
        more.addRow("Time &limit a call", self.timeout)
        root.addLayout(more)

        test_row = QHBoxLayout()
        self.test_button = QPushButton("T&est")
        self.test_button.setObjectName("serverTest")
        self.test_button.setAutoDefault(False)
        self.test_button.setToolTip("Start the server as typed, list its tools, and stop it")
        self.test_button.clicked.connect(self.test)
        busy, self.message, self.details = _test_widgets("serverTest")
        self.busy = busy
        self.test_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        test_row.addWidget(self.test_button)
        test_row.addWidget(busy)
        test_row.addWidget(self.message, 1)
        test_row.addStretch(0)
        root.addLayout(test_row)
        root.addWidget(self.details)
        self.tester = _TestRunner(busy, self.message, self.details)
        root.addStretch(1)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setObjectName("serverSave")
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        root.addWidget(self.buttons)

        self.stdio.toggled.connect(self._kind_changed)
        self._fill(server)
        for first, second in (
            (self.name, self.stdio),
            (self.stdio, self.http),
            (self.http, self.command),
            (self.command, self.args),
            (self.args, self.env),
            (self.env, self.cwd),
            (self.cwd, self.browse),
            (self.browse, self.url),
            (self.url, self.token),
            (self.token, self.forget_token),
            (self.forget_token, self.timeout),
            (self.timeout, self.test_button),
            (self.test_button, self.save_button),
        ):
            QWidget.setTabOrder(first, second)

    # ------------------------------------------------------------------ form
    def _fill(self, server: McpServerConfig | None) -> None:
        if server is None:
            self.stdio.setChecked(True)
            self.name.setFocus()
            return
        self.name.setText(server.name)
        self.name.setReadOnly(True)
        self.name.setToolTip("To rename a server, remove it and add it again")
        self.timeout.setValue(server.timeout_s)
        if server.url:
            self.http.setChecked(True)
            self.url.setText(server.url)
            if self.registry.has_token(server.name):
                self.token.setPlaceholderText("a token is stored; type a new one to replace it")
                self.forget_token.show()
            self.url.setFocus()
        else:
            self.stdio.setChecked(True)
            self.command.setText(server.command or "")
            self.args.setText(join_args(server.args))
            self.env.setPlainText(env_text(server))
            self.cwd.setText(server.cwd or "")
            self.command.setFocus()
        self._kind_changed()

    def _kind_changed(self, _checked: bool = False) -> None:
        current = 0 if self.stdio.isChecked() else 1
        self.pages.setCurrentIndex(current)
        for i in range(self.pages.count()):  # as tall as the page shown, not the tallest page
            page = self.pages.widget(i)
            if page is None:
                continue
            policy = QSizePolicy.Policy.Preferred if i == current else QSizePolicy.Policy.Ignored
            page.setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.pages.adjustSize()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Working folder", self.cwd.text() or str(Path.home()))
        if folder:
            self.cwd.setText(folder)

    def _field(self, widget: QWidget, check: Any) -> Any:
        """``check()``, with the focus on ``widget`` when it raises InvalidInput."""
        try:
            return check()
        except InvalidInput:
            widget.setFocus()
            raise

    def config(self) -> McpServerConfig:
        """The server as typed, checked; InvalidInput (focus on the field at fault) when it is wrong."""
        name = self._field(self.name, lambda: check_server_name(self.name.text()))
        if self.editing is None and self.registry.config.has(name):
            self.name.setFocus()
            raise InvalidInput(
                f"A server named {name!r} exists already: pick another name, or edit that one."
            )
        timeout = self.timeout.value()
        enabled = self.editing.enabled if self.editing is not None else True
        if self.stdio.isChecked():
            command = self.command.text().strip()
            if not command:
                self.command.setFocus()
                raise InvalidInput(
                    "Type the command that starts the server (e.g. npx, or a program's full path)."
                )
            # A shell would have expanded ~ for `modeldesk tools add`; the server gets no shell.
            command = _home(command)
            args = [_home(a) for a in self._field(self.args, lambda: split_args(self.args.text()))]
            stored = self.editing.secret_env if self.editing is not None else []
            env, kept = self._field(self.env, lambda: read_env_text(self.env.toPlainText(), stored))
            cwd = self.cwd.text().strip()
            if cwd:
                cwd = str(Path(cwd).expanduser())
                if not Path(cwd).is_dir():
                    self.cwd.setFocus()
                    raise InvalidInput(f"The working folder {cwd} does not exist.")
            server = McpServerConfig(
                name=name,
                command=command,
                args=args,
                env=env,
                secret_env=kept,
                cwd=cwd or None,
                timeout_s=timeout,
                enabled=enabled,
            )
        else:
            url = self.url.text().strip()
            if not url:
                self.url.setFocus()
                raise InvalidInput("Type the server's URL (e.g. https://example.com/mcp).")
            self._field(self.url, lambda: check_server_url(url))
            server = McpServerConfig(name=name, url=url, timeout_s=timeout, enabled=enabled)
        return check_server(server)

    def _token(self) -> str | None:
        return (self.token.text().strip() or None) if self.http.isChecked() else None

    def _error(self, exc: ModelDeskError) -> None:
        hint = for_window(exc.hint)
        self.tester.show(f"✗ {for_window(exc.message)}" + (f" {hint}" if hint else ""), error=True)

    # ------------------------------------------------------------------ actions
    def test(self) -> asyncio.Task[Any] | None:
        """Start the server as typed (not saved yet), list its tools, stop it; the test's task."""
        if self.tester.running:
            return None
        try:
            server = self.config()
        except InvalidInput as exc:
            self._error(exc)
            return None
        stored = self.editing is not None and not self.forget_token.isChecked()
        token = self._token()
        self.test_button.setEnabled(False)
        task = self.tester.start(
            server.name,
            lambda: self.registry.try_server(
                server, token=token, stored_token=stored, timeout=self.start_timeout
            ),
        )
        task.add_done_callback(lambda _t: self._test_ended())
        return task

    def _test_ended(self) -> None:
        if shiboken6.isValid(self.test_button):  # the form may be closed by now
            self.test_button.setEnabled(True)

    def save(self) -> None:
        try:
            server = self.config()
            saved = self.registry.save_server(
                server, token=self._token(), forget_token=self.forget_token.isChecked()
            )
        except ModelDeskError as exc:
            self._error(exc)
            return
        self.token.clear()
        self.saved.emit(saved)
        self.accept()

    def done(self, result: int) -> None:
        self.tester.cancel()  # closing stops a test under way (and the server it started)
        self.token.clear()
        super().done(result)


class QtToolServersDialog(QDialog):
    """The MCP servers, each on or off, with Add…, Edit…, Remove…, Test, and the tested server's tools
    (each can be turned off)."""

    changed = Signal()  # tools.json changed: a server added, edited, removed or switched, a tool switched

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from desktop_app.services.tools import ToolRegistry

        self.registry = ToolRegistry.open(ctx)
        self.tools: dict[str, list[ToolSpec]] = {}  # server name -> its tools, once tested
        self.editor: QtServerEditor | None = None
        self._shown: str | None = None  # the server selected (the message below the list is about it)
        self.setObjectName("toolServers")
        self.setWindowTitle("MCP servers")
        self.resize(760, 520)
        root = QVBoxLayout(self)

        intro = QLabel(
            "Servers whose tools models can call (Model Context Protocol); the built-in tools need no setup. "
            "Pick them for a chat in its Tools menu. Each call is shown and asked about first."
        )
        intro.setWordWrap(True)
        root.addWidget(intro)

        self.table = QTreeWidget()
        self.table.setObjectName("toolServersTable")
        self.table.setHeaderLabels(["Name (on/off)", "Kind", "Command or URL"])
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.header()
        header.setSectionResizeMode(_COL_TARGET, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(_COL_NAME, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_COL_KIND, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setMinimumHeight(120)
        self.table.itemChanged.connect(self._item_changed)
        # Enter or a double click edits. Not at once: the Enter that activated the row goes on to this
        # dialog, which would press the new form's default button (Save) with it.
        self.table.itemActivated.connect(lambda _item, _col: QTimer.singleShot(0, self.edit))
        self.table.currentItemChanged.connect(self._selection_changed)
        root.addWidget(self.table, 2)
        self.empty = QLabel(
            "No MCP servers yet. Add one, or import the servers you set up in Claude Desktop, VS Code or "
            "LM Studio (their JSON file with mcpServers)."
        )
        self.empty.setObjectName("toolServersEmpty")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        root.addWidget(self.empty)

        row = QHBoxLayout()
        self.add_button = QPushButton("&Add…")
        self.add_button.setObjectName("toolServerAdd")
        self.add_button.clicked.connect(self.add)
        self.edit_button = QPushButton("&Edit…")
        self.edit_button.setObjectName("toolServerEdit")
        self.edit_button.clicked.connect(self.edit)
        self.remove_button = QPushButton("&Remove…")
        self.remove_button.setObjectName("toolServerRemove")
        self.remove_button.clicked.connect(self.ask_remove)
        self.test_button = QPushButton("&Test")
        self.test_button.setObjectName("toolServerTest")
        self.test_button.setToolTip("Start the selected server, list its tools, and stop it")
        self.test_button.clicked.connect(self.test)
        self.import_button = QPushButton("&Import…")
        self.import_button.setObjectName("toolServerImport")
        self.import_button.setToolTip(
            'Add the servers of an {"mcpServers": …} file (Claude Desktop, VS Code, LM Studio)'
        )
        self.import_button.clicked.connect(self._choose_import)
        for button in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.test_button,
            self.import_button,
        ):
            button.setAutoDefault(False)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            row.addWidget(button)
        busy, self.message, self.details = _test_widgets("toolServers")
        self.busy = busy
        row.addWidget(busy)
        row.addWidget(self.message, 1)
        row.addStretch(0)  # keeps the buttons together while there is no message
        root.addLayout(row)
        root.addWidget(self.details)
        self.tester = _TestRunner(busy, self.message, self.details)

        self.tools_title = QLabel()
        self.tools_title.setObjectName("toolServerToolsTitle")
        self.tools_title.setWordWrap(True)
        root.addWidget(self.tools_title)
        self.tool_list = QListWidget()
        self.tool_list.setObjectName("toolServerTools")
        self.tool_list.setToolTip("Untick a tool to keep it from the models (`modeldesk tools disable NAME`)")
        self.tool_list.itemChanged.connect(self._tool_changed)
        root.addWidget(self.tool_list, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAutoDefault(False)
        buttons.rejected.connect(self.reject)
        root.addWidget(buttons)

        if self.registry.store.moved_aside is not None:
            self.tester.show(
                f"tools.json was unreadable and was moved to {self.registry.store.moved_aside}.", error=True
            )
        self.reload()
        self.table.setFocus()

    # ------------------------------------------------------------------ the list
    def reload(self, select: str | None = None) -> None:
        """Show tools.json as it is now (the CLI may have changed it meanwhile)."""
        current = select or self.selected_name()
        self.registry.config = self.registry.store.load()
        self.table.blockSignals(True)
        self.table.clear()
        chosen: QTreeWidgetItem | None = None
        for server in self.registry.config.servers:
            item = QTreeWidgetItem([server.name, "HTTP" if server.url else "stdio", server.describe()])
            item.setData(_COL_NAME, Qt.ItemDataRole.UserRole, server.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                _COL_NAME, Qt.CheckState.Checked if server.enabled else Qt.CheckState.Unchecked
            )
            item.setToolTip(_COL_TARGET, server.describe())
            self._paint_state(item, server.enabled)
            self.table.addTopLevelItem(item)
            if server.name == current or chosen is None:
                chosen = item
        self.table.blockSignals(False)
        has = self.table.topLevelItemCount() > 0
        self.table.setVisible(has)
        self.empty.setVisible(not has)
        if chosen is not None:
            self.table.setCurrentItem(chosen)
        self._selection_changed()

    def selected_name(self) -> str | None:
        item = self.table.currentItem()
        return str(item.data(_COL_NAME, Qt.ItemDataRole.UserRole)) if item is not None else None

    def select(self, name: str) -> bool:
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if item is not None and item.data(_COL_NAME, Qt.ItemDataRole.UserRole) == name:
                self.table.setCurrentItem(item)
                return True
        return False

    def _selection_changed(self, *_: Any) -> None:
        name = self.selected_name()
        if name != self._shown and not self.tester.running:
            self.tester.show("")  # the last message was about another server
        self._shown = name
        for button in (self.edit_button, self.remove_button, self.test_button):
            button.setEnabled(name is not None and not (button is self.test_button and self.tester.running))
        self._show_tools(name)

    def _show_tools(self, name: str | None) -> None:
        tools = self.tools.get(name or "")
        self.tool_list.blockSignals(True)
        self.tool_list.clear()
        disabled = set(self.registry.config.disabled_tools)
        for spec in tools or []:
            item = QListWidgetItem(f"{spec.name} — {_first_line(spec.description)}")
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if spec.name in disabled else Qt.CheckState.Checked)
            item.setToolTip(spec.description or spec.name)
            self.tool_list.addItem(item)
        self.tool_list.blockSignals(False)
        self.tool_list.setVisible(bool(tools))
        if name is None:
            self.tools_title.setText("")
        elif tools is None:
            self.tools_title.setText(f"Test {name} to see its tools (and turn single tools off).")
        else:
            self.tools_title.setText(f"Tools of {name} (untick one to keep it from the models):")
        self.tools_title.setVisible(name is not None)

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column != _COL_NAME:
            return
        name = str(item.data(_COL_NAME, Qt.ItemDataRole.UserRole))
        on = item.checkState(_COL_NAME) == Qt.CheckState.Checked
        try:
            self.registry.set_server_enabled(name, on)
        except ModelDeskError as exc:
            self.tester.show(f"✗ {for_window(exc.message)}", error=True)
            self.reload()
            return
        self.table.blockSignals(True)  # restyling the row is no change of its state
        self._paint_state(item, on)
        self.table.blockSignals(False)
        self.tester.show(f"{name} is {'on' if on else 'off'}.")
        self.changed.emit()

    def _paint_state(self, item: QTreeWidgetItem, on: bool) -> None:
        """A server that is off is greyed, as disabled sources are (its box alone is faint in dark)."""
        brush = QBrush() if on else self.palette().brush(QPalette.ColorRole.PlaceholderText)
        for column in range(self.table.columnCount()):
            item.setForeground(column, brush)
        item.setToolTip(
            _COL_NAME,
            ("On: offered in the chats' Tools menu." if on else "Off: not offered in chats.")
            + " Space turns it on or off.",
        )

    def _tool_changed(self, item: QListWidgetItem) -> None:
        name = str(item.data(Qt.ItemDataRole.UserRole))
        on = item.checkState() == Qt.CheckState.Checked
        try:
            self.registry.set_tool_enabled(name, on)
        except ModelDeskError as exc:
            self.tester.show(f"✗ {for_window(exc.message)}", error=True)
            return
        self.tester.show(f"{name} is {'on' if on else 'off'}.")
        self.changed.emit()

    # ------------------------------------------------------------------ actions
    def add(self) -> None:
        self._open_editor(None)

    def edit(self) -> None:
        name = self.selected_name()
        if name is not None and self.registry.config.has(name):
            self._open_editor(self.registry.config.server(name))

    def _open_editor(self, server: McpServerConfig | None) -> None:
        editor = QtServerEditor(self.registry, server, self)
        self.editor = editor

        def saved(config: McpServerConfig) -> None:
            self.tools.pop(config.name, None)  # tested as it was; test it again
            self.reload(select=config.name)
            self.tester.show(f"Saved {config.name} ({config.describe()}).", ok=True)
            self.changed.emit()

        def finished(_result: int) -> None:
            if self.editor is editor:
                self.editor = None
            editor.deleteLater()
            self.table.setFocus()

        editor.saved.connect(saved)
        editor.finished.connect(finished)
        editor.open()

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import MCP servers", str(Path.home()), "MCP server files (*.json);;All files (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        """Add every server of the file (what `modeldesk tools import FILE` does)."""
        try:
            imported = self.registry.import_file(path)
        except ModelDeskError as exc:
            hint = for_window(exc.hint)
            self.tester.show(f"✗ {for_window(exc.message)}" + (f" {hint}" if hint else ""), error=True)
            return
        for one in imported:
            self.tools.pop(one.server.name, None)
        self.reload(select=imported[0].server.name)
        names = ", ".join(one.server.name + (" (replaced)" if one.replaced else "") for one in imported)
        kept = [
            f"{one.server.name}'s {'token' if k == 'its token' else k}" for one in imported for k in one.kept
        ]
        note = f" Kept in the keyring, not in tools.json: {', '.join(kept)}." if kept else ""
        self.tester.show(f"Imported {len(imported)} server(s): {names}.{note}", ok=True)
        self.changed.emit()

    def ask_remove(self) -> None:
        name = self.selected_name()
        if name is None or not self.registry.config.has(name):
            return
        server = self.registry.config.server(name)
        secrets = (["its token"] if self.registry.has_token(name) else []) + [
            f"{env}" for env in server.secret_env
        ]
        forgotten = f" {', '.join(secrets)} will be forgotten from the keyring." if secrets else ""
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove MCP server",
            f"Remove the MCP server “{name}” ({server.describe()})?\n\nIts tools leave the chats' Tools "
            f"menu.{forgotten}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("confirmRemoveToolServer")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda result: self._remove_answered(result, name))
        box.open()

    def _remove_answered(self, result: int, name: str) -> None:
        if result == QMessageBox.StandardButton.Yes:
            self.remove(name)

    def remove(self, name: str) -> None:
        """Remove the server now, and forget its keyring secrets (what `modeldesk tools rm` does)."""
        try:
            self.registry.remove_server(name)
        except ModelDeskError as exc:
            self.tester.show(f"✗ {for_window(exc.message)}", error=True)
            return
        self.tools.pop(name, None)
        self.reload()
        self.tester.show(f"Removed {name}.")
        self.changed.emit()
        self.table.setFocus()

    def test(self) -> asyncio.Task[Any] | None:
        """Start the selected server, list its tools, stop it (`modeldesk tools test NAME`)."""
        name = self.selected_name()
        if name is None or self.tester.running:
            return None
        self.test_button.setEnabled(False)

        def offered(tools: list[ToolSpec]) -> None:
            self.tools[name] = tools
            if self.selected_name() == name:
                self._show_tools(name)

        task = self.tester.start(name, lambda: self.registry.test(name), offered)
        task.add_done_callback(lambda _t: self._test_ended())
        return task

    def _test_ended(self) -> None:
        if shiboken6.isValid(self.test_button):  # the dialog may be closed by now
            self.test_button.setEnabled(self.selected_name() is not None)

    def close_tests(self) -> list[asyncio.Task[Any]]:
        """Cancel the tests under way (here and in an open form); their tasks, to wait for."""
        tasks = [t for t in (self.tester.task, self.editor.tester.task if self.editor else None) if t]
        for task in tasks:
            task.cancel()
        return tasks

    def done(self, result: int) -> None:
        self.tester.cancel()
        if self.editor is not None:
            self.editor.reject()
        super().done(result)
