"""Render the tool-calling screenshots against the fake Ollama: ``python -m desktop_app.gui.screenshot_tools DIR``.

A function-calling model (the fake, scripted) answers "what is 2^31 times 3, and what time is it in Tokyo"
by calling the built-in calculator and clock: ``tools-approval.png`` is the screen while the approval
dialog asks, ``tools.png`` the finished reply with both calls and one result unfolded. Then the test MCP
server (``tests/fakes/mcp_server.py``, added as a user would add one) is called: ``tools-mcp.png``; the MCP
servers dialog with it tested (``tools-servers.png``) and its form (``tools-server-form.png``). Run it
from the repository root (it imports ``tests.fakes``); ``make screenshots`` runs it under Xvfb.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

QUESTION = "what is 2^31 times 3, and what time is it in Tokyo"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="modeldesk-shots-"))
    os.environ["MODELDESK_HOME"] = str(home)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the user's keyring
    os.environ.pop("OLLAMA_HOST", None)
    sys.path.insert(0, str(Path.cwd()))

    import qasync
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.core.tools import McpServerConfig
    from desktop_app.gui import icons
    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.qt_tools import QtApprovalDialog, QtToolCallWidget
    from desktop_app.gui.screenshots import _save, _until
    from desktop_app.gui.theme import apply_theme
    from desktop_app.services.context import AppContext
    from desktop_app.services.tools import ToolRegistry
    from tests.fakes.ollama import FakeOllama
    from tests.fakes.tool_script import ToolScript

    class Assistant(ToolScript):
        """Calls the tools the question needs, then answers from their results in a sentence."""

        def plan(self, messages: list[Any], tools: list[Any] | None) -> tuple[list[Any], str]:
            calls, _ = super().plan(messages, tools)
            if calls:
                return calls, ""
            results: list[str] = []
            for m in messages:
                if isinstance(m, dict) and m.get("role") == "user":
                    results = []
                elif isinstance(m, dict) and m.get("role") == "tool":
                    results.append(str(m.get("content", "")))
            if len(results) >= 2:
                product = int(results[-2])
                clock = results[-1].split(" (")[0]
                return [], (
                    f"2^31 × 3 = **{product:,}** (2^31 is 2,147,483,648). In Tokyo it is now **{clock}**."
                )
            return [], f"The server says **{results[-1] if results else '?'}**: 2 + 40 = 42."

    ollama = FakeOllama().start()
    ollama.chunk_delay = 0.01
    ollama.thinking_text = (
        "Two things: an exact product, 2^31 × 3, and the current time in Tokyo. The calculator gives the "
        "first exactly; current_time with Asia/Tokyo gives the second."
    )
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setWindowIcon(icons.app_icon())
    apply_theme(app, "light")

    ctx = AppContext.open()
    ctx.settings.sources = [SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=ollama.url)]
    ctx.save_settings()
    # "python" as a user would type it (this interpreter's folder first on PATH: it has the mcp SDK).
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    ToolRegistry.open(ctx).add_server(
        McpServerConfig(
            name="demo", command="python", args=["-m", "tests.fakes.mcp_server"], cwd=str(Path.cwd())
        )
    )

    window = QtMainWindow(ctx)
    window.resize(1560, 920)
    window.splitter.setSizes([520, 340, 700])

    def approval() -> Any:
        return next(
            (w for w in app.topLevelWidgets() if isinstance(w, QtApprovalDialog) and w.isVisible()), None
        )

    async def shoot() -> None:
        window.show()
        await _until(lambda: window.first_paint_done)
        await window.refresh()
        window.tree.expandAll()
        window.select_model("ollama/qwen3:8b")
        model = window.current_model()
        assert model is not None
        window.chat_with(model)
        tools = window.chat.tools_button
        tools.refresh()
        tools.choose("calculator", True)
        tools.choose("current_time", True)
        ollama.tool_script = Assistant(
            rounds=[
                [("calculator", {"expression": "2^31 * 3"}), ("current_time", {"timezone": "Asia/Tokyo"})]
            ]
        )
        window.chat.input.setPlainText(QUESTION)
        task = asyncio.ensure_future(window.chat.send())
        await _until(lambda: approval() is not None)
        dialog = approval()
        await asyncio.sleep(0.3)
        screen = app.primaryScreen()
        shot = screen.grabWindow(0).copy(window.frameGeometry())
        shot.save(str(out / "tools-approval.png"))
        print(f"wrote {out / 'tools-approval.png'}")
        dialog.always.click()
        await _until(lambda: approval() is not None)
        approval().once.click()
        await task
        reply = window.chat.replies[-1]
        for widget in reply.findChildren(QtToolCallWidget):
            widget.result_toggle.setChecked(True)
        await asyncio.sleep(0.3)
        _save(window, out / "tools.png")

        # A tool from an MCP server the user added (`modeldesk tools add demo -- …`).
        tools.refresh()
        tools.choose("calculator", False)
        tools.choose("current_time", False)
        tools.choose("demo/*", True)
        ollama.tool_script = Assistant(rounds=[[("demo__add", {"a": 2, "b": 40})]])
        window.chat.input.setPlainText("Ask the demo server to add 2 and 40.")
        task = asyncio.ensure_future(window.chat.send())
        await _until(lambda: approval() is not None, timeout=30)
        approval().once.click()
        await task
        for widget in window.chat.replies[-1].findChildren(QtToolCallWidget):
            widget.result_toggle.setChecked(True)
        await asyncio.sleep(0.3)
        _save(window, out / "tools-mcp.png")

        # The MCP servers dialog (the toolbar's Tools): the demo server tested, its tools listed; then
        # its form, tested as typed.
        window.open_tool_servers()
        servers = window._tool_servers
        servers.select("demo")
        await servers.test()
        await asyncio.sleep(0.3)
        screen.grabWindow(0).copy(window.frameGeometry()).save(str(out / "tools-servers.png"))
        print(f"wrote {out / 'tools-servers.png'}")
        servers.edit()
        form = servers.editor
        form.env.setPlainText("LOG_LEVEL=info")
        await form.test()
        await asyncio.sleep(0.3)
        screen.grabWindow(0).copy(window.frameGeometry()).save(str(out / "tools-server-form.png"))
        print(f"wrote {out / 'tools-server-form.png'}")
        form.reject()
        servers.reject()
        window.close()

    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(shoot())
            runner.run(window.shutdown())
            runner.run(ctx.aclose())
    finally:
        ctx.close()
        ollama.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
