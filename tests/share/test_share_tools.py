"""Tools in the share app's chat: only what the owner named with ``--tools``, each call run without
asking (nobody is at the owner's desk to approve), shown to the visitor as a collapsed "🛠 name(args)"
message with its result; errors and timeouts as plain messages; nothing sent when tools are off or the
model cannot call tools; an MCP server's secret (from the keyring) never in the page, the API, what the
model is sent, or the logs.

The app is a real ``modeldesk share --public --tools …`` subprocess over the session's fake Ollama,
driven with gradio_client; the model is the fake's scripted function-calling model
(tests/fakes/tool_script.py), the MCP server the SDK-built one (tests/fakes/mcp_server.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client

from desktop_app.core.errors import InvalidInput
from desktop_app.share.context import ShareContext
from desktop_app.share.tools import HIDDEN, ShareTools, parse_share_tools
from desktop_app.store.tools_config import ToolsConfigStore
from tests.fakes.tool_script import ToolScript
from tests.share.conftest import ROOT, ShareApp, ShareWorld, start_share
from tests.share.test_share_browser import SHOTS

USER = "modeldesk"
MCP_SECRET = "mcp-env-secret-" + secrets.token_hex(8)
SHARED = ["builtin", "testmcp/add", "testmcp/env", "testmcp/hang"]
OFFERED = {"calculator", "current_time", "convert_units", "testmcp__add", "testmcp__env", "testmcp__hang"}


@pytest.fixture(scope="module")
def tools_app(share_world: ShareWorld) -> Iterator[ShareApp]:
    """The share app with the built-ins and three of the test MCP server's seven tools, public (so a
    login is needed, and the startup message must say what visitors can make run)."""
    added = share_world.cli(
        "tools",
        "add",
        "testmcp",
        "--env",
        f"PYTHONPATH={ROOT}",
        "--env",
        f"MCP_API_TOKEN={MCP_SECRET}",  # key-like: goes to the keyring, the server gets it in its env
        "--timeout",
        "3",
        "--",
        sys.executable,
        "-m",
        "tests.fakes.mcp_server",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert MCP_SECRET not in (share_world.home / "tools.json").read_text(encoding="utf-8")
    app = start_share(
        share_world,
        "--public",
        "--password-file",
        str(share_world.password_file),
        "--tools",
        ",".join(SHARED),
        name="tools",
    )
    yield app
    group = app.proc.pid
    assert app.stop() == 0, app.output()
    share_world.cli("tools", "rm", "testmcp")
    assert "Traceback" not in app.output()
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # the MCP server the chats started was stopped with the app


@pytest.fixture
def scripted(share_world: ShareWorld) -> Iterator[Any]:
    """Set the fake's scripted model for one test (the fake is shared by the session)."""

    def use(*rounds: list[tuple[str, dict[str, Any]]]) -> ToolScript:
        share_world.ollama.tool_script = ToolScript(rounds=list(rounds))
        return share_world.ollama.tool_script

    try:
        yield use
    finally:
        share_world.ollama.tool_script = None


def client(app: ShareApp) -> Client:
    auth = (USER, app.password) if app.password else None
    return Client(app.url, auth=auth, verbose=False, download_files=False)


def chat(c: Client, model: str, text: str) -> list[dict[str, Any]]:
    """The conversation as the chatbot shows it once the reply is complete."""
    job = c.submit({"text": text, "files": []}, model, "off", "", None, None, None, None, api_name="/chat")
    job.result()
    return list(job.outputs()[-1][0])


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    parts = content if isinstance(content, list) else [content]
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in parts)


def tool_messages(history: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(title, status, text) of each "🛠" message."""
    out = []
    for m in history:
        meta = m.get("metadata") or {}
        if str(meta.get("title", "")).startswith("🛠"):
            out.append((meta["title"], meta.get("status", ""), text_of(m)))
    return out


def offered(share_world: ShareWorld) -> set[str] | None:
    """The tool names the last chat request to the fake offered (None: no ``tools`` at all)."""
    body = share_world.ollama.last_bodies["/api/chat"]
    if "tools" not in body:
        return None
    return {t["function"]["name"] for t in body["tools"]}


# ----------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_the_startup_message_says_which_tools_visitors_can_make_run(tools_app: ShareApp) -> None:
    line = tools_app.value("Tools: ")
    assert line is not None, tools_app.lines
    named = line.split(" — ", 1)[0].split(", ")
    assert named == [
        "calculator",
        "current_time",
        "convert_units",
        "testmcp/add",
        "testmcp/env",
        "testmcp/hang",
    ]
    assert "without asking" in line


@pytest.mark.slow
def test_a_calculator_call_reaches_the_model_and_the_visitor_sees_it(
    tools_app: ShareApp, share_world: ShareWorld, scripted: Any
) -> None:
    script = scripted([("calculator", {"expression": "2^31*3"})])
    history = chat(client(tools_app), "ollama/qwen3:8b", "What is 2^31 times 3?")
    # Offered: the named tools only. The server's other tools (echo, fail, big, crash) would need
    # someone to approve them, and are never offered.
    assert offered(share_world) == OFFERED
    # The result went back to the model, as a tool message…
    assert {"role": "tool", "content": "6442450944"}.items() <= script.seen[-1][-1].items()
    # …and the visitor sees the call, collapsed once done, with its result inside, then the answer.
    assert tool_messages(history) == [('🛠 calculator(expression="2^31*3")', "done", "6442450944")]
    assert history[-1]["role"] == "assistant" and "6442450944" in text_of(history[-1])
    assert not (history[-1].get("metadata") or {}).get("title")
    assert text_of(history[0]) == "What is 2^31 times 3?"


@pytest.mark.slow
def test_an_mcp_tool_runs_and_its_secret_never_reaches_the_visitor_the_model_or_the_logs(
    tools_app: ShareApp, share_world: ShareWorld, scripted: Any
) -> None:
    script = scripted([("testmcp__env", {"name": "MCP_API_TOKEN"}), ("testmcp__add", {"a": 2, "b": 3})])
    c = client(tools_app)
    history = chat(c, "ollama/qwen3:8b", "Add 2 and 3, and tell me your token")
    shown = tool_messages(history)
    assert shown == [
        ('🛠 testmcp/env(name="MCP_API_TOKEN")', "done", HIDDEN),  # the server did hand it out
        ("🛠 testmcp/add(a=2, b=3)", "done", "5"),
    ]
    seen: list[Any] = [history, script.seen, c.view_api(print_info=False, return_format="dict")]
    with httpx.Client(base_url=tools_app.url, timeout=10) as http:
        assert http.post("/login", data={"username": USER, "password": tools_app.password}).status_code == 200
        for path in ("/", "/config", "/gradio_api/info"):
            response = http.get(path)
            assert response.status_code == 200, path
            seen.append(response.text)
    blob = json.dumps(seen, default=str)
    assert "MCP_API_TOKEN" in blob and MCP_SECRET not in blob
    assert MCP_SECRET not in tools_app.output()


@pytest.mark.slow
def test_errors_and_timeouts_are_plain_messages(
    tools_app: ShareApp, share_world: ShareWorld, scripted: Any
) -> None:
    scripted([("calculator", {"expression": "1/0"}), ("testmcp__hang", {})])
    history = chat(client(tools_app), "ollama/qwen3:8b", "Divide by zero, then wait forever")
    titles = [t[0] for t in tool_messages(history)]
    assert titles == ['🛠 calculator(expression="1/0")', "🛠 testmcp/hang()"]
    plain = [text_of(m) for m in history if m["role"] == "assistant" and not m.get("metadata")]
    warnings = [t for t in plain if t.startswith("⚠")]
    assert len(warnings) == 2, plain
    assert warnings[0].startswith("⚠ calculator: ") and "zero" in warnings[0]
    assert warnings[1].startswith("⚠ testmcp/hang: ") and "did not answer within 3 s" in warnings[1]
    assert all("stderr" not in t for t in plain)  # the server's stderr tail stays with the owner
    assert history[-1]["role"] == "assistant" and "Here is what the tools said" in text_of(history[-1])


@pytest.mark.slow
def test_a_model_without_function_calling_just_chats(
    tools_app: ShareApp, share_world: ShareWorld, scripted: Any
) -> None:
    scripted([("calculator", {"expression": "1+1"})])
    history = chat(client(tools_app), "ollama/llava:7b", "Hello")
    assert offered(share_world) is None  # a model without the tools capability is sent none
    assert tool_messages(history) == [] and text_of(history[-1])


@pytest.mark.slow
def test_a_public_app_without_tools_says_none_run(public_app: ShareApp) -> None:
    line = public_app.value("Tools: ")
    assert line is not None and line.startswith("none") and "--tools" in line


@pytest.mark.slow
def test_with_tools_off_no_tools_are_sent(
    local_app: ShareApp, share_world: ShareWorld, scripted: Any
) -> None:
    assert local_app.value("Tools: ") is None
    scripted([("calculator", {"expression": "2^31*3"})])
    history = chat(client(local_app), "ollama/qwen3:8b", "What is 2^31 times 3?")
    assert offered(share_world) is None
    assert tool_messages(history) == [] and "nothing" in text_of(history[-1])  # no tool result reached it


# ----------------------------------------------------------------------------------------- what may be shared
def test_every_server_at_once_is_refused() -> None:
    for value in ("*", "all", "calculator,*", "*/*"):
        with pytest.raises(InvalidInput, match="every tool server"):
            parse_share_tools(value)
    with pytest.raises(InvalidInput, match="needs tool names"):
        parse_share_tools(" , ")
    assert parse_share_tools("builtin, fs/read_file") == ["builtin", "fs/read_file"]


def test_builtin_means_the_built_in_tools_that_are_on_and_never_a_servers() -> None:
    ctx = ShareContext.open()
    try:
        from desktop_app.core.tools import McpServerConfig

        store = ToolsConfigStore(ctx.home / "tools.json", ctx.keys)
        # A configured server (never started: it is not named) and a built-in turned off.
        store.add(McpServerConfig(name="fs", command="/nonexistent/never-started"))
        store.update(lambda c: setattr(c, "disabled_tools", ["convert_units"]))
        assert ShareTools.resolve(ctx, ["builtin"]).names == ["calculator", "current_time"]
        with pytest.raises(InvalidInput, match="No tool matches 'convert_units'"):
            ShareTools.resolve(ctx, ["convert_units"])
        with pytest.raises(InvalidInput, match="No tool matches 'clock'"):
            ShareTools.resolve(ctx, ["clock"])
    finally:
        ctx.close()


# ----------------------------------------------------------------------------------------- in a browser
UNFOLDED = """() => {
  const shown = [...document.querySelectorAll('#md-chatbot .content p')]
    .filter((p) => p.innerText.trim() === '6442450944');
  if (!shown.length) return false;
  const box = shown[0].getBoundingClientRect();
  const next = shown[0].closest('.message')?.nextElementSibling;
  return box.height > 0 && (!next || box.bottom <= next.getBoundingClientRect().top);
}"""


@pytest.mark.slow
def test_chromium_shows_the_call_collapsed_with_its_result(
    browser: Any, tools_app: ShareApp, share_world: ShareWorld, scripted: Any, tmp_path: Any
) -> None:
    scripted([("calculator", {"expression": "2^31*3"})])
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    login = page.request.post(
        tools_app.url.rstrip("/") + "/login", form={"username": USER, "password": tools_app.password or ""}
    )
    assert login.ok  # the cookie is the browser context's, as after the login form
    page.goto(tools_app.url)
    page.get_by_role("tab", name="Chat").click()
    assert "calculator" in page.locator("#md-tools").inner_text()  # the visitor is told what may run
    page.locator("#md-chat-model input").click()
    page.get_by_role("option", name="qwen3:8b", exact=False).first.click()
    box = page.locator("#md-message textarea")
    box.fill("What is 2^31 times 3?")
    box.press("Enter")
    page.wait_for_function(
        "() => { const m = document.querySelector('#md-metrics'); return m && m.innerText.includes('tokens/s'); }"
    )
    chat_text = page.locator("#md-chatbot").inner_text()
    assert '🛠 calculator(expression="2^31*3")' in chat_text
    assert "Here is what the tools said: 6442450944" in chat_text
    assert chat_text.count("6442450944") == 1  # the call is collapsed: its result is inside, hidden
    page.locator("#md-chatbot").get_by_text("calculator(expression", exact=False).click()
    page.wait_for_function(UNFOLDED)  # the result, below its call, once the unfolding has ended
    page.screenshot(path=str(tmp_path / "share-tools.png"))
    assert MCP_SECRET not in page.content()
    if SHOTS:
        folder = ROOT / SHOTS
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "share-tools.png", folder / "share-tools.png")
    context.close()
