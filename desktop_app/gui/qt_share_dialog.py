"""Share: start and stop the browser app (`modeldesk share`) from the window.

The app always runs in its own process, in its own session (process group), so the window never
imports gradio and stopping it also stops whatever it started (Gradio's tunnel client). The dialog
reads the lines the process prints (``core.share_protocol``) and shows them with Copy and Open buttons. Closing the dialog
leaves the app running; closing the window stops it (``QtShareProcess.stop``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from enum import StrEnum

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.share_protocol import (
    LINE_LOCAL,
    LINE_LOGIN,
    LINE_NO_PUBLIC,
    LINE_PUBLIC,
    LINE_READY,
    LINE_TOOLS,
)
from desktop_app.gui import icons

__all__ = ["QtShareDialog", "QtShareProcess", "ShareState", "share_command"]

STOP_GRACE_MS = 5000


class ShareState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


def share_command(*, public: bool, allow_remote: bool, tools: bool = False) -> list[str]:
    """The command that starts the app: this same installation's `modeldesk share`. ``tools``: the
    built-in tools only (MCP servers' tools are shared only when named on the command line)."""
    args = ["share"]
    if public:
        args.append("--public")
    if allow_remote:
        args.append("--allow-remote")
    if tools:
        args.append("--tools")
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: its executable is `modeldesk`
        return [sys.executable, *args]
    return [sys.executable, "-m", "desktop_app", *args]


class QtShareProcess(QObject):
    """The `modeldesk share` child: its state and what it said."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = ShareState.STOPPED
        self.local_url = ""
        self.public_url = ""
        self.public_note = ""
        self.login = ""
        self.tools = ""
        self.error = ""
        self._buffer = b""
        self._stderr: list[str] = []
        self._pid = 0
        self.process: QProcess | None = None

    @property
    def password(self) -> str:
        return self.login.split(" / ", 1)[1] if " / " in self.login else ""

    def start(self, *, public: bool = False, allow_remote: bool = False, tools: bool = False) -> None:
        if self.process is not None:
            return
        program, *arguments = share_command(public=public, allow_remote=allow_remote, tools=tools)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("GRADIO_ANALYTICS_ENABLED", "False")
        proc.setProcessEnvironment(env)
        if hasattr(proc, "setUnixProcessParameters"):
            proc.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        self.process = proc
        self.local_url = self.public_url = self.public_note = self.login = self.tools = self.error = ""
        self._buffer, self._stderr = b"", []
        self._set(ShareState.STARTING)
        proc.start(program, arguments)
        self._pid = int(proc.processId())

    def stop(self, *, wait: bool = False) -> None:
        """SIGTERM to the app's process group; SIGKILL for whatever is left after a grace period
        when ``wait`` (closing the window must not leave a server behind)."""
        proc = self.process
        if proc is None:
            return
        self._set(ShareState.STOPPING)
        self._signal_group(signal.SIGTERM)
        if wait:
            if not proc.waitForFinished(STOP_GRACE_MS):
                self._signal_group(signal.SIGKILL)
                proc.waitForFinished(2000)
            self._signal_group(signal.SIGKILL)  # its children, should any have outlived it

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._pid <= 0:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._pid, sig)

    # ------------------------------------------------------------------ reading the child
    def _read_stdout(self) -> None:
        assert self.process is not None
        self._buffer += bytes(self.process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").rstrip("\r"))

    def _read_stderr(self) -> None:
        assert self.process is not None
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr = (self._stderr + [ln for ln in text.splitlines() if ln.strip()])[-20:]

    def _line(self, line: str) -> None:
        if line.startswith(LINE_LOCAL):
            self.local_url = line[len(LINE_LOCAL) :].strip()
        elif line.startswith(LINE_LOGIN):
            self.login = line[len(LINE_LOGIN) :].strip()
        elif line.startswith(LINE_PUBLIC):
            self.public_url = line[len(LINE_PUBLIC) :].strip()
        elif line.startswith(LINE_NO_PUBLIC):
            self.public_note = line[len(LINE_NO_PUBLIC) :].strip()
        elif line.startswith(LINE_TOOLS):
            self.tools = line[len(LINE_TOOLS) :].strip()
        elif line.startswith(LINE_READY):
            self._set(ShareState.RUNNING)
            return
        else:
            return
        self.changed.emit()

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        failed = self.state is not ShareState.STOPPING and code != 0
        if failed:
            last = next((ln for ln in reversed(self._stderr) if ln.startswith("error:")), None)
            self.error = (last or (self._stderr[-1] if self._stderr else f"exit code {code}")).removeprefix(
                "error: "
            )
        self.process = None
        self._pid = 0
        self._set(ShareState.FAILED if failed else ShareState.STOPPED)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart:
            self.error = "the share app could not be started"
            self.process = None
            self._set(ShareState.FAILED)

    def _set(self, state: ShareState) -> None:
        self.state = state
        self.changed.emit()


class _UrlRow(QWidget):
    """A read-only URL (or password) with Copy and, for links, Open."""

    def __init__(self, name: str, *, openable: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setReadOnly(True)
        self.edit.setObjectName(f"{name}Edit")
        self.copy = QPushButton(icons.icon("copy"), "Copy")
        self.copy.setObjectName(f"{name}Copy")
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.edit.text()))
        row.addWidget(self.edit, 1)
        row.addWidget(self.copy)
        self.open: QPushButton | None = None
        if openable:
            self.open = QPushButton("Open")
            self.open.setObjectName(f"{name}Open")
            self.open.clicked.connect(lambda: QDesktopServices.openUrl(QUrl(self.edit.text())))
            row.addWidget(self.open)

    def set_value(self, text: str) -> None:
        self.edit.setText(text)
        for button in (self.copy, self.open):
            if button is not None:
                button.setEnabled(bool(text))


class QtShareDialog(QDialog):
    def __init__(self, process: QtShareProcess, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shareDialog")
        self.setWindowTitle("Share in a browser")
        self.setMinimumWidth(560)
        self.process = process
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Opens ModelDesk's models in a web browser: browse them by category, chat and evaluate. "
            "Pulling and deleting models is never offered there."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.public_box = QCheckBox("Make a public link (needs internet; visitors must log in)")
        self.public_box.setObjectName("sharePublic")
        self.remote_box = QCheckBox("Also offer remote models (paid, rate-limited)")
        self.remote_box.setObjectName("shareRemote")
        self.tools_box = QCheckBox("Let models use the built-in tools (calculator, time, units)")
        self.tools_box.setObjectName("shareTools")
        self.tools_box.setToolTip(
            "Visitors' calls run without asking (nobody is here to approve them). These tools only "
            "compute; MCP servers' tools are never shared from here."
        )
        layout.addWidget(self.public_box)
        layout.addWidget(self.remote_box)
        layout.addWidget(self.tools_box)
        form = QFormLayout()
        self.state_label = QLabel()
        self.state_label.setObjectName("shareState")
        self.state_label.setWordWrap(True)
        form.addRow("State", self.state_label)
        self.local_row = _UrlRow("shareLocal")
        form.addRow("On this computer", self.local_row)
        self.public_row = _UrlRow("sharePublicUrl")
        form.addRow("Public link", self.public_row)
        self.public_note = QLabel()
        self.public_note.setObjectName("shareNote")
        self.public_note.setWordWrap(True)
        form.addRow("", self.public_note)
        self.password_row = _UrlRow("sharePassword", openable=False)
        form.addRow("Login", self.password_row)
        self.tools_label = QLabel()
        self.tools_label.setObjectName("shareToolsState")
        self.tools_label.setWordWrap(True)
        form.addRow("Tools", self.tools_label)
        layout.addLayout(form)
        buttons = QDialogButtonBox()
        self.start_button = QPushButton(icons.icon("share"), "Start sharing")
        self.start_button.setObjectName("shareStart")
        self.start_button.clicked.connect(self._toggle)
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        layout.addWidget(buttons)
        process.changed.connect(self._refresh)
        self._refresh()

    def _toggle(self) -> None:
        if self.process.state in (ShareState.STOPPED, ShareState.FAILED):
            self.process.start(
                public=self.public_box.isChecked(),
                allow_remote=self.remote_box.isChecked(),
                tools=self.tools_box.isChecked(),
            )
        else:
            self.process.stop()

    def _refresh(self) -> None:
        p = self.process
        state = p.state
        idle = state in (ShareState.STOPPED, ShareState.FAILED)
        self.public_box.setEnabled(idle)
        self.remote_box.setEnabled(idle)
        self.tools_box.setEnabled(idle)
        self.start_button.setText("Start sharing" if idle else "Stop sharing")
        self.start_button.setEnabled(state is not ShareState.STOPPING)
        texts = {
            ShareState.STOPPED: "Not shared.",
            ShareState.STARTING: "Starting… (a few seconds)",
            ShareState.RUNNING: "Shared. Only this computer can open the local address"
            + (", anyone with the public link and the password can open that one." if p.public_url else "."),
            ShareState.STOPPING: "Stopping…",
            ShareState.FAILED: f"Could not share: {p.error}",
        }
        self.state_label.setText(texts[state])
        self.local_row.set_value(p.local_url if not idle else "")
        self.public_row.set_value(p.public_url if not idle else "")
        self.public_note.setText(f"No public link: {p.public_note}" if p.public_note and not idle else "")
        self.public_note.setVisible(bool(p.public_note) and not idle)
        self.password_row.set_value(p.login if not idle else "")
        self.tools_label.setText((p.tools or "none") if not idle else "")
