"""Tools in the chat panel: the Tools control (which tools to offer), the approval dialog (Allow once /
Always for this tool / Deny), and each call shown in the reply with its result collapsed under it.

The loop itself is ``services.tools.chat_with_tools``; this module only shows it and asks the user.
The registry (and the MCP servers it starts) lives as long as the panel; ``aclose`` stops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.capabilities import can_call_tools as capable

if TYPE_CHECKING:  # imported when used: the window's first paint builds no pydantic model
    from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions
    from desktop_app.core.models import UnifiedModel
    from desktop_app.core.tools import Approval, ToolCallEvent, ToolResultEvent
    from desktop_app.services.context import AppContext
    from desktop_app.services.tools import ToolRegistry

__all__ = ["QtApprovalDialog", "QtToolCallWidget", "QtToolsButton", "can_call_tools", "tool_stream"]

RESULT_LINES = 12  # the unfolded result's height, in lines; longer ones scroll (the text is whole)


def can_call_tools(model: UnifiedModel | None) -> bool:
    """Ollama's ``tools`` capability, or a remote catalog's tool-calling flag (both map to ``tools``)."""
    return model is not None and capable(model.capabilities)


class QtToolsButton(QToolButton):
    """'Tools (2)': a menu of checkable tools (built-in ones, and one entry per MCP server), and
    "MCP servers…" to add or change servers (``manage_servers``; the window opens its dialog)."""

    manage_servers = Signal()

    def __init__(self, ctx_of: Callable[[], AppContext | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatTools")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolTip("Tools the model may call; you approve each call")
        self.menu_ = QMenu(self)
        self.menu_.setObjectName("chatToolsMenu")
        self.setMenu(self.menu_)
        self.registry: ToolRegistry | None = None
        self._ctx_of = ctx_of
        self.always: set[str] = set()  # tools the user allowed for the rest of the session
        self._chosen: set[str] = set()  # none until the user picks: a plain chat stays plain
        self.actions_: dict[str, QAction] = {}
        self.manage_action: QAction | None = None  # "MCP servers…", once the menu is built
        self._update_text()
        self.menu_.aboutToShow.connect(self.refresh)

    def ensure_registry(self) -> ToolRegistry | None:
        ctx = self._ctx_of()
        if self.registry is None and ctx is not None:
            from desktop_app.services.tools import ToolRegistry

            self.registry = ToolRegistry.open(ctx)
        return self.registry

    def refresh(self) -> None:
        """Rebuild the menu from the registry (servers added on the command line show up)."""
        registry = self.ensure_registry()
        if registry is None:
            return
        registry.reload()  # servers added, changed or removed meanwhile (the dialog, the CLI)
        choices = registry.choices()
        self.menu_.clear()
        self.actions_ = {}
        for name in choices:
            label = f"{name[:-2]} (MCP server)" if name.endswith("/*") else name
            action = QAction(label, self.menu_)
            action.setCheckable(True)
            action.setChecked(name in self._chosen)
            action.toggled.connect(lambda on, n=name: self.choose(n, on))
            self.menu_.addAction(action)
            self.actions_[name] = action
        self.menu_.addSeparator()
        has_servers = any(c.endswith("/*") for c in choices)
        manage = self.menu_.addAction("Add an MCP server…" if not has_servers else "MCP servers…")
        manage.setObjectName("chatToolsManage")
        manage.setToolTip("Add, change, test or remove the MCP servers whose tools models can call")
        manage.triggered.connect(self.manage_servers.emit)
        self.manage_action = manage
        self._chosen &= set(choices)
        self._update_text()

    def servers_changed(self) -> None:
        """tools.json changed (the MCP servers dialog): follow it now, stopping what was removed or
        changed, so the next chat starts servers as they are configured."""
        if self.registry is not None:
            self.registry.reload()
            self._chosen &= set(self.registry.choices())
            self._update_text()

    def choose(self, name: str, on: bool) -> None:
        if on:
            self._chosen.add(name)
        else:
            self._chosen.discard(name)
        action = self.actions_.get(name)
        if action is not None and action.isChecked() != on:
            action.setChecked(on)
        self._update_text()

    def selected(self) -> list[str]:
        return sorted(self._chosen)

    def _update_text(self) -> None:
        n = len(self._chosen)
        self.setText(f"Tools ({n})" if n else "Tools")

    async def aclose(self) -> None:
        registry, self.registry = self.registry, None
        if registry is not None:
            await registry.aclose()


class QtApprovalDialog(QDialog):
    """'The model wants to run calculator(expression="2^31*3")': Allow once / Always for this tool / Deny."""

    def __init__(self, event: ToolCallEvent, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from desktop_app.core.tools import Approval, describe_call

        self.setObjectName("toolApproval")
        name = event.spec.name if event.spec else event.call.name
        self.setWindowTitle(f"Run {name}?")
        self.answer = Approval.DENY
        layout = QVBoxLayout(self)
        what = QLabel(f"The model wants to run <b>{_esc(name)}</b>:")
        layout.addWidget(what)
        call = QPlainTextEdit(describe_call(name, event.call.arguments))
        call.setObjectName("toolApprovalCall")
        call.setReadOnly(True)
        call.setMaximumHeight(90)
        layout.addWidget(call)
        if event.spec is not None and event.spec.description:
            about = QLabel(event.spec.description)
            about.setWordWrap(True)
            about.setStyleSheet("color: palette(placeholder-text);")
            layout.addWidget(about)
        buttons = QDialogButtonBox()
        self.once = QPushButton("Allow once")
        self.once.setObjectName("toolAllowOnce")
        self.always = QPushButton(f"Always for {name}")
        self.always.setObjectName("toolAllowAlways")
        self.always.setToolTip("Allow this tool without asking for the rest of this session")
        self.deny = QPushButton("Deny")
        self.deny.setObjectName("toolDeny")
        for button, role, answer in (
            (self.once, QDialogButtonBox.ButtonRole.AcceptRole, Approval.ONCE),
            (self.always, QDialogButtonBox.ButtonRole.AcceptRole, Approval.ALWAYS),
            (self.deny, QDialogButtonBox.ButtonRole.RejectRole, Approval.DENY),
        ):
            buttons.addButton(button, role)
            button.clicked.connect(lambda _=False, a=answer: self._answer(a))
        self.deny.setDefault(False)
        self.once.setDefault(True)
        layout.addWidget(buttons)

    def _answer(self, answer: Approval) -> None:
        self.answer = answer
        self.done(QDialog.DialogCode.Accepted if answer != "deny" else QDialog.DialogCode.Rejected)

    async def ask(self) -> Approval:
        """Show the dialog (window-modal, not blocking the loop) and wait for the answer; closing it
        (Esc, the window's close button) denies."""
        future: asyncio.Future[Approval] = asyncio.get_running_loop().create_future()

        def finished(_code: int) -> None:
            if not future.done():
                future.set_result(self.answer)

        self.finished.connect(finished)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.open()
        try:
            return await future
        finally:
            if self.isVisible():
                self.reject()
            # Deleted now, on this (the UI) thread. Left to deleteLater, a dialog answered inside a
            # nested event loop may outlive its turn and be freed by Python's garbage collector on
            # another thread, which Qt cannot do safely for an object with timers.
            shiboken6.delete(self)


class QtToolCallWidget(QFrame):
    """One call inside a reply: the call, its state, and the result folded under it (whole text)."""

    def __init__(self, event: ToolCallEvent) -> None:
        super().__init__()
        from desktop_app.core.tools import describe_call

        self.setObjectName("toolCall")
        self.setStyleSheet(
            "QFrame#toolCall { border: 1px solid palette(mid); border-radius: 6px;"
            " background: rgba(120, 120, 120, 0.08); }"
        )
        self.name = event.spec.name if event.spec else event.call.name
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        self.call_label = QLabel(f"Tool call: {describe_call(self.name, event.call.arguments)}")
        self.call_label.setObjectName("toolCallText")
        self.call_label.setWordWrap(True)
        self.call_label.setTextFormat(Qt.TextFormat.PlainText)
        self.call_label.setStyleSheet("font-family: monospace;")
        layout.addWidget(self.call_label)
        self.state_label = QLabel("waiting for your approval…")
        self.state_label.setObjectName("toolCallState")
        self.state_label.setStyleSheet("color: palette(placeholder-text); font-size: 11px;")
        layout.addWidget(self.state_label)
        self.result_toggle = QToolButton()
        self.result_toggle.setObjectName("toolResultToggle")
        self.result_toggle.setCheckable(True)
        self.result_toggle.setAutoRaise(True)
        self.result_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.result_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.result_toggle.toggled.connect(self._toggle)
        self.result_toggle.hide()
        layout.addWidget(self.result_toggle)
        self.result_view = QPlainTextEdit()
        self.result_view.setObjectName("toolResultText")
        self.result_view.setReadOnly(True)
        self.result_view.hide()
        layout.addWidget(self.result_view)
        self.result_text = ""

    def running(self) -> None:
        self.state_label.setText("running…")

    def show_result(self, event: ToolResultEvent, *, offered: bool = True) -> None:
        result = event.result
        self.result_text = result.text
        took = f" in {result.duration_s:.2f} s" if result.duration_s is not None else ""
        if not event.approved:
            state = (
                "denied — the model was told"
                if offered
                else "not run: the model named a tool it was not offered"
            )
        elif result.is_error:
            state = f"failed{took}"
        else:
            state = f"done{took}"
        self.state_label.setText(state)
        if result.is_error:
            self.state_label.setStyleSheet("color: #b91c1c; font-size: 11px;")
        size = len(result.text)
        first = result.text.strip().splitlines()[0][:80] if result.text.strip() else "(empty)"
        self.result_toggle.setText(f"Result: {first}" + (f"  ({size:,} characters)" if size > 80 else ""))
        self.result_toggle.show()
        self.result_view.setPlainText(result.text)
        # As tall as a short result needs (wrapped at ~90 characters a line), at most a dozen lines.
        lines = 0
        for line in result.text.splitlines()[:RESULT_LINES]:
            lines += max(1, -(-len(line) // 90))
            if lines >= RESULT_LINES:
                break
        height = self.result_view.fontMetrics().lineSpacing() * min(max(lines, 1), RESULT_LINES) + 14
        self.result_view.setFixedHeight(height)

    def _toggle(self, opened: bool) -> None:
        self.result_toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.result_view.setVisible(opened)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _insert_in_reply(reply: QWidget, widget: QWidget) -> None:
    """Put a call into the reply's bubble, above the answer text."""
    content = reply.findChild(QLabel, "replyText")
    bubble = content.parentWidget() if content is not None else None
    layout = bubble.layout() if bubble is not None else None
    if not isinstance(layout, QVBoxLayout) or content is None:
        outer = reply.layout()
        if outer is not None:
            outer.addWidget(widget)
        return
    layout.insertWidget(layout.indexOf(content), widget)


async def tool_stream(
    panel: Any,
    reply: Any,
    model: UnifiedModel,
    messages: list[ChatMessage],
    options: ChatOptions,
    *,
    think: bool | str | None,
    on_wait: Any,
    turns: list[ChatMessage],
    on_host: Any = None,
) -> AsyncIterator[ChatChunk]:
    """The chat panel's stream when tools are offered: the model's chunks (one ``done`` chunk, at the
    end), with calls shown in ``reply`` and approvals asked in a dialog. ``turns`` gets the assistant's
    tool-call turns and the tool replies, for the conversation's history."""
    from desktop_app.core.chat import ChatChunk
    from desktop_app.core.tools import Approval, ToolCallEvent, ToolResultEvent
    from desktop_app.services.tools import ToolSession, chat_with_tools

    button: QtToolsButton = panel.tools_button
    registry = button.ensure_registry()
    assert registry is not None and panel.ctx is not None
    tools = await registry.resolve(button.selected())
    session = ToolSession(tools=tools, always=button.always)
    widgets: dict[int, QtToolCallWidget] = {}

    async def approve(event: ToolCallEvent) -> Approval:
        answer = await QtApprovalDialog(event, panel.window()).ask()
        shown = widgets.get(id(event.call))
        if shown is not None and answer is not Approval.DENY:
            shown.running()
        return answer

    work = list(messages)
    held: ChatChunk | None = None
    async for event in chat_with_tools(
        panel.ctx,
        registry,
        model,
        work,
        options,
        session=session,
        approve=approve,
        think=think,
        on_wait=on_wait,
        on_host=on_host,
    ):
        if isinstance(event, ChatChunk):
            if event.done:
                held = event  # only the last round's end ends the reply
                event = event.model_copy(update={"done": False})
            yield event
        elif isinstance(event, ToolCallEvent):
            held = None
            reply.flush()
            widget = QtToolCallWidget(event)
            widgets[id(event.call)] = widget
            _insert_in_reply(reply, widget)
            if session.allow_all or (event.spec is not None and event.spec.name in session.always):
                widget.running()
        elif isinstance(event, ToolResultEvent):
            shown = widgets.get(id(event.call))
            if shown is not None:
                shown.show_result(event, offered=event.name in {t.name for t in session.tools})
    turns.extend(work[len(messages) :])
    if held is not None:
        yield held
