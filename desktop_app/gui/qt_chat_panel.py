"""The chat panel: streaming replies with a collapsible thinking section, images for vision models,
system prompt and sampling parameters, Stop, and per-reply metrics. Errors show inline in the reply,
with what to do about them.

Chunks are buffered and painted at most every ``FLUSH_MS`` so a fast stream never floods the event
loop; the panel talks to ``services.serving.stream_chat`` only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPainter, QPalette, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from desktop_app.core.errors import InvalidInput, ModelDeskError, StreamInterrupted
from desktop_app.gui import icons
from desktop_app.gui.labels import badge_of, for_window
from desktop_app.gui.qt_tools import QtToolsButton, can_call_tools, tool_stream

if TYPE_CHECKING:
    from desktop_app.core.chat import ChatMessage, ChatMetrics, ChatOptions
    from desktop_app.core.conversation import Conversation, Turn
    from desktop_app.core.models import UnifiedModel
    from desktop_app.services.chat_session import ChatSession
    from desktop_app.services.context import AppContext
    from desktop_app.store.conversations import ConversationStore

__all__ = ["FLUSH_MS", "QtChatPanel", "QtReplyWidget"]

log = logging.getLogger(__name__)

FLUSH_MS = 40
# The thinking combo: (label, the ``think`` value sent).
# Short, so the header fits the narrowest chat pane (a 1024-pixel window); the tooltip says it in full.
THINK_CHOICES: tuple[tuple[str, bool | str], ...] = (
    ("Think: off", False),
    ("Think: on", True),
    ("Think: low", "low"),
    ("Think: medium", "medium"),
    ("Think: high", "high"),
    ("Think: max", "max"),
)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


NO_METRICS = "no metrics reported"  # a reply's footer when its source reported nothing


def _bubble(role: str) -> QFrame:
    frame = QFrame()
    frame.setObjectName(f"bubble-{role}")
    frame.setFrameShape(QFrame.Shape.StyledPanel)
    if role == "user":
        frame.setStyleSheet(
            "QFrame#bubble-user { background: rgba(37, 99, 235, 0.10); border: 1px solid rgba(37, 99, 235, 0.35);"
            " border-radius: 8px; }"
        )
    else:
        frame.setStyleSheet(
            "QFrame#bubble-assistant { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 8px; }"
        )
    return frame


_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard


def _text_label(object_name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(_SELECTABLE)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class QtElidedLabel(QLabel):
    """A one-line label that shortens its text with "…" in the middle (a model id's source and tag both
    stay readable) instead of widening its pane: a long model name must not make the splitter squeeze
    the tree. The tooltip carries the whole text."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 60), hint.height())

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle, self.width())
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.setFont(self.font())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), text)
        painter.end()


class QtUserMessage(QFrame):
    def __init__(self, text: str, images: list[str]) -> None:
        super().__init__()
        frame = _bubble("user")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 0, 0, 0)
        layout.addWidget(frame)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(10, 8, 10, 8)
        who = QLabel("You")
        who.setStyleSheet("font-weight: bold;")
        inner.addWidget(who)
        self.text = _text_label("userText")
        self.text.setText(text)
        inner.addWidget(self.text)
        if images:
            note = QLabel(f"🖼 {len(images)} image{'s' if len(images) != 1 else ''} attached")
            note.setStyleSheet("color: palette(placeholder-text);")
            inner.addWidget(note)


class QtReplyWidget(QFrame):
    """One assistant reply. ``append`` buffers; ``flush`` paints what arrived since the last flush."""

    def __init__(self, model_name: str) -> None:
        super().__init__()
        self.setObjectName("reply")
        frame = _bubble("assistant")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 48, 0)
        layout.addWidget(frame)
        inner = QVBoxLayout(frame)
        inner.setContentsMargins(10, 8, 10, 8)
        inner.setSpacing(6)
        self.who = QLabel(model_name)
        self.who.setObjectName("replyModel")
        self.who.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.who.setStyleSheet("font-weight: bold;")
        inner.addWidget(self.who)

        self.think_toggle = QToolButton()
        self.think_toggle.setObjectName("thinkToggle")
        self.think_toggle.setCheckable(True)
        self.think_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.think_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.think_toggle.setAutoRaise(True)
        self.think_toggle.setText("Thinking")
        self.think_toggle.setToolTip("Show or hide how the model reasoned before answering")
        self.think_toggle.toggled.connect(self._on_think_toggled)
        self.think_toggle.hide()
        inner.addWidget(self.think_toggle)
        self.thinking_label = _text_label("thinkingText")
        self.thinking_label.setStyleSheet(
            "QLabel { color: palette(placeholder-text); font-style: italic; border-left: 3px solid palette(mid);"
            " padding-left: 8px; }"
        )
        self.thinking_label.hide()
        inner.addWidget(self.thinking_label)

        self.content_label = _text_label("replyText")
        self.content_label.setText("…")
        inner.addWidget(self.content_label)

        self.error_label = QLabel()
        self.error_label.setObjectName("replyError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            "QLabel { background: rgba(220, 38, 38, 0.10); border: 1px solid rgba(220, 38, 38, 0.55);"
            " border-radius: 6px; padding: 6px; }"
        )
        self.error_label.hide()
        inner.addWidget(self.error_label)

        self.metrics_label = QLabel()
        self.metrics_label.setObjectName("replyMetrics")
        self.metrics_label.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        self.metrics_label.setWordWrap(True)
        self.metrics_label.hide()
        inner.addWidget(self.metrics_label)

        # While the reply streams, its labels are plain (not selectable) labels: a selectable QLabel
        # lays its text out through a QTextDocument, which made each flush of a 3,000-character reply
        # cost ~25 ms of layout and paint instead of ~6. They become selectable when the reply ends.
        for label in (self.thinking_label, self.content_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        self.content = ""
        self.thinking = ""
        self.metrics: ChatMetrics | None = None
        self.answered_by: str | None = None  # a pool's reply: the member that answered
        self.state = "streaming"  # streaming | done | stopped | failed
        self._dirty = False
        self._user_toggled = False

    # ------------------------------------------------------------------ streaming
    def append(self, content: str, thinking: str) -> None:
        if content or thinking:
            self.content += content
            self.thinking += thinking
            self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        if self.thinking:
            if self.think_toggle.isHidden():
                self.think_toggle.show()
                if not self._user_toggled:  # open while the model thinks, so the user sees progress
                    self._set_open(True)
            words = len(self.thinking.split())
            self.think_toggle.setText(f"Thinking ({words} word{'s' if words != 1 else ''})")
            self.thinking_label.setText(self.thinking.strip())
        if self.content:
            if not self._user_toggled and self.think_toggle.isChecked() and self.state == "streaming":
                self._set_open(False)  # the answer started: fold the reasoning away
            self.content_label.setText(self.content)

    def _set_open(self, opened: bool) -> None:
        self.think_toggle.blockSignals(True)
        self.think_toggle.setChecked(opened)
        self.think_toggle.blockSignals(False)
        self._on_think_toggled(opened, by_user=False)

    def _on_think_toggled(self, opened: bool, by_user: bool = True) -> None:
        if by_user:
            self._user_toggled = True
        self.think_toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.thinking_label.setVisible(opened)

    def set_thinking_open(self, opened: bool) -> None:
        self.think_toggle.setChecked(opened)

    def note(self, text: str) -> None:
        """A passing status inside the reply (e.g. waiting out a rate limit)."""
        if not self.content:
            self.content_label.setText(text)

    # ------------------------------------------------------------------ endings
    def _settle(self) -> None:
        """The reply stopped growing: its text can be selected and copied."""
        for label in (self.thinking_label, self.content_label):
            label.setTextInteractionFlags(_SELECTABLE)

    def finish(self, metrics: ChatMetrics | None, *, answered_by: str | None = None) -> None:
        """The reply is complete. ``answered_by``: a pool's reply names the host that answered in its
        footer ("… · via gpu-b")."""
        self.flush()
        self._settle()
        self.state = "done"
        self.metrics = metrics
        if not self.content:
            self.content_label.setText("(empty reply)")
        else:
            self.content_label.setTextFormat(Qt.TextFormat.MarkdownText)
            self.content_label.setText(self.content)
        self.answered_by = answered_by
        if metrics is not None or answered_by:
            from desktop_app.core.conversation import reply_footer  # pydantic: not before the first paint

            self.metrics_label.setText(reply_footer(metrics, answered_by, no_metrics=NO_METRICS))
            self.metrics_label.setToolTip(
                f"Answered by {answered_by}, the least busy host of the pool when it was asked"
                if answered_by
                else ""
            )
            self.metrics_label.show()

    def stopped(self) -> None:
        self.flush()
        self._settle()
        self.state = "stopped"
        if not self.content:
            self.content_label.setText("")
            self.content_label.hide()
        self.metrics_label.setText("Stopped — the partial reply is kept.")
        self.metrics_label.show()

    def fail(self, message: str, hint: str = "") -> None:
        self.flush()
        self._settle()
        self.state = "failed"
        if not self.content:
            self.content_label.hide()
        text = f"<b>{escape(message)}</b>"
        if hint:
            text += f"<br>{escape(hint)}"
        self.error_label.setText(text.replace("\n", "<br>"))
        self.error_label.show()


class _AttachmentChip(QFrame):
    def __init__(self, path: Path, pixmap: QPixmap, on_remove: Any) -> None:
        super().__init__()
        self.setObjectName("attachment")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        thumb = QLabel()
        thumb.setPixmap(
            pixmap.scaled(
                QSize(28, 28), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        layout.addWidget(thumb)
        layout.addWidget(QLabel(path.name))
        remove = QToolButton()
        remove.setIcon(icons.icon("clear"))
        remove.setAutoRaise(True)
        remove.setToolTip(f"Remove {path.name}")
        remove.clicked.connect(on_remove)
        layout.addWidget(remove)


def _spin_double(minimum: float, maximum: float, step: float, default_text: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(minimum - step, maximum)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setSpecialValueText(default_text)
    box.setValue(minimum - step)
    return box


class QtChatPanel(QWidget):
    """Chat with the model set by ``set_model``. ``status_message`` feeds the window's status bar."""

    status_message = Signal(str)
    busy_changed = Signal(bool)
    conversation_saved = Signal(object)  # the Conversation just written
    model_changed = Signal(object)  # the UnifiedModel the chat now talks to (or None)

    def __init__(self, ctx: AppContext | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatPanel")
        self.ctx = ctx
        self.session: ChatSession | None = None
        self.model: UnifiedModel | None = None
        self.images: list[tuple[Path, str]] = []
        self.replies: list[QtReplyWidget] = []
        self._task: asyncio.Task[Any] | None = None
        self._current: QtReplyWidget | None = None
        self._stick_to_bottom = True

        root = QVBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(6)

        # Header: which model, new chat, options toggle.
        head = QHBoxLayout()
        self.title = QtElidedLabel("Chat")
        self.title.setObjectName("chatTitle")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.badge = QLabel()
        self.title.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        head.addWidget(self.title, 1)
        head.addWidget(self.badge)
        # Second row: thinking and options, so a narrow pane never has to widen for the header.
        tools = QHBoxLayout()
        # Thinking, for models that can: Ollama's think is off, on, or a level (gpt-oss takes levels only).
        self.think_level = QComboBox()
        self.think_level.setObjectName("thinkLevel")
        for text, value in THINK_CHOICES:
            self.think_level.addItem(text, value)
        self.think_level.setCurrentIndex(1)  # On: what a thinking model does by default
        self.think_level.setToolTip(
            "How much the model thinks before it answers: Off, On, or a level (low … max). "
            "gpt-oss takes levels only."
        )
        self.tools_button = QtToolsButton(lambda: self.ctx)
        head.addWidget(self.tools_button)
        self.options_toggle = QToolButton()
        self.options_toggle.setObjectName("chatOptionsToggle")
        self.options_toggle.setText("Prompt && parameters")
        self.options_toggle.setCheckable(True)
        self.options_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.options_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.options_toggle.setAutoRaise(True)
        tools.addWidget(self.options_toggle)
        tools.addStretch(1)
        tools.addWidget(self.think_level)
        self.new_button = QPushButton(icons.icon("clear"), "New chat")
        self.new_button.setObjectName("chatNew")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N); this one is kept in Conversations")
        head.addWidget(self.new_button)
        root.addLayout(head)
        root.addLayout(tools)

        # Options: system prompt and sampling parameters (default = the model's own).
        self.options = QFrame()
        self.options.setObjectName("chatOptions")
        form = QFormLayout(self.options)
        form.setContentsMargins(4, 0, 4, 4)
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setObjectName("systemPrompt")
        self.system_prompt.setPlaceholderText("System prompt (optional): how the model should behave")
        self.system_prompt.setFixedHeight(64)
        self.system_prompt.setTabChangesFocus(True)
        form.addRow("System", self.system_prompt)
        params = QGridLayout()
        params.setHorizontalSpacing(8)
        self.temperature = _spin_double(0.0, 2.0, 0.1, "default")
        self.temperature.setObjectName("temperature")
        self.temperature.setToolTip("Temperature: higher is more varied (default: the model's own)")
        self.top_p = _spin_double(0.0, 1.0, 0.05, "default")
        self.top_p.setObjectName("topP")
        self.top_p.setToolTip(
            "top_p: sample from the smallest set of tokens whose probability adds up to this"
        )
        self.max_tokens = QSpinBox()
        self.max_tokens.setObjectName("maxTokens")
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setSpecialValueText("default")
        self.max_tokens.setToolTip("Longest reply in tokens (default: the model's own)")
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(-1, 999_999_999)
        self.seed.setSpecialValueText("random")
        self.seed.setValue(-1)
        self.seed.setToolTip("A fixed seed makes replies repeatable")
        for i, (label, box) in enumerate(
            (
                ("Temperature", self.temperature),
                ("top_p", self.top_p),
                ("Max tokens", self.max_tokens),
                ("Seed", self.seed),
            )
        ):
            # Each name above its box, two per row: it fits the narrowest chat pane (1024 px windows).
            name = QLabel(label)
            name.setBuddy(box)
            params.addWidget(name, (i // 2) * 2, i % 2)
            params.addWidget(box, (i // 2) * 2 + 1, i % 2)
        params.setVerticalSpacing(2)
        params.setColumnStretch(2, 1)
        form.addRow(params)
        # Opening the options must never widen the window: the frame takes the width it is given.
        self.options.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.options.setMinimumWidth(0)
        self.options.hide()
        root.addWidget(self.options)

        # Transcript.
        self.transcript_area = QScrollArea()
        self.transcript_area.setObjectName("transcript")
        self.transcript_area.setWidgetResizable(True)
        self.transcript_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        body.setObjectName("transcriptBody")
        self.transcript = QVBoxLayout(body)
        self.transcript.setContentsMargins(4, 4, 4, 4)
        self.transcript.setSpacing(10)
        self.placeholder = QLabel()
        self.placeholder.setObjectName("chatPlaceholder")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self.transcript.addWidget(self.placeholder)
        self.transcript.addStretch(1)
        self.transcript_area.setWidget(body)
        root.addWidget(self.transcript_area, 1)
        bar = self.transcript_area.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

        # Attachments and input.
        self.attachments_row = QHBoxLayout()
        self.attachments_row.addStretch(1)
        root.addLayout(self.attachments_row)
        self.notice = QLabel()
        self.notice.setObjectName("chatNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #b45309;")
        self.notice.hide()
        root.addWidget(self.notice)

        entry = QHBoxLayout()
        self.input = QPlainTextEdit()
        self.input.setObjectName("chatInput")
        self.input.setPlaceholderText("Message — Ctrl+Enter to send")
        self.input.setFixedHeight(72)
        self.input.setTabChangesFocus(True)
        entry.addWidget(self.input, 1)
        col = QVBoxLayout()
        self.attach_button = QPushButton(icons.icon("attach"), "Image…")
        self.attach_button.setObjectName("chatAttach")
        self.send_button = QPushButton(icons.icon("send"), "Send")
        self.send_button.setObjectName("chatSend")
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.stop_button = QPushButton(icons.icon("stop"), "Stop")
        self.stop_button.setObjectName("chatStop")
        self.stop_button.setToolTip("Stop the reply (Esc); what arrived is kept")
        self.stop_button.setEnabled(False)
        col.addWidget(self.send_button)
        col.addWidget(self.stop_button)
        col.addWidget(self.attach_button)
        entry.addLayout(col)
        root.addLayout(entry)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)

        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.attach_button.clicked.connect(self._choose_images)
        self.new_button.clicked.connect(self.new_chat)
        self.options_toggle.toggled.connect(self._toggle_options)
        self.system_prompt.textChanged.connect(self._update_options_sign)
        for box in (self.temperature, self.top_p, self.max_tokens, self.seed):
            box.valueChanged.connect(self._update_options_sign)
        self.new_shortcut = QShortcut(QKeySequence("Ctrl+N"), self)
        self.new_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.new_shortcut.activated.connect(self.new_chat)
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(self.send)
        self.stop_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.stop_shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.stop_shortcut.activated.connect(self.stop)
        self.stop_shortcut.setEnabled(False)
        self.set_model(None)

    # ------------------------------------------------------------------ state
    def attach(self, ctx: AppContext, store: ConversationStore | None = None) -> None:
        """The app's context is open: conversations are kept from now on (in ``store``, by default the
        data dir's ``conversations/``)."""
        from desktop_app.services.chat_session import ChatSession
        from desktop_app.store.conversations import ConversationStore

        self.ctx = ctx
        if self.session is None:
            self.session = ChatSession(ctx, store or ConversationStore(ctx.home / "conversations"))
            self.session.turn_added.connect(self._on_turn_added)
            self.session.chunk.connect(self._on_chunk)
            self.session.waiting.connect(self._on_wait)
            self.session.conversation_changed.connect(self._render_conversation)
            self.session.saved.connect(self.conversation_saved.emit)
            self.session.save_failed.connect(lambda text: self._show_notice(f"Not saved: {text}"))
            if self.model is not None:
                self.session.set_model(self.model)
        else:
            self.session.ctx = ctx

    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def history(self) -> list[ChatMessage]:
        """What the model is sent as the conversation so far."""
        return self.session.conversation.history() if self.session is not None else []

    def set_model(self, model: UnifiedModel | None) -> None:
        """Chat with ``model`` from now on; a different model starts a new conversation."""
        changed = model is None or self.model is None or model.id != self.model.id
        self.model = model
        if model is None:
            self.title.setText("Chat")
            self.title.setToolTip("")
            self.badge.clear()
            self.placeholder.setText(
                "Select a model and press Chat (or Enter in the tree) to talk to it here."
            )
        else:
            from desktop_app.gui.qt_detail_pane import badge_pixmap

            self.title.setText(model.id)
            self.title.setToolTip(f"You are chatting with {model.id}")
            self.badge.setPixmap(badge_pixmap(badge_of(model), 16))
            self.placeholder.setText(
                f"Ask {model.name} anything. Replies stream here; Esc stops one."
                + (" You can attach images." if self._vision() else "")
            )
            if changed and model.system_prompt and not self.system_prompt.toPlainText().strip():
                self.system_prompt.setPlainText(model.system_prompt)
        self.tools_button.setVisible(can_call_tools(model))
        if changed and not self.busy:
            kept = self.session is not None and bool(self.session.turns)
            if self.session is not None:
                self.session.set_model(model)  # another model: a new conversation (the old one is kept)
            else:
                self._clear_transcript()
            if kept:
                self.status_message.emit("The previous conversation is kept under Conversations (Ctrl+H).")
        self._update_controls()
        self.model_changed.emit(model)

    def _vision(self) -> bool:
        return self.model is not None and "vision" in {c.lower() for c in self.model.capabilities}

    def _thinks(self) -> bool:
        return self.model is not None and "thinking" in {c.lower() for c in self.model.capabilities}

    def think_value(self) -> bool | str | None:
        """What the next message asks of the model's thinking: None (not a thinking model), False, True
        or a level."""
        if not self._thinks():
            return None
        value: bool | str = self.think_level.currentData()
        return value

    def _update_controls(self) -> None:
        has_model = self.model is not None
        busy = self.busy
        self.send_button.setEnabled(has_model and not busy)
        self.input.setReadOnly(busy)
        self.stop_button.setEnabled(busy)
        self.stop_shortcut.setEnabled(busy)
        self.new_button.setEnabled(not busy)
        self.attach_button.setEnabled(has_model and not busy and self._vision())
        self.think_level.setVisible(self._thinks())
        self.think_level.setEnabled(not busy)
        self.attach_button.setToolTip(
            "Attach images (PNG, JPEG, WebP, GIF)"
            if self._vision()
            else "This model does not read images; pick one with the Vision capability."
        )

    def new_chat(self) -> None:
        """Start afresh with the same model; the conversation so far stays in the list."""
        if self.busy:
            return
        if self.session is not None:
            if self.session.turns:
                self.status_message.emit("The previous conversation is kept under Conversations (Ctrl+H).")
            self.session.new()  # re-renders through conversation_changed
        else:
            self._clear_transcript()
        self.clear_images()
        self.notice.hide()

    def _clear_transcript(self) -> None:
        self.replies = []
        self._current = None
        while self.transcript.count() > 2:
            item = self.transcript.takeAt(1)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.placeholder.show()

    def open_conversation(self, conversation: Conversation, model: UnifiedModel | None) -> None:
        """Show a kept conversation and continue it with ``model`` (None: its model is gone; it can be
        read, not continued)."""
        if self.busy or self.session is None:
            return
        self.session.open(conversation, model)
        self._set_model_header(model, conversation)
        self.system_prompt.setPlainText(conversation.system_prompt)
        self._set_options(conversation.options)
        if conversation.think is not None:
            for i in range(self.think_level.count()):
                if self.think_level.itemData(i) == conversation.think:
                    self.think_level.setCurrentIndex(i)
        self._update_controls()
        self._update_options_sign()
        self.model_changed.emit(model)

    def _set_model_header(self, model: UnifiedModel | None, conversation: Conversation) -> None:
        self.model = model
        if model is not None:
            self.title.setText(model.id)
            self.title.setToolTip(f"You are chatting with {model.id}")
            from desktop_app.gui.qt_detail_pane import badge_pixmap

            self.badge.setPixmap(badge_pixmap(badge_of(model), 16))
        else:
            self.title.setText(conversation.model_id or "Chat")
            self.title.setToolTip(
                f"{conversation.model_id} is no longer in the registry: this conversation can be read, "
                "not continued. Pick a model and press Chat to start a new one."
            )
            self.badge.clear()

    def _render_conversation(self) -> None:
        """Draw the session's conversation from its turns (a reopened or a new one)."""
        self._clear_transcript()
        if self.session is None:
            return
        reply: QtReplyWidget | None = None
        for turn in self.session.turns:
            if turn.role == "user":
                self._add_to_transcript(QtUserMessage(turn.content, turn.images))
                continue
            reply = QtReplyWidget(turn.model_id or self.session.conversation.model_id)
            self.replies.append(reply)
            self._add_to_transcript(reply)
            reply.append(turn.content, turn.thinking)
            if turn.state == "done":
                reply.finish(turn.metrics, answered_by=turn.answered_by)
            elif turn.state == "failed":
                reply.fail(turn.error or "The reply failed.")
            else:
                reply.stopped()
            reply.set_thinking_open(False)
        self._stick_to_bottom = True

    def _toggle_options(self, opened: bool) -> None:
        self.options_toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.options.setVisible(opened)

    def _set_options(self, options: ChatOptions) -> None:
        """Show ``options`` in the parameter boxes (unset ones at "default")."""

        def put(box: QDoubleSpinBox, value: float | None) -> None:
            box.setValue(box.minimum() if value is None else value)

        put(self.temperature, options.temperature)
        put(self.top_p, options.top_p)
        self.max_tokens.setValue(options.max_tokens or 0)
        self.seed.setValue(-1 if options.seed is None else options.seed)

    def options_summary(self) -> str:
        """What is set in the collapsed options panel ("" when nothing: the model's own defaults)."""
        opts = self.chat_options().model_dump(exclude_none=True)
        parts = ["system prompt"] if self.system_prompt.toPlainText().strip() else []
        parts += [f"{k.replace('_', ' ')} {v}" for k, v in opts.items()]
        return ", ".join(parts)

    def _update_options_sign(self) -> None:
        """A visible sign on the toggle when a system prompt or parameters are set: collapsed, the panel
        must not hide that the next message is not sent plainly."""
        summary = self.options_summary()
        self.options_toggle.setText("Prompt && parameters" + (" ●" if summary else ""))
        self.options_toggle.setProperty("optionsSet", bool(summary))
        self.options_toggle.setToolTip(
            f"Set for the next message: {summary}" if summary else "A system prompt and sampling parameters"
        )

    def chat_options(self) -> ChatOptions:
        from desktop_app.core.chat import ChatOptions

        def opt(box: QDoubleSpinBox) -> float | None:
            return None if box.value() < box.minimum() + box.singleStep() / 2 else round(box.value(), 4)

        return ChatOptions(
            temperature=opt(self.temperature),
            top_p=opt(self.top_p),
            max_tokens=self.max_tokens.value() or None,
            seed=None if self.seed.value() < 0 else self.seed.value(),
        )

    # ------------------------------------------------------------------ images
    def _choose_images(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Attach images", str(Path.home()), "Images (*.png *.jpg *.jpeg *.webp *.gif *.bmp)"
        )
        if paths:
            self.attach_images([Path(p) for p in paths])

    def attach_images(self, paths: list[Path]) -> None:
        """Attach image files to the next message; problems show in the notice line, not a crash."""
        problems = []
        for path in paths:
            try:
                self.images.append((path, self._load_image(path)))
            except InvalidInput as exc:
                problems.append(exc.message)
        self._show_notice(" ".join(problems))
        self._render_attachments()

    @staticmethod
    def _load_image(path: Path) -> str:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise InvalidInput(f"{path.name} is not an image ModelDesk can send (PNG, JPEG, WebP, GIF, BMP).")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"Cannot read {path.name}: {exc.strerror or exc}.") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise InvalidInput(f"{path.name} is larger than 20 MB; scale it down first.")
        if not QPixmap().loadFromData(data):
            raise InvalidInput(f"{path.name} is not a readable image.")
        return base64.b64encode(data).decode("ascii")

    def clear_images(self) -> None:
        self.images = []
        self._render_attachments()

    def _render_attachments(self) -> None:
        while self.attachments_row.count() > 1:
            item = self.attachments_row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, (path, data) in enumerate(self.images):
            pixmap = QPixmap()
            pixmap.loadFromData(base64.b64decode(data))
            chip = _AttachmentChip(path, pixmap, lambda _=False, i=i: self._remove_image(i))
            self.attachments_row.insertWidget(i, chip)

    def _remove_image(self, i: int) -> None:
        if 0 <= i < len(self.images):
            del self.images[i]
            self._render_attachments()

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # ------------------------------------------------------------------ sending
    def _add_to_transcript(self, widget: QWidget) -> None:
        self.placeholder.hide()
        self.transcript.insertWidget(self.transcript.count() - 1, widget)

    def _flush(self) -> None:
        if self._current is not None:
            self._current.flush()

    def _on_range_changed(self, _min: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.transcript_area.verticalScrollBar().setValue(maximum)

    def _on_scrolled(self, value: int) -> None:
        bar = self.transcript_area.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 8

    def _on_turn_added(self, turn: Turn) -> None:
        if turn.role == "user":
            self._add_to_transcript(QtUserMessage(turn.content, turn.images))
            return
        reply = QtReplyWidget(turn.model_id or "")
        self.replies.append(reply)
        self._add_to_transcript(reply)
        self._current = reply

    def _on_chunk(self, content: str, thinking: str) -> None:
        if self._current is not None:
            self._current.append(content, thinking)

    def _on_wait(self, _seconds: float, message: str) -> None:
        if self._current is not None:
            self._current.note(message)
        self.status_message.emit(message)

    @asyncSlot()
    async def send(self) -> None:
        if self.busy:
            return
        if self.model is None:
            self._show_notice("Pick a model in the tree first, then press Chat.")
            return
        text = self.input.toPlainText().strip()
        if not text and not self.images:
            self._show_notice("Type a message first.")
            return
        session = self.session
        if self.ctx is None or session is None:
            self._show_notice("ModelDesk is still starting; try again in a moment.")
            return
        self._show_notice("")
        model = self.model
        images = [data for _, data in self.images]
        session.configure(
            system=self.system_prompt.toPlainText().strip(),
            options=self.chat_options(),
            think=self.think_value(),
        )
        self._stick_to_bottom = True
        self.input.clear()
        self.clear_images()

        self._task = asyncio.current_task()
        self._update_controls()
        self.busy_changed.emit(True)
        self._flush_timer.start()
        try:
            stream = None
            if not self.tools_button.isHidden() and self.tools_button.selected():

                def stream(
                    messages: list[ChatMessage],
                    options: ChatOptions,
                    think: bool | str | None,
                    on_wait: Any,
                    turns: list[ChatMessage],
                ) -> Any:
                    # Tools offered: the call loop streams, approvals are asked in a dialog, and each
                    # call and its result are shown inside the reply being written.
                    return tool_stream(
                        self,
                        self._current,
                        model,
                        messages,
                        options,
                        think=think,
                        on_wait=on_wait,
                        turns=turns,
                        on_host=session.note_host,  # a pool's reply names its host
                    )

            turn = await session.send(text, images, stream=stream)
            reply = self._current
            if reply is not None:
                reply.finish(turn.metrics, answered_by=turn.answered_by)
            from desktop_app.core.chat import seconds_text  # pydantic: not before the first paint
            from desktop_app.core.conversation import pool_host

            total = turn.metrics.total_s if turn.metrics is not None else None
            host = pool_host(turn.answered_by)
            who = f"{model.name} answered" + (f" via {host}" if host else "")
            # The same number as the reply's own "total" (one clock, see chat_session.consistent_metrics).
            self.status_message.emit(f"{who} in {seconds_text(total)}" if total is not None else f"{who}.")
        except asyncio.CancelledError:
            if self._current is not None:
                self._current.stopped()
            self.status_message.emit("Stopped.")
        except ModelDeskError as exc:
            if self._current is not None:
                self._current.fail(for_window(exc.message), for_window(exc.hint))
            if not isinstance(exc, StreamInterrupted):
                self.status_message.emit(f"Chat failed: {for_window(exc.message)}")
        except Exception as exc:
            if self._current is not None:
                self._current.fail(
                    f"Unexpected error: {type(exc).__name__}: {exc}",
                    "This is a bug in ModelDesk; the details are in the log file.",
                )
            raise
        finally:
            self._flush_timer.stop()
            self._task = None
            self._current = None
            self._update_controls()
            self.busy_changed.emit(False)

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def shutdown(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session is not None:
            self.session.save()
        await self.tools_button.aclose()  # stops the MCP servers this window started
