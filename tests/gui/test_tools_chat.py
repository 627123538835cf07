"""The window's chat with tools, against the fake Ollama: the Tools control for tool-capable models, the
approval dialog (Allow once / Always / Deny), and each call with its result folded under it."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from desktop_app.gui.qt_tools import QtApprovalDialog, QtToolCallWidget
from desktop_app.services.context import AppContext
from tests.fakes.ollama import FakeOllama
from tests.fakes.tool_script import ToolScript
from tests.gui.conftest import point_ollama
from tests.gui.test_live import start_chat


def _dialog() -> QtApprovalDialog | None:
    return next(
        (w for w in QApplication.topLevelWidgets() if isinstance(w, QtApprovalDialog) and w.isVisible()), None
    )


def test_chat_calls_tools_with_approval(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    fake_ollama.tool_script = ToolScript(
        rounds=[[("calculator", {"expression": "2^31 * 3"}), ("current_time", {"timezone": "Asia/Tokyo"})]]
    )
    assert window.select_model("ollama/nomic-embed-text:latest")
    window.chat_with(window.current_model())
    assert window.chat.tools_button.isHidden(), "no Tools control for a model that cannot call tools"

    assert window.select_model("ollama/llama3.2:latest")
    window.chat_with(window.current_model())
    tools = window.chat.tools_button
    assert not tools.isHidden() and tools.selected() == [] and tools.text() == "Tools"
    tools.refresh()  # what opening its menu does
    assert list(tools.actions_) == ["calculator", "current_time", "convert_units"]
    tools.actions_["calculator"].trigger()
    tools.actions_["current_time"].trigger()
    assert tools.selected() == ["calculator", "current_time"] and tools.text() == "Tools (2)"
    task = start_chat(window, "ollama/llama3.2:latest", "what is 2^31 times 3, and what time is it in Tokyo")
    reply = window.chat.replies[-1]
    # The first call waits for the user: shown in the reply, with a dialog asking.
    qtbot.waitUntil(lambda: _dialog() is not None, timeout=10000)
    calls = reply.findChildren(QtToolCallWidget)
    assert len(calls) == 1 and calls[0].call_label.text() == 'Tool call: calculator(expression="2^31 * 3")'
    assert calls[0].state_label.text() == "waiting for your approval…"
    dialog = _dialog()
    assert dialog is not None
    dialog.once.click()
    # The second: denied.
    qtbot.waitUntil(lambda: (d := _dialog()) is not None and d is not dialog, timeout=10000)
    second = _dialog()
    assert second is not None and "current_time" in second.windowTitle()
    second.deny.click()
    run(task)
    assert reply.state == "done"
    calc, clock = reply.findChildren(QtToolCallWidget)
    assert calc.state_label.text().startswith("done") and calc.result_text == "6442450944"
    assert calc.result_view.isHidden(), "results are folded under the call"
    calc.result_toggle.click()
    assert calc.result_view.isVisible() and calc.result_view.toPlainText() == "6442450944"
    assert clock.state_label.text() == "denied — the model was told"
    assert "6442450944" in reply.content and "did not allow" in reply.content
    assert [m.role for m in window.chat.history] == ["user", "assistant", "tool", "tool", "assistant"]
    # Always: the next call of that tool runs without asking.
    fake_ollama.tool_script = ToolScript(
        rounds=[[("calculator", {"expression": "6*7"})], [("calculator", {"expression": "1+1"})]]
    )
    task = start_chat(window, "ollama/llama3.2:latest", "and 6*7?")
    qtbot.waitUntil(lambda: _dialog() is not None, timeout=10000)
    third = _dialog()
    assert third is not None
    third.always.click()
    run(task)
    reply = window.chat.replies[-1]
    assert [w.result_text for w in reply.findChildren(QtToolCallWidget)] == ["42", "2"]
    assert _dialog() is None


def test_a_user_added_mcp_tool_with_a_megabyte_result(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    import sys
    from pathlib import Path

    from desktop_app.core.tools import McpServerConfig
    from desktop_app.services.tools import ToolRegistry
    from tests.fakes.mcp_server import BIG_SIZE

    root = Path(__file__).resolve().parents[2]
    ToolRegistry.open(ctx).add_server(
        McpServerConfig(
            name="t", command=sys.executable, args=["-m", "tests.fakes.mcp_server"], cwd=str(root)
        )
    )
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    fake_ollama.tool_script = ToolScript(rounds=[[("t__big", {})]])
    assert window.select_model("ollama/llama3.2:latest")
    window.chat_with(window.current_model())
    tools = window.chat.tools_button
    tools.refresh()
    assert "t/*" in tools.actions_ and tools.actions_["t/*"].text() == "t (MCP server)"
    tools.actions_["t/*"].trigger()
    task = start_chat(window, "ollama/llama3.2:latest", "fetch the big thing")
    qtbot.waitUntil(lambda: _dialog() is not None, timeout=20000)
    dialog = _dialog()
    assert dialog is not None and dialog.windowTitle() == "Run t/big?"
    dialog.once.click()
    run(task, timeout=30)
    (call,) = window.chat.replies[-1].findChildren(QtToolCallWidget)
    assert len(call.result_view.toPlainText()) >= BIG_SIZE - 100  # whole in the window
    assert "1,000,000 characters" in call.result_toggle.text()
    sent = fake_ollama.tool_script.seen[-1][-1]["content"]
    assert len(sent) < 20_000 and "more characters of the tool's result were left out" in sent
