"""The window against the fake servers: sync, chat streaming (Ollama and OpenAI-compatible), Stop, pull
with Cancel, a host going down, malformed replies, delete with confirmation."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop_app.core.models import ModelStatus, SourceConfig, SourceHealth, SourceKind
from desktop_app.gui.qt_model_tree import Col
from desktop_app.services.context import AppContext
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama, make_cloud_model, make_model
from tests.fakes.openai_compat import FakeOpenAIServer
from tests.gui.conftest import point_ollama, variant


@pytest.fixture
def synced(make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any) -> Any:
    """A window whose registry came from one sync of the fake Ollama."""
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    assert window.tree_model.model_count() == len(DEFAULT_MODELS)
    return window


def start_chat(window: Any, model_id: str, text: str) -> Any:
    assert window.select_model(model_id)
    window.chat_with(window.current_model())
    window.chat.input.setPlainText(text)
    before = len(window.chat.replies)
    task = window.chat.send()
    from pytestqt.qtbot import QtBot

    QtBot(window).waitUntil(lambda: len(window.chat.replies) > before or task.done(), timeout=5000)
    return task


def test_sync_fills_the_tree_and_the_status_bar(synced: Any, fake_ollama: FakeOllama) -> None:
    window = synced
    view = window.health.views["ollama"]
    assert view.health is SourceHealth.OK and view.model_count == 6
    tip = window.health.label("ollama").toolTip()
    assert "reachable" in tip and "6 models" in tip and fake_ollama.url in tip
    assert window.progress.isHidden() and window.refresh_action.isEnabled()
    assert window.tree_model.index_of("ollama/llava:7b").siblingAtColumn(Col.BADGE).data() == "LOCAL"
    assert "Synced 1 source" in window.statusBar().currentMessage()


def test_refresh_keeps_the_ui_responsive_and_disables_itself(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    point_ollama(ctx, fake_ollama.url)
    fake_ollama.delays["/api/tags"] = 0.5
    window = make_window([])
    task = window.refresh()
    qtbot.waitUntil(lambda: window.progress.isVisible())
    assert not window.refresh_action.isEnabled()
    assert window.health.views["ollama"].checking
    # The loop keeps running while the host thinks: typing in the search box works meanwhile.
    qtbot.keyClicks(window.search, "abc")
    assert window.search.text() == "abc"
    run(task)
    assert window.refresh_action.isEnabled() and window.progress.isHidden()


def test_chat_streams_from_ollama_with_thinking_and_metrics(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    fake_ollama.chunk_delay = 0.03
    task = start_chat(window, "ollama/qwen3:8b", "Why is the sky blue?")
    reply = window.chat.replies[-1]
    assert not window.chat.send_button.isEnabled() and window.chat.stop_button.isEnabled()
    # Thinking arrives first, in its own open section...
    qtbot.waitUntil(lambda: reply.think_toggle.isVisible() and reply.thinking_label.isVisible(), timeout=5000)
    # ...then the answer, a piece at a time, while the reply is still streaming.
    qtbot.waitUntil(lambda: bool(reply.content) and reply.state == "streaming", timeout=5000)
    partial = reply.content
    assert partial and partial != fake_ollama.reply_text
    qtbot.waitUntil(
        lambda: reply.content_label.text() not in ("", "…") and reply.state == "streaming", timeout=5000
    )
    run(task)
    assert reply.state == "done" and reply.content == fake_ollama.reply_text
    assert reply.thinking.strip() == fake_ollama.thinking_text.strip()
    assert not reply.thinking_label.isVisible(), "the reasoning folds away once the answer starts"
    metrics = reply.metrics_label.text()
    assert "first token" in metrics and "tokens/s" in metrics and " tokens" in metrics
    assert window.chat.send_button.isEnabled() and not window.chat.stop_button.isEnabled()
    assert [m.role for m in window.chat.history] == ["user", "assistant"]
    assert fake_ollama.last_bodies["/api/chat"]["think"] is True
    # The toggle opens the reasoning again.
    reply.think_toggle.click()
    assert reply.thinking_label.isVisible()


def test_stop_ends_the_stream_and_keeps_the_partial_reply(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    fake_ollama.chunk_delay = 0.15
    task = start_chat(window, "ollama/llama3.2:latest", "Tell me a long story")
    reply = window.chat.replies[-1]
    qtbot.waitUntil(lambda: bool(reply.content), timeout=5000)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Escape)  # Esc stops
    run(task)
    assert reply.state == "stopped" and reply.content and reply.content != fake_ollama.reply_text
    assert "Stopped" in reply.metrics_label.text()
    qtbot.waitUntil(lambda: fake_ollama.disconnects["/api/chat"] > 0, timeout=5000)
    assert window.chat.send_button.isEnabled() and not window.chat.stop_button.isEnabled()
    assert window.chat.history[-1].content == reply.content


def test_ctrl_enter_sends_with_system_prompt_and_parameters(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    assert window.select_model("ollama/llama3.2:latest")
    window.chat_with(window.current_model())
    chat = window.chat
    chat.options_toggle.setChecked(True)
    chat.system_prompt.setPlainText("Be brief.")
    chat.temperature.setValue(0.3)
    chat.seed.setValue(42)
    chat.input.setPlainText("hello")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(chat.replies) and chat.replies[-1].state == "done", timeout=5000)
    body = fake_ollama.last_bodies["/api/chat"]
    assert (
        body["messages"][0] == {"role": "system", "content": "Be brief."}
        or body["messages"][0]["content"] == "Be brief."
    )
    assert body["options"]["temperature"] == 0.3 and body["options"]["seed"] == 42
    assert "top_p" not in body["options"], "parameters left at default are not sent"


def test_image_attach_for_a_vision_model(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any, tmp_path: Any
) -> None:
    import base64

    from tests.fakes.ollama import tiny_png_base64

    window = synced
    png = tmp_path / "dot.png"
    png.write_bytes(base64.b64decode(tiny_png_base64()))
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert window.select_model("ollama/llava:7b")
    window.chat_with(window.current_model())
    window.chat.attach_images([png, bad])
    assert len(window.chat.images) == 1
    assert "notes.txt" in window.chat.notice.text()
    window.chat.input.setPlainText("What is in this picture?")
    run(window.chat.send())
    sent = fake_ollama.last_bodies["/api/chat"]["messages"][-1]
    assert sent["images"] == [tiny_png_base64()]
    assert window.chat.images == [], "attachments go with one message"


def test_chat_streams_from_an_openai_compatible_server(
    make_window: Any, ctx: AppContext, fake_openai: FakeOpenAIServer, qtbot: Any, run: Any
) -> None:
    ctx.settings.sources = [
        SourceConfig(name="remote", kind=SourceKind.OPENAI_COMPAT, base_url=fake_openai.url)
    ]
    ctx.save_settings()
    assert fake_openai.api_key
    ctx.keys.set("remote", fake_openai.api_key)
    fake_openai.reasoning = "First I consider the question carefully."
    fake_openai.chunk_delay = 0.03
    window = make_window([])
    run(window.refresh())
    assert window.health.views["remote"].health is SourceHealth.OK
    task = start_chat(window, "remote/gpt-4o-mini", "Say hello to the tests")
    reply = window.chat.replies[-1]
    qtbot.waitUntil(lambda: bool(reply.content) and reply.state == "streaming", timeout=5000)
    run(task)
    assert reply.state == "done" and reply.content == "Hello! You said: Say hello to the tests"
    assert reply.thinking.strip() == "First I consider the question carefully."
    assert "tokens/s" in reply.metrics_label.text() and "first token" in reply.metrics_label.text()

    # A revoked key: the reply says so inline, with what to do; no traceback, the window carries on.
    fake_openai.mode = "unauthorized"
    window.chat.input.setPlainText("again")
    run(window.chat.send())
    failed = window.chat.replies[-1]
    assert failed.state == "failed" and failed.error_label.isVisible()
    # In the window's own words: where to set the key here, not a terminal command.
    assert "Set a valid key for remote in Settings (Ctrl+,)" in failed.error_label.text()
    assert "modeldesk" not in failed.error_label.text()
    assert window.chat.send_button.isEnabled()


def test_a_host_going_down_greys_its_models_and_loses_nothing(
    synced: Any, fake_ollama: FakeOllama, run: Any
) -> None:
    window = synced
    assert window.select_model("ollama/qwen3:8b")
    fake_ollama.stop()
    run(window.refresh())
    view = window.health.views["ollama"]
    assert view.health is SourceHealth.DOWN
    assert "cannot connect" in window.health.label("ollama").toolTip()
    assert "dot-red" in window.health.label("ollama").text()
    assert window.tree_model.model_count() == len(DEFAULT_MODELS), "nothing is lost"
    for m in window.tree_model.models():
        assert m.status is ModelStatus.OFFLINE
        index = window.tree_model.index_of(m.id)
        assert index.data(Qt.ItemDataRole.ForegroundRole) is not None
        assert "cannot connect" in index.data(Qt.ItemDataRole.ToolTipRole)
    # The selection survived and the detail pane now says why the model cannot be used.
    assert window.current_model() is not None and window.current_model().id == "ollama/qwen3:8b"
    assert window.detail.status_note.isVisible() and not window.detail.chat_button.isEnabled()
    # Nothing answered: the status bar (and the advice above the tree) says what to do.
    assert window.error_label.text().startswith(f"Ollama is not running at {fake_ollama.url}")
    assert window.error_label.text().endswith("Models already listed are kept, greyed.")
    assert window.advice.isVisible()
    # And it comes back.
    fake_ollama.start()
    run(window.refresh())
    assert window.health.views["ollama"].health is SourceHealth.OK
    assert all(m.status is ModelStatus.AVAILABLE for m in window.tree_model.models())
    assert window.advice.isHidden()


def test_malformed_replies_become_messages_not_tracebacks(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    fake_ollama.malformed_json = "/api/tags"
    run(window.refresh())
    assert window.health.views["ollama"].health is SourceHealth.DOWN
    assert "not valid JSON" in window.health.label("ollama").toolTip()
    assert window.tree_model.model_count() == len(DEFAULT_MODELS)
    fake_ollama.malformed_json = False
    run(window.refresh())

    # A chat stream cut in the middle keeps what arrived and says what happened.
    fake_ollama.truncate_stream = "/api/chat"
    fake_ollama.midstream_after = 4
    run(start_chat(window, "ollama/llama3.2:latest", "hi"))
    reply = window.chat.replies[-1]
    assert reply.state == "failed" and reply.error_label.isVisible()
    assert reply.content, "the partial reply is kept"
    fake_ollama.truncate_stream = False
    fake_ollama.malformed_json = "/api/chat"
    run(start_chat(window, "ollama/llama3.2:latest", "hi again"))
    reply = window.chat.replies[-1]
    assert reply.state == "failed" and reply.error_label.text()


def test_pull_shows_layers_speed_eta_and_cancels(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    fake_ollama.pull_steps = 400
    fake_ollama.chunk_delay = 0.01
    window.open_pull_dialog()
    dialog = window._pull_dialog
    qtbot.waitExposed(dialog)
    assert dialog.host.currentData() == "ollama"
    dialog.name_edit.setText("phi3:mini")
    task = dialog.start()
    qtbot.waitUntil(
        lambda: any(
            0 < r.bar.value() < 1000 and "/s · ETA" in r.detail.text() for r in dialog.layers.values()
        ),
        timeout=8000,
    )
    row = next(iter(dialog.layers.values()))
    assert "/s" in row.detail.text() and " / " in row.detail.text()
    assert not dialog.pull_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    run(task)
    assert dialog.outcome == "cancelled" and "Cancelled" in dialog.status.text()
    qtbot.waitUntil(lambda: fake_ollama.disconnects["/api/pull"] > 0, timeout=5000)
    assert "phi3:mini" not in [m.name for m in window.tree_model.models()]
    assert dialog.pull_button.isEnabled()

    # A pull that finishes: the model appears in the tree.
    fake_ollama.pull_steps = 3
    fake_ollama.chunk_delay = 0.0
    with qtbot.waitSignal(window.models_reloaded, timeout=8000):
        run(dialog.start())
    assert dialog.outcome == "done"
    assert "phi3:mini" in [m.name for m in window.tree_model.models()]

    # An unknown model: the error shows in the dialog.
    dialog.name_edit.setText("no-such-model")
    run(dialog.start())
    assert dialog.outcome == "failed" and "does not exist" in dialog.status.text()


def test_delete_asks_first_and_warns_about_variants(
    synced: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    base = next(m for m in window.tree_model.models() if m.name == "llama3.2:latest")
    ctx.registry.upsert([variant("pirate-llama", base)])
    run(window.reload_models(None))
    assert window.select_model(base.id)
    qtbot.mouseClick(window.detail.delete_button, Qt.MouseButton.LeftButton)
    box = window.findChild(QMessageBox, "confirmDelete")
    assert box is not None and "pirate-llama" in box.text() and "variant" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert fake_ollama.find("llama3.2:latest") is not None
    qtbot.mouseClick(window.detail.delete_button, Qt.MouseButton.LeftButton)
    box = [b for b in window.findChildren(QMessageBox, "confirmDelete") if b.isVisible()][-1]
    with qtbot.waitSignal(window.models_reloaded, timeout=8000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert fake_ollama.find("llama3.2:latest") is None
    names = [m.name for m in window.tree_model.models()]
    assert "llama3.2:latest" not in names and "pirate-llama" in names


def test_think_level_combo_for_thinking_models(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    """Off, On or a level (gpt-oss takes levels only); shown only for models that think."""
    window = synced
    combo = window.chat.think_level
    run(start_chat(window, "ollama/qwen3:8b", "hi"))
    assert combo.isVisible() and combo.currentText() == "Think: on"
    assert fake_ollama.last_bodies["/api/chat"]["think"] is True
    for text, sent in (("Think: max", "max"), ("Think: low", "low"), ("Think: off", False)):
        combo.setCurrentIndex(combo.findText(text))
        window.chat.input.setPlainText("again")
        run(window.chat.send())
        assert fake_ollama.last_bodies["/api/chat"]["think"] == sent
    reply = window.chat.replies[-1]
    assert reply.state == "done" and not reply.thinking, "off means no thinking"
    run(start_chat(window, "ollama/llama3.2:latest", "hi"))
    assert not combo.isVisible() and "think" not in fake_ollama.last_bodies["/api/chat"]


def test_an_image_generator_offers_no_chat_and_says_why(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    fake_ollama.add_model(make_model("x/flux2-klein:latest", ["image"], "flux", "4B", "FP4", 5_700_000_000))
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    assert window.select_model("ollama/x/flux2-klein:latest")
    d = window.detail
    assert d.fields["categories"].text() == "Multimodal"
    assert (
        "image generation"
        in window.tree_model.index_of("ollama/x/flux2-klein:latest").siblingAtColumn(Col.CAPABILITIES).data()
    )
    assert not d.chat_button.isEnabled() and "generates images and cannot chat" in d.chat_button.toolTip()
    assert d.status_note.isVisible() and "generates images and cannot chat" in d.status_note.text()
    window.chat_with(window.current_model())  # Enter on the tree
    assert window.chat.model is None or window.chat.model.id != "ollama/x/flux2-klein:latest"
    assert "generates images and cannot chat" in window.error_label.text()
    assert fake_ollama.requests["/api/chat"] == 0


def test_a_cloud_model_is_remote_with_a_cloud_fact_and_no_size(
    make_window: Any, ctx: AppContext, fake_ollama: FakeOllama, run: Any
) -> None:
    fake_ollama.add_model(make_cloud_model("gpt-oss:120b-cloud"))
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    row = window.tree_model.index_of("ollama/gpt-oss:120b-cloud")
    assert row.siblingAtColumn(Col.BADGE).data() == "REMOTE"
    assert window.select_model("ollama/gpt-oss:120b-cloud")
    d = window.detail
    assert not d.fields["cloud"].isHidden() and "ollama.com" in d.fields["cloud"].text()
    assert "ollama signin" in d.fields["cloud"].text()
    assert d.fields["size"].isHidden(), "the stub's few hundred bytes are not a size on disk"
    assert d.chat_button.isEnabled()
    assert window.select_model("ollama/llama3.2:latest")
    assert d.fields["cloud"].isHidden() and not d.fields["size"].isHidden()


def test_pull_dialog_enter_pulls_without_closing_and_shows_progress_in_the_window(
    synced: Any, fake_ollama: FakeOllama, qtbot: Any, run: Any
) -> None:
    window = synced
    fake_ollama.pull_steps = 400
    fake_ollama.chunk_delay = 0.01
    window.open_pull_dialog()
    dialog = window._pull_dialog
    qtbot.waitExposed(dialog)
    assert dialog.pull_button.isDefault() and not dialog.close_button.autoDefault()
    qtbot.keyClicks(dialog.name_edit, "phi3:mini")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.busy, timeout=3000)
    assert dialog.isVisible(), "Enter starts the pull; the dialog stays open"
    # Out of sight, the pull still shows in the main window.
    dialog.hide()
    qtbot.waitUntil(lambda: window.pull_status.isVisible() and "%" in window.pull_status.text(), timeout=8000)
    assert "phi3:mini" in window.pull_status.text()
    window.pull_status.click()
    assert dialog.isVisible()
    task = dialog._task
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert task is not None and task.done()
    assert window.pull_status.isHidden()
    assert all("ETA" not in r.detail.text() and "/s" not in r.detail.text() for r in dialog.layers.values())
    assert any("cancelled" in r.detail.text() for r in dialog.layers.values())
    # The field is ready for the next name: typing replaces it.
    assert dialog.name_edit.hasSelectedText() and dialog.name_edit.selectedText() == "phi3:mini"
    qtbot.keyClicks(dialog.name_edit, "llama3.2")
    assert dialog.name_edit.text() == "llama3.2"
