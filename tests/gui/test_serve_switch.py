"""The status bar's Serve switch runs `modeldesk serve` as a child: on shows the URL (copyable) once
it answers; off, or the window closing, stops it; a failure says why. Settings shows the snippet."""

from __future__ import annotations

import os
import socket
from typing import Any

import httpx
from PySide6.QtGui import QGuiApplication

from desktop_app.services.context import AppContext
from tests.gui.conftest import hand_made_models


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_switch_serves_the_registry_and_stops_with_the_window(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    ctx.registry.upsert(hand_made_models())
    window = make_window()
    switch = window.serve_switch
    switch.port = 0  # any free port (the real default is 8765)
    switch.toggle.click()
    assert switch.state == "starting"
    qtbot.waitUntil(lambda: switch.state in ("on", "failed"), timeout=30_000)
    assert switch.state == "on", switch.toggle.toolTip()
    url = switch.url
    assert url and url.startswith("http://127.0.0.1:") and switch.url_label.text() == url
    ids = {m["id"] for m in httpx.get(f"{url}/models", timeout=10).json()["data"]}
    assert "ollama/llama3.2:latest" in ids and "experimental/pirate-llama" in ids
    assert not any(i.startswith("openrouter/") for i in ids)  # remote models need --allow-remote
    switch.copy_button.click()
    assert QGuiApplication.clipboard().text() == url
    pid = switch.process.processId()
    assert os.getpgid(pid) == pid  # its own process group (a new session)
    # Off stops it; on again starts a fresh one; closing the window stops that one too.
    switch.toggle.click()
    qtbot.waitUntil(lambda: switch.state == "off", timeout=10_000)
    assert not _alive(pid) and not switch.copy_button.isVisible()
    switch.toggle.click()
    qtbot.waitUntil(lambda: switch.state == "on", timeout=30_000)
    pid = switch.process.processId()
    window.close()
    assert not _alive(pid)


def test_busy_port_fails_with_the_reason(make_window: Any, ctx: AppContext, qtbot: Any) -> None:
    window = make_window([])
    switch = window.serve_switch
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        switch.port = taken.getsockname()[1]
        switch.toggle.click()
        qtbot.waitUntil(lambda: switch.state == "failed", timeout=30_000)
    assert not switch.toggle.isChecked()
    assert "already in use" in switch.toggle.toolTip()
    assert (
        "already in use" in window.error_label.text()
        or "already in use" in window.statusBar().currentMessage()
    )


def test_settings_show_the_snippet(make_window: Any, ctx: AppContext) -> None:
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    text = dialog.findChild(object, "serveSnippetText").toPlainText()  # type: ignore[arg-type]
    assert 'OpenAI(base_url="http://127.0.0.1:8765/v1"' in text
    dialog.findChild(object, "serveSnippetCopy").click()  # type: ignore[arg-type]
    assert QGuiApplication.clipboard().text() == text
    dialog.reject()
