"""The Share button: starts `modeldesk share` as a child in its own process group, shows what it says,
and closing the window stops it and everything it started."""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.gui.qt_share_dialog import QtShareDialog, QtShareProcess, ShareState
from desktop_app.services.context import AppContext
from tests.fakes.ollama import FakeOllama
from tests.gui.conftest import point_ollama


@pytest.mark.slow
def test_share_button_serves_the_registry_and_closing_the_window_stops_it(
    make_window: Any, qtbot: Any, ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    loaded_before = "gradio" in sys.modules  # (another test may have); the window must not load it
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    window.share_action.trigger()
    dialog = window._share_dialog
    assert isinstance(dialog, QtShareDialog) and dialog.isVisible()
    assert dialog.state_label.text() == "Not shared."
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    process = window.share_process
    assert process.state is ShareState.STARTING and not dialog.public_box.isEnabled()
    qtbot.waitUntil(lambda: process.state in (ShareState.RUNNING, ShareState.FAILED), timeout=90_000)
    assert process.state is ShareState.RUNNING, process.error
    url = dialog.local_row.edit.text()
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(url.rstrip("/") + "/config", timeout=10).status_code == 200  # local: no login
    assert dialog.password_row.edit.text() == "" and dialog.public_row.edit.text() == ""
    qtbot.mouseClick(dialog.local_row.copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == url
    assert dialog.start_button.text() == "Stop sharing"
    assert ("gradio" in sys.modules) == loaded_before
    group = process._pid
    window.close()
    assert process.state is ShareState.STOPPED and process.process is None
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # nothing of the group is left
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, timeout=2)


def test_dialog_shows_the_public_link_or_why_there_is_none_and_the_password(qtbot: Any) -> None:
    process = QtShareProcess()
    dialog = QtShareDialog(process)
    qtbot.addWidget(dialog)
    process.state = ShareState.STARTING
    for line in (
        "Local URL: http://127.0.0.1:7860/",
        "Login: modeldesk / s3cret-pass",
        "No public link: this computer cannot reach Gradio's share service.",
        "Press Ctrl-C to stop.",
    ):
        process._line(line)
    assert process.state is ShareState.RUNNING
    assert dialog.local_row.edit.text() == "http://127.0.0.1:7860/"
    assert dialog.password_row.edit.text() == "modeldesk / s3cret-pass" and process.password == "s3cret-pass"
    assert dialog.public_row.edit.text() == "" and not dialog.public_row.copy.isEnabled()
    assert "cannot reach" in dialog.public_note.text()
    process._line("Public URL: https://abc.gradio.live")
    assert dialog.public_row.edit.text() == "https://abc.gradio.live" and dialog.public_row.open is not None
    assert dialog.public_row.open.isEnabled()
    assert "public link and the password" in dialog.state_label.text()


def test_the_tools_box_starts_the_app_with_the_built_in_tools_and_shows_what_visitors_can_run(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.gui.qt_share_dialog import share_command

    assert "--tools" not in share_command(public=True, allow_remote=True)
    assert share_command(public=False, allow_remote=False, tools=True)[-1] == "--tools"  # bare: built-ins
    process = QtShareProcess()
    started: list[dict[str, bool]] = []
    monkeypatch.setattr(process, "start", lambda **kw: started.append(kw))
    dialog = QtShareDialog(process)
    qtbot.addWidget(dialog)
    assert not dialog.tools_box.isChecked()  # off unless the owner ticks it
    dialog.tools_box.setChecked(True)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert started == [{"public": False, "allow_remote": False, "tools": True}]
    process.state = ShareState.STARTING
    for line in (
        "Local URL: http://127.0.0.1:7860/",
        "Tools: calculator, current_time, convert_units — any visitor's function-calling model may run these",
        "Press Ctrl-C to stop.",
    ):
        process._line(line)
    assert dialog.tools_label.text().startswith("calculator, current_time, convert_units")
    assert not dialog.tools_box.isEnabled()  # fixed while the app runs
