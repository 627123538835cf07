"""First run with no Ollama running and no other source: the window says what to do (start or install
Ollama, or add a remote service) with Settings and Retry at hand, and the empty tree says the same."""

from __future__ import annotations

import socket
from typing import Any

from PySide6.QtCore import Qt

from desktop_app.core.enums import SourceHealth, SourceKind
from desktop_app.core.models import SourceConfig
from desktop_app.gui.labels import sync_advice
from desktop_app.gui.qt_main_window import EMPTY_WHILE_ASKING
from desktop_app.services.context import AppContext
from desktop_app.services.sync import SyncReport
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama
from tests.gui.conftest import point_ollama


def closed_port_url() -> str:
    """A 127.0.0.1 URL nothing listens on (the port was free a moment ago): connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_no_ollama_says_start_or_install_it_with_settings_and_retry(
    make_window: Any, ctx: AppContext, qtbot: Any, run: Any, fake_ollama: FakeOllama
) -> None:
    url = closed_port_url()
    point_ollama(ctx, url)
    window = make_window([])
    assert window.tree.empty_text == EMPTY_WHILE_ASKING and window.advice.isHidden()

    run(window.refresh())
    advice = window.advice_text.text()
    assert advice.startswith(f"Ollama is not running at {url} — start it")
    assert "install it" in advice and "add a remote service" in advice
    assert window.advice.isVisible()
    assert window.advice_settings.isVisible() and window.advice_retry.isEnabled()
    # The status bar and the empty tree say the same thing, not "0 of 1 sources synced" or "asking".
    assert window.error_label.text() == advice
    assert window.tree.empty_text == advice
    assert not window.tree.grab().isNull()  # the empty state paints

    qtbot.mouseClick(window.advice_settings, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window._settings_dialog is not None and window._settings_dialog.isVisible())
    window._settings_dialog.reject()

    with qtbot.waitSignal(window.sync_finished, timeout=10_000) as finished:
        qtbot.mouseClick(window.advice_retry, Qt.MouseButton.LeftButton)
    assert [r.health for r in finished.args[0]] == [SourceHealth.DOWN]
    assert window.advice.isVisible()

    # Ollama started (here: the source now points at a running one): Retry fills the tree, the advice goes.
    point_ollama(ctx, fake_ollama.url)
    with qtbot.waitSignal(window.sync_finished, timeout=10_000):
        qtbot.mouseClick(window.advice_retry, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.tree_model.model_count() == len(DEFAULT_MODELS))
    assert window.advice.isHidden() and window.error_label.isHidden()
    assert "Synced 1 source" in window.statusBar().currentMessage()


def test_no_source_at_all_points_to_settings(make_window: Any, run: Any) -> None:
    window = make_window([])
    run(window.refresh())
    assert window.advice.isVisible()
    assert (
        window.advice_text.text()
        == "No source is set up: add an Ollama host or a remote service in Settings."
    )
    assert window.tree.empty_text == window.advice_text.text()


def _report(source: str, health: SourceHealth, message: str = "", unreachable: bool = False) -> SyncReport:
    return SyncReport(source=source, health=health, message=message, unreachable=unreachable)


def test_advice_names_each_source_and_never_a_password() -> None:
    local = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url="http://localhost:11434")
    box = SourceConfig(name="gpu-box", kind=SourceKind.OLLAMA, base_url="http://10.0.0.5:11434")
    work = SourceConfig(
        name="work", kind=SourceKind.OPENAI_COMPAT, base_url="https://bob:s3cret@ai.example/v1"
    )
    down = _report("ollama", SourceHealth.DOWN, "cannot connect to localhost:11434.", unreachable=True)

    assert sync_advice([down], [local]) == (
        "Ollama is not running at http://localhost:11434 — start it (ollama serve) or install it "
        "(ollama.com), or add a remote service in Settings."
    )
    # Any source that synced: no advice (the status bar reports the others as before).
    assert sync_advice([down, _report("work", SourceHealth.OK)], [local, work]) is None

    text = sync_advice(
        [
            _report("gpu-box", SourceHealth.DOWN, "cannot connect to 10.0.0.5:11434.", unreachable=True),
            _report("work", SourceHealth.DOWN, "ai.example did not answer in time."),
        ],
        [box, work],
    )
    assert text is not None
    assert "Ollama at http://10.0.0.5:11434 cannot be reached" in text
    assert "work at https://ai.example/v1 is not reachable: ai.example did not answer in time" in text
    assert "s3cret" not in text and "bob" not in text

    # An Ollama that answers wrongly is not "not running": its own message is shown.
    broken = _report("ollama", SourceHealth.DOWN, "/api/tags is not valid JSON (starts with '<html>').")
    assert "not running" not in (sync_advice([broken], [local]) or "")
    assert "not valid JSON" in (sync_advice([broken], [local]) or "")
