"""The Serve switch in the status bar, and the snippet Settings shows for other tools.

On, it starts ``modeldesk serve`` as a child process (its own session, so a terminal's Ctrl-C or a
signal to the window's group does not reach it by accident, and stopping it stops all it started),
reads the URL the server prints, and shows it with a Copy button. Off, or when the window closes,
the child is stopped; should the window die first, the child notices its parent is gone and exits.
The window never imports the server (FastAPI/uvicorn load only in the child).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys

from PySide6.QtCore import QProcess, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["SERVE_PORT", "QtServeSnippet", "QtServeSwitch", "modeldesk_command", "snippet"]

SERVE_PORT = 8765  # `modeldesk serve`'s default port, passed explicitly so the two cannot differ
SERVE_URL = f"http://127.0.0.1:{SERVE_PORT}/v1"
_ANNOUNCED = re.compile(r" at (http://\S+/v1)\b")
_STOP_GRACE_MS = 3000


def modeldesk_command(*args: str) -> tuple[str, list[str]]:
    """(program, arguments) that run ``modeldesk ARGS`` with this very installation, frozen or not."""
    if getattr(sys, "frozen", False):
        return sys.executable, list(args)
    return sys.executable, ["-m", "desktop_app", *args]


def snippet(url: str = SERVE_URL, model: str = "ollama/llama3.2:latest") -> str:
    """What to paste into another tool to use ModelDesk's models."""
    return (
        "# Base URL for any OpenAI-compatible tool (editors, agents, LangChain, promptfoo):\n"
        f"#   {url}    API key: any text (the server only listens on this machine)\n"
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{url}", api_key="modeldesk")\n'
        "print([m.id for m in client.models.list()])\n"
        "reply = client.chat.completions.create(\n"
        f'    model="{model}", messages=[{{"role": "user", "content": "Hello!"}}]\n'
        ")\n"
        "print(reply.choices[0].message.content)\n"
    )


class QtServeSwitch(QWidget):
    """``state`` is off | starting | on | stopping | failed; ``url`` is set while on."""

    state_changed = Signal(str)
    message = Signal(str, bool)  # text, is_error: for the window's status bar

    def __init__(self, parent: QWidget | None = None, *, port: int = SERVE_PORT) -> None:
        super().__init__(parent)
        self.setObjectName("serveSwitch")
        self.port = port
        self.state = "off"
        self.url: str | None = None
        self.process: QProcess | None = None
        self._out = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(4)
        self.toggle = QToolButton()
        self.toggle.setObjectName("serveToggle")
        self.toggle.setText("Serve")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip(
            "Serve the registry's local and experimental models over an OpenAI-compatible API on this "
            "machine, for other tools (editors, agents, scripts). Settings shows what to paste."
        )
        self.url_label = QLabel()
        self.url_label.setObjectName("serveUrl")
        self.copy_button = QToolButton()
        self.copy_button.setObjectName("serveCopy")
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the base URL")
        self.copy_button.hide()
        layout.addWidget(self.toggle)
        layout.addWidget(self.url_label)
        layout.addWidget(self.copy_button)
        self.toggle.toggled.connect(self._toggled)
        self.copy_button.clicked.connect(self.copy_url)

    # ------------------------------------------------------------------ control
    def _toggled(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        if self.process is not None:
            return
        program, args = modeldesk_command("serve", "--port", str(self.port), "--exit-with-parent")
        proc = QProcess(self)
        proc.setProgram(program)
        proc.setArguments(args)
        if os.name == "posix":
            proc.setUnixProcessParameters(QProcess.UnixProcessFlag.CreateNewSession)
        proc.readyReadStandardOutput.connect(self._read_output)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._process_error)
        self.process = proc
        self._out = ""
        self._set_state("starting", "starting…")
        proc.start()

    def stop(self, *, wait: bool = False) -> None:
        """Ask the server to stop (SIGTERM to its session: it finishes open replies for up to 3 s);
        kill it if it does not. ``wait`` blocks until it is gone (the window is closing)."""
        proc = self.process
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            return
        self._set_state("stopping", "stopping…")
        pid = proc.processId()
        if os.name == "posix" and pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        else:
            proc.terminate()
        if wait:
            if not proc.waitForFinished(_STOP_GRACE_MS + 500):
                proc.kill()
                proc.waitForFinished(2000)
        else:
            QTimer.singleShot(_STOP_GRACE_MS + 500, lambda p=proc: self._kill_if_running(p))

    def _kill_if_running(self, proc: QProcess) -> None:
        # Once finished, the process is forgotten (and deleted): only a live one is still ours.
        if proc is self.process and proc.state() != QProcess.ProcessState.NotRunning:
            proc.kill()

    def copy_url(self) -> None:
        if self.url:
            QGuiApplication.clipboard().setText(self.url)
            self.message.emit(f"Copied {self.url}", False)

    # ------------------------------------------------------------------ child's news
    def _read_output(self) -> None:
        proc = self.process
        if proc is None:
            return
        self._out += bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace")
        if self.state == "starting":
            found = _ANNOUNCED.search(self._out)
            if found:
                self.url = found.group(1)
                self._set_state("on", self.url)
                self.copy_button.show()
                self.message.emit(f"Serving models at {self.url}", False)

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        proc = self.process
        if proc is None:
            return
        err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip()
        stopping = self.state == "stopping"
        self.process = None
        proc.deleteLater()
        if stopping:
            self._set_state("off", "")
            self.message.emit("Stopped serving models.", False)
            return
        lines = [line for line in err.splitlines() if line.strip()]
        reason = next(
            (line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else ""
        )
        text = (
            f"Serve stopped (exit {code}): {reason.removeprefix('error: ')}"
            if reason
            else f"Serve stopped (exit {code})."
        )
        self._set_state("failed", "")
        self.toggle.setToolTip(text)
        self.message.emit(text, True)

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.process = None
            self._set_state("failed", "")
            self.message.emit("Could not start `modeldesk serve`.", True)

    def _set_state(self, state: str, label: str) -> None:
        self.state = state
        if state != "on":
            self.url = None
            self.copy_button.hide()
        self.url_label.setText(label)
        self.toggle.blockSignals(True)
        self.toggle.setChecked(state in ("starting", "on"))
        self.toggle.blockSignals(False)
        self.state_changed.emit(state)


class QtServeSnippet(QGroupBox):
    """Settings' box: the base URL and a snippet to paste into another tool, with Copy."""

    def __init__(self, parent: QWidget | None = None, url: str = SERVE_URL) -> None:
        super().__init__(
            "Serve — use ModelDesk's models from other tools (the status bar's Serve switch)", parent
        )
        self.setObjectName("serveSnippet")
        layout = QVBoxLayout(self)
        self.text = QPlainTextEdit(snippet(url))
        self.text.setObjectName("serveSnippetText")
        self.text.setReadOnly(True)
        self.text.setMaximumHeight(150)
        layout.addWidget(self.text)
        row = QHBoxLayout()
        note = QLabel(
            "Remote (paid) models and other machines need the command line: "
            "`modeldesk serve --allow-remote`, `--host 0.0.0.0` (a token is required)."
        )
        note.setWordWrap(True)
        self.copy_button = QPushButton("Copy snippet")
        self.copy_button.setObjectName("serveSnippetCopy")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        row.addWidget(note, 1)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
