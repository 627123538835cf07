"""The MCP servers dialog: add a server from the window (stdio and streamable HTTP), test it in the
background with clear errors, edit, remove with confirmation, turn servers and tools on and off; tokens
and key-like environment values go to the keyring and are never shown again. Against the real MCP
server of tests/fakes/mcp_server.py."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop_app.core.tools import SECRET_SHOWN, McpServerConfig
from desktop_app.gui.qt_tool_servers import QtServerEditor, QtToolServersDialog
from desktop_app.services.context import AppContext
from desktop_app.services.tools import ToolRegistry
from tests.services.test_tools import http_server  # noqa: F401 (a fixture: the HTTP MCP server)

ROOT = Path(__file__).resolve().parents[2]
TOKEN_TYPED = "tok-typed-in-the-window-81"


@pytest.fixture
def window(make_window: Any) -> Any:
    return make_window([])


def open_dialog(window: Any, qtbot: Any) -> QtToolServersDialog:
    window.tools_action.trigger()
    dialog = window._tool_servers
    assert isinstance(dialog, QtToolServersDialog)
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def open_editor(dialog: QtToolServersDialog, qtbot: Any, *, edit: bool = False) -> QtServerEditor:
    (dialog.edit_button if edit else dialog.add_button).click()
    editor = dialog.editor
    assert editor is not None
    qtbot.waitUntil(editor.isVisible)
    return editor


def fill_stdio(editor: QtServerEditor, name: str, *args: str, command: str = sys.executable) -> None:
    editor.name.setText(name)
    editor.stdio.setChecked(True)
    editor.command.setText(command)
    editor.args.setText(" ".join(args))
    editor.cwd.setText(str(ROOT))


def finished_test(tester: Any, qtbot: Any, timeout: int = 20000) -> str:
    """Wait for a test under way to end; its message."""
    qtbot.waitUntil(lambda: tester.task is None and tester.message.text()[:1] in ("✓", "✗"), timeout=timeout)
    text: str = tester.message.text()
    return text


def saved_file(ctx: AppContext) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ctx.home / "tools.json").read_text())
    return data


def test_add_a_stdio_server_test_it_and_offer_it_in_the_chat(
    window: Any, ctx: AppContext, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dialog = open_dialog(window, qtbot)
    assert dialog.empty.isVisible() and dialog.table.isHidden()
    editor = open_editor(dialog, qtbot)
    assert editor.windowTitle() == "Add an MCP server" and editor.focusWidget() is editor.name
    fill_stdio(editor, "t", "-m", "tests.fakes.mcp_server")
    editor.env.setPlainText("LOG_LEVEL=debug\nGITHUB_TOKEN=ghp_in_the_form_42")
    editor.test_button.click()
    qtbot.waitUntil(editor.busy.isVisible)  # the spinner while it starts, the form still answers
    assert "Starting t" in editor.message.text() and not editor.test_button.isEnabled()
    message = finished_test(editor.tester, qtbot)
    offered = len(editor.details.toPlainText().splitlines())  # one line a tool of the test server
    assert offered >= 6 and message == f"✓ t started and offers {offered} tools; it was stopped again."
    assert editor.busy.isHidden() and "t/add — Add two numbers." in editor.details.toPlainText()
    assert not (ctx.home / "tools.json").exists(), "Test does not save"
    editor.save_button.click()
    qtbot.waitUntil(lambda: dialog.editor is None)
    # Saved as `modeldesk tools add` saves it: the key-like value in the keyring, not in tools.json.
    (server,) = saved_file(ctx)["servers"]
    assert server["command"] == sys.executable and server["args"] == ["-m", "tests.fakes.mcp_server"]
    assert server["env"] == {"LOG_LEVEL": "debug"} and server["secret_env"] == ["GITHUB_TOKEN"]
    assert ctx.keys.get("mcp:t:env:GITHUB_TOKEN") == "ghp_in_the_form_42"
    assert "ghp_in_the_form_42" not in caplog.text
    assert dialog.selected_name() == "t" and dialog.table.topLevelItem(0).text(2).startswith(sys.executable)
    # The chat's Tools menu offers it at once.
    tools = window.chat.tools_button
    tools.refresh()
    assert "t/*" in tools.actions_
    # Test from the list: the tools show, each can be turned off (`modeldesk tools disable t/hang`).
    dialog.test_button.click()
    assert finished_test(dialog.tester, qtbot).startswith(f"✓ t started and offers {offered} tools")
    assert dialog.tool_list.count() == offered
    hang = next(
        dialog.tool_list.item(i)
        for i in range(dialog.tool_list.count())
        if dialog.tool_list.item(i).data(Qt.ItemDataRole.UserRole) == "t/hang"
    )
    hang.setCheckState(Qt.CheckState.Unchecked)
    assert saved_file(ctx)["disabled_tools"] == ["t/hang"]
    assert "t/hang" not in {s.name for s in ToolRegistry.open(ctx).known() if s.enabled}


def test_the_server_is_turned_off_and_on_in_the_list(window: Any, ctx: AppContext, qtbot: Any) -> None:
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="t", command="true"))
    dialog = open_dialog(window, qtbot)
    tools = window.chat.tools_button
    tools.refresh()
    tools.choose("t/*", True)
    item = dialog.table.topLevelItem(0)
    assert item.checkState(0) == Qt.CheckState.Checked
    on_color = item.foreground(2).color()
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert saved_file(ctx)["servers"][0]["enabled"] is False
    assert item.foreground(2).color() != on_color and item.toolTip(0).startswith("Off"), "greyed"
    assert tools.selected() == [] and tools.text() == "Tools", "the chat no longer offers it"
    tools.refresh()
    assert "t/*" not in tools.actions_
    item.setCheckState(0, Qt.CheckState.Checked)
    assert saved_file(ctx)["servers"][0]["enabled"] is True


@pytest.mark.parametrize(
    ("args", "limit", "expected", "detail"),
    [
        (
            ["--crash-on-start"],
            30.0,
            "✗ t did not start: the server exited before it answered.",
            "cannot open the database",
        ),
        (["-c", "import time; time.sleep(60)"], 1.0, "✗ t did not start within 1 s.", ""),
    ],
)
def test_a_test_that_fails_says_why(
    window: Any, qtbot: Any, args: list[str], limit: float, expected: str, detail: str
) -> None:
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    editor.start_timeout = limit
    module = [] if args[0] == "-c" else ["-m", "tests.fakes.mcp_server"]
    fill_stdio(editor, "t", *module, *(f'"{a}"' for a in args))
    editor.test_button.click()
    assert finished_test(editor.tester, qtbot) == expected
    assert detail in editor.details.toPlainText()
    assert editor.test_button.isEnabled() and editor.busy.isHidden()


def test_a_command_that_is_not_there(window: Any, qtbot: Any) -> None:
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    fill_stdio(editor, "x", command="no-such-mcp-server-7")
    editor.test_button.click()
    assert finished_test(editor.tester, qtbot) == (
        "✗ x did not start: the command 'no-such-mcp-server-7' was not found; install it, or give its full path."
    )


def test_closing_the_form_stops_a_test_under_way(window: Any, qtbot: Any) -> None:
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    fill_stdio(editor, "slow", "-c", '"import time; time.sleep(60)"')
    editor.test_button.click()
    qtbot.waitUntil(lambda: editor.tester.task is not None)
    task = editor.tester.task
    QTest.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: task.done() and dialog.editor is None)
    assert task.cancelled() or task.done()


def test_an_http_server_with_a_token_kept_in_the_keyring(
    window: Any,
    ctx: AppContext,
    qtbot: Any,
    http_server: tuple[str, str],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, token = http_server
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    editor.name.setText("web")
    editor.http.setChecked(True)
    assert editor.pages.currentIndex() == 1 and editor.url.isVisible() and not editor.command.isVisible()
    assert editor.token.echoMode() == editor.token.EchoMode.Password
    editor.url.setText(url)
    editor.test_button.click()  # no token yet: the server refuses, and the window says what that means
    assert finished_test(editor.tester, qtbot) == (
        "✗ web did not start: the server answered HTTP 401 Unauthorized: its token is missing or wrong "
        "(set it when you add or edit the server)."
    )
    editor.token.setText(token)
    editor.test_button.click()
    assert finished_test(editor.tester, qtbot).startswith("✓ web started and offers ")
    assert "web/add — Add two numbers." in editor.details.toPlainText()
    QTest.keyClick(editor.url, Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: dialog.editor is None)
    assert ctx.keys.get("mcp:web") == token
    assert token not in (ctx.home / "tools.json").read_text() and token not in caplog.text
    assert saved_file(ctx)["servers"][0]["url"] == url
    # Edit: the token is never shown again; a Test uses the stored one.
    editor = open_editor(dialog, qtbot, edit=True)
    assert editor.name.isReadOnly() and editor.focusWidget() is editor.url
    assert editor.token.text() == "" and "a token is stored" in editor.token.placeholderText()
    assert editor.forget_token.isVisible()
    editor.test_button.click()
    assert finished_test(editor.tester, qtbot).startswith("✓ web started")
    # Forget it: gone from the keyring, and the server refuses again.
    editor.forget_token.setChecked(True)
    editor.save_button.click()
    qtbot.waitUntil(lambda: dialog.editor is None)
    assert ctx.keys.get("mcp:web") is None
    dialog.test_button.click()
    assert "HTTP 401" in finished_test(dialog.tester, qtbot)


@pytest.mark.parametrize(
    ("fill", "message", "focus"),
    [
        ({"name": "bad name!"}, "cannot name a tool server", "name"),
        ({"name": "t", "command": "  "}, "Type the command that starts the server", "command"),
        ({"name": "t", "command": "npx", "args": "'unclosed"}, "The arguments cannot be read", "args"),
        ({"name": "t", "command": "npx", "env": "JUSTANAME"}, "takes NAME=VALUE, not 'JUSTANAME'", "env"),
        (
            {"name": "t", "command": "npx", "cwd": "/no/such/folder"},
            "The working folder /no/such/folder",
            "cwd",
        ),
        ({"name": "t", "url": ""}, "Type the server's URL", "url"),
        ({"name": "t", "url": "ftp://example.com/mcp"}, "must start with http:// or https://", "url"),
        ({"name": "t", "url": "https://me:pw@example.com/mcp"}, "has a user name or password", "url"),
        ({"name": "t", "url": "http://example.com:99999/mcp"}, "the port is not a number", "url"),
        ({"name": "dup", "command": "npx"}, "A server named 'dup' exists already", "name"),
    ],
)
def test_the_form_says_what_is_wrong_and_saves_nothing(
    window: Any, ctx: AppContext, qtbot: Any, fill: dict[str, str], message: str, focus: str
) -> None:
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="dup", command="true"))
    before = (ctx.home / "tools.json").read_text()
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    (editor.http if "url" in fill else editor.stdio).setChecked(True)
    for field, value in fill.items():
        widget = getattr(editor, field)
        (widget.setPlainText if field == "env" else widget.setText)(value)
    editor.save_button.click()
    assert editor.isVisible(), "nothing saved: the form stays open"
    assert editor.message.text().startswith("✗ ") and message in editor.message.text()
    assert editor.focusWidget() is getattr(editor, focus)
    assert (ctx.home / "tools.json").read_text() == before


def test_edit_keeps_secrets_it_does_not_show_and_forgets_removed_ones(
    window: Any, ctx: AppContext, qtbot: Any
) -> None:
    registry = ToolRegistry.open(ctx)
    registry.add_server(
        McpServerConfig(
            name="gh", command="npx", args=["-y", "srv", "my notes"], env={"A_KEY": "k1", "B_TOKEN": "t2"}
        )
    )
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot, edit=True)
    assert editor.windowTitle() == "Edit the MCP server gh" and editor.focusWidget() is editor.command
    assert editor.args.text() == "-y srv 'my notes'"
    assert editor.env.toPlainText() == f"A_KEY={SECRET_SHOWN}\nB_TOKEN={SECRET_SHOWN}"
    assert "k1" not in editor.env.toPlainText()
    editor.env.setPlainText(f"A_KEY={SECRET_SHOWN}\nPLAIN=1")  # B_TOKEN taken out
    editor.args.setText("-y srv ~/notes")  # ~ as a shell would expand it: the server gets no shell
    editor.save_button.click()
    qtbot.waitUntil(lambda: dialog.editor is None)
    (server,) = saved_file(ctx)["servers"]
    assert (
        server["args"] == ["-y", "srv", str(Path.home() / "notes")]
        and server["env"] == {"PLAIN": "1"}
        and server["secret_env"] == ["A_KEY"]
    )
    assert ctx.keys.get("mcp:gh:env:A_KEY") == "k1", "kept as it was"
    assert ctx.keys.get("mcp:gh:env:B_TOKEN") is None, "taken out: forgotten"


def test_remove_asks_first_and_forgets_the_secrets(window: Any, ctx: AppContext, qtbot: Any) -> None:
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="gh", command="npx", env={"GH_TOKEN": "s3cret"}))
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="other", command="true"))
    dialog = open_dialog(window, qtbot)
    assert dialog.select("gh")
    dialog.remove_button.click()
    box = dialog.findChild(QMessageBox, "confirmRemoveToolServer")
    assert box is not None and "“gh”" in box.text() and "GH_TOKEN will be forgotten" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert [s["name"] for s in saved_file(ctx)["servers"]] == ["gh", "other"]
    dialog.remove_button.click()
    box = [b for b in dialog.findChildren(QMessageBox, "confirmRemoveToolServer") if b.isVisible()][-1]
    box.button(QMessageBox.StandardButton.Yes).click()
    assert [s["name"] for s in saved_file(ctx)["servers"]] == ["other"]
    assert ctx.keys.get("mcp:gh:env:GH_TOKEN") is None
    assert dialog.table.topLevelItemCount() == 1 and dialog.message.text() == "Removed gh."


def test_keyboard_tab_order_and_escape(window: Any, ctx: AppContext, qtbot: Any) -> None:
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot)
    seen = [editor.focusWidget()]
    for _ in range(9):
        QTest.keyClick(editor.focusWidget(), Qt.Key.Key_Tab)
        seen.append(editor.focusWidget())
    assert [w.objectName() for w in seen] == [
        "serverName",
        "serverStdio",
        "serverHttp",
        "serverCommand",
        "serverArgs",
        "serverEnv",  # Tab leaves the environment box (it does not type a tab)
        "serverCwd",
        "serverCwdBrowse",
        "serverTimeout",
        "serverTest",
    ]
    QTest.keyClick(editor.focusWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: dialog.editor is None)
    assert dialog.isVisible() and not (ctx.home / "tools.json").exists()
    # In the list: Space turns the server off, Enter edits it.
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="t", command="true"))
    dialog.reload()
    QTest.keyClick(dialog.table, Qt.Key.Key_Space)
    assert saved_file(ctx)["servers"][0]["enabled"] is False
    QTest.keyClick(dialog.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.editor is not None and dialog.editor.isVisible())
    assert dialog.editor.windowTitle() == "Edit the MCP server t"
    dialog.editor.reject()
    qtbot.waitUntil(lambda: dialog.editor is None)
    QTest.keyClick(dialog.table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window._tool_servers is None)


def test_the_dialogs_fit_a_small_screen(window: Any, ctx: AppContext, qtbot: Any) -> None:
    ToolRegistry.open(ctx).add_server(McpServerConfig(name="web", url="https://example.com/mcp"))
    window.resize(1024, 640)
    dialog = open_dialog(window, qtbot)
    editor = open_editor(dialog, qtbot, edit=True)
    for widget in (dialog, editor):
        hint = widget.minimumSizeHint()
        assert hint.width() <= 1024 and hint.height() <= 640, (widget.objectName(), hint)


def test_the_chat_tools_menu_opens_the_dialog(window: Any, qtbot: Any) -> None:
    tools = window.chat.tools_button
    tools.refresh()
    assert tools.manage_action.text() == "Add an MCP server…"
    tools.manage_action.trigger()
    qtbot.waitUntil(lambda: window._tool_servers is not None and window._tool_servers.isVisible())


@pytest.fixture(autouse=True)
def _no_dialog_left() -> Iterator[None]:
    yield
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QtServerEditor | QtToolServersDialog) and widget.isVisible():
            widget.reject()


def test_import_a_claude_desktop_file(window: Any, ctx: AppContext, qtbot: Any, tmp_path: Path) -> None:
    file = tmp_path / "claude_desktop_config.json"
    file.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "fs": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
                    },
                    "gh": {"command": "npx", "env": {"GITHUB_TOKEN": "ghp_imported_1"}},
                    "web": {
                        "url": "http://127.0.0.1:9/mcp",
                        "headers": {"Authorization": "Bearer tok_imp_2"},
                    },
                }
            }
        )
    )
    dialog = open_dialog(window, qtbot)
    dialog.import_file(file)
    assert dialog.message.text() == (
        "Imported 3 server(s): fs, gh, web. Kept in the keyring, not in tools.json: gh's GITHUB_TOKEN, web's token."
    )
    assert [dialog.table.topLevelItem(i).text(0) for i in range(3)] == ["fs", "gh", "web"]
    saved = (ctx.home / "tools.json").read_text()
    assert "ghp_imported_1" not in saved and "tok_imp_2" not in saved
    assert ctx.keys.get("mcp:web") == "tok_imp_2"
    # A broken file says what is wrong and adds nothing.
    file.write_text('{"mcpServers": {"x": {"args": []}}}')
    dialog.import_file(file)
    assert dialog.message.text().startswith("✗ ") and "neither command nor url" in dialog.message.text()
    assert dialog.table.topLevelItemCount() == 3


def test_closing_the_window_stops_a_test_under_way(
    window: Any, ctx: AppContext, qtbot: Any, run: Any
) -> None:
    ToolRegistry.open(ctx).add_server(
        McpServerConfig(name="slow", command=sys.executable, args=["-c", "import time; time.sleep(60)"])
    )
    dialog = open_dialog(window, qtbot)
    task = dialog.test()
    assert task is not None and dialog.busy.isVisible() and not dialog.test_button.isEnabled()
    run(window.shutdown())
    assert task.cancelled()
