"""The pull dialog: a model name, one progress bar per layer with speed and ETA, Cancel.

Pulling goes through ``services.library.pull_model``; cancelling the task closes the connection, which
makes Ollama stop the download. When the pull succeeds the service re-syncs the host and the dialog
emits ``pulled`` so the window reloads the tree.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from html import escape
from typing import Any, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from desktop_app.core.errors import ModelDeskError
from desktop_app.core.units import format_bytes
from desktop_app.gui.labels import for_window, format_duration
from desktop_app.services.context import AppContext
from desktop_app.services.pull_tracker import LayerView, PullTracker

__all__ = ["QtPullDialog"]


class _LayerRow:
    def __init__(self, grid: QGridLayout, row: int, digest: str) -> None:
        short = digest.removeprefix("sha256:")[:12]
        self.name = QLabel(short)
        self.name.setToolTip(digest)
        self.name.setStyleSheet("font-family: monospace;")
        self.bar = QProgressBar()
        self.bar.setObjectName(f"layer-{short}")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.detail = QLabel("waiting…")
        self.detail.setMinimumWidth(230)
        grid.addWidget(self.name, row, 0)
        grid.addWidget(self.bar, row, 1)
        grid.addWidget(self.detail, row, 2)
        self.view: LayerView | None = None  # what the tracker says of this layer

    @property
    def total(self) -> int | None:
        return self.view.total if self.view is not None else None

    @property
    def completed(self) -> int:
        return self.view.completed if self.view is not None else 0

    def stopped(self, word: str) -> None:
        """The pull ended before this layer did: no speed or ETA any more, only how far it got."""
        if self.total and self.completed < self.total:
            self.detail.setText(f"{format_bytes(self.completed)} / {format_bytes(self.total)} · {word}")
        elif not self.total:
            self.detail.setText(word)
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)

    def show(self, view: LayerView) -> None:
        self.view = view
        if not view.total:
            self.bar.setRange(0, 0)
            return
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * (view.fraction or 0.0)))
        self.bar.setFormat(f"{100 * (view.fraction or 0.0):.0f} %")
        if view.done:
            self.detail.setText(f"{format_bytes(view.total)} · done")
            return
        speed = f"{format_bytes(view.speed)}/s" if view.speed else "…"
        self.detail.setText(
            f"{format_bytes(view.completed)} / {format_bytes(view.total)} · {speed} · "
            f"ETA {format_duration(view.eta)}"
        )


class QtPullDialog(QDialog):
    pulled = Signal(str, str)  # model name, source name
    status_message = Signal(str)
    # A one-line summary while pulling ("llama3.2 — 45 %", fraction or -1 when unknown) and "" when the
    # pull ends: the main window shows it, so a pull going on behind other windows is still seen.
    progress_changed = Signal(str, float)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, name: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("pullDialog")
        self.setWindowTitle("Pull a model")
        self.ctx = ctx
        self.resize(680, 380)
        self._task: asyncio.Task[Any] | None = None
        self.layers: dict[str, _LayerRow] = {}
        self.tracker = PullTracker()  # speed and ETA, computed as `modeldesk pull` computes them
        self.outcome = ""  # "" | "done" | "cancelled" | "failed"

        root = QVBoxLayout(self)
        intro = QLabel(
            "Download a model from the Ollama library onto one of your Ollama hosts, e.g. "
            "<code>llama3.2</code>, <code>qwen3:8b</code> or <code>nomic-embed-text</code>."
        )
        intro.setWordWrap(True)
        root.addWidget(intro)
        form = QFormLayout()
        self.name_edit = QLineEdit(name)
        self.name_edit.setObjectName("pullName")
        self.name_edit.setPlaceholderText("model name[:tag]")
        form.addRow("Model", self.name_edit)
        self.host = QComboBox()
        self.host.setObjectName("pullHost")
        for src in ctx.settings.sources:
            if src.spec is not None and src.spec.manages_models and src.enabled:
                self.host.addItem(f"{src.name} — {src.base_url}", src.name)
        form.addRow("Host", self.host)
        root.addLayout(form)

        self.status = QLabel("")
        self.status.setObjectName("pullStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        root.addWidget(self.status)

        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self.grid = QGridLayout(holder)
        self.grid.setColumnStretch(1, 1)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        area.setWidget(holder)
        root.addWidget(area, 1)

        buttons = QDialogButtonBox()
        self.pull_button = QPushButton("Pull")
        self.pull_button.setObjectName("pullStart")
        self.pull_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("pullCancel")
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("pullClose")
        buttons.addButton(self.pull_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.AcceptRole)
        # Enter means Pull, never Close: only Pull may be a default button (QDialog makes every push
        # button an auto-default one, so the focused Close would otherwise take Enter).
        for button in (self.cancel_button, self.close_button):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.pull_button.setAutoDefault(True)
        root.addWidget(buttons)
        self.cancel_button.setEnabled(False)

        self.pull_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        if self.host.count() == 0:
            self.pull_button.setEnabled(False)
            self._set_status("No enabled Ollama host. Add one in Settings (Ctrl+,) first.", error=True)

    @property
    def busy(self) -> bool:
        return self._task is not None

    def keyPressEvent(self, event: Any) -> None:
        # Enter anywhere but on another button starts the pull and keeps the dialog open.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.focusWidget() not in (
            self.cancel_button,
            self.close_button,
        ):
            if self.pull_button.isEnabled():
                self.start()
            event.accept()
            return
        super().keyPressEvent(event)

    def ready_for_typing(self) -> None:
        """Focus the model field with its text selected: typing replaces it (no "llama3.2llama3.2")."""
        self.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.name_edit.selectAll()

    def _progress_summary(self, name: str) -> tuple[str, float]:
        fraction = self.tracker.fraction
        if fraction is None:
            return f"Pulling {name}…", -1.0
        return f"Pulling {name} — {100 * fraction:.0f} %", fraction

    def _set_status(self, text: str, *, error: bool = False) -> None:
        colour = "#dc2626" if error else "palette(text)"
        self.status.setText(f'<span style="color:{colour}">{text}</span>')

    def _row(self, digest: str) -> _LayerRow:
        row = self.layers.get(digest)
        if row is None:
            row = self.layers[digest] = _LayerRow(self.grid, len(self.layers), digest)
        return row

    def _describe(self, name: str, source: str, status: str) -> str:
        """Ollama's status line in words, with the bytes so far over every layer seen."""
        if status.startswith("pulling ") and status != "pulling manifest":
            total, done = self.tracker.total, self.tracker.completed
            share = f" — {format_bytes(done)} of {format_bytes(total)} so far" if total else ""
            return f"Downloading <b>{escape(name)}</b> to {escape(source)}{share}"
        words = {
            "pulling manifest": "Fetching the manifest…",
            "verifying sha256 digest": "Verifying the download…",
            "writing manifest": "Writing the manifest…",
            "removing any unused layers": "Cleaning up…",
            "success": "Done.",
        }
        return words.get(status, escape(status))

    def _set_busy(self, busy: bool) -> None:
        self.pull_button.setEnabled(not busy and self.host.count() > 0)
        self.name_edit.setReadOnly(busy)
        self.host.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.close_button.setEnabled(not busy)

    @asyncSlot()
    async def start(self) -> None:
        if self.busy:
            return
        from desktop_app.services.library import pull_model

        name = self.name_edit.text().strip()
        source = self.host.currentData()
        for row in self.layers.values():
            for w in (row.name, row.bar, row.detail):
                w.deleteLater()
        self.layers = {}
        self.tracker = PullTracker()
        self._task = asyncio.current_task()
        self.outcome = ""
        self._set_busy(True)
        self._set_status(f"Asking {source} for {name}…")
        try:
            stream = pull_model(self.ctx, name, source)
            async with contextlib.aclosing(cast(AsyncGenerator[Any, None], stream)):
                async for progress in stream:
                    view = self.tracker.update(progress)
                    if view is not None:
                        self._row(view.digest).show(view)
                    self._set_status(self._describe(name, source or "", progress.status))
                    self.progress_changed.emit(*self._progress_summary(name))
            self.outcome = "done"
            self._set_status(f"<b>{escape(name)}</b> is ready: it is in the tree now.")
            self.pulled.emit(name, source or "")
            self.status_message.emit(f"Pulled {name}.")
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            self._set_status("Cancelled. Nothing was added; Ollama keeps finished layers for a later pull.")
            self.tracker.stop("cancelled")
            for row in self.layers.values():
                row.stopped("cancelled")
            self.status_message.emit(f"Pull of {name} cancelled.")
        except ModelDeskError as exc:
            self.outcome = "failed"
            hint = f"<br>{escape(for_window(exc.hint))}" if exc.hint else ""
            self._set_status(f"<b>{escape(for_window(exc.message))}</b>{hint}", error=True)
            self.tracker.stop("failed")
            for row in self.layers.values():
                row.stopped("failed")
            self.status_message.emit(f"Pull of {name} failed: {exc.message}")
        finally:
            self._task = None
            self._set_busy(False)
            self.progress_changed.emit("", -1.0)
            self.ready_for_typing()

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def reject(self) -> None:  # Esc / window close while pulling: cancel first
        if self.busy:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: Any) -> None:
        if self.busy:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)
