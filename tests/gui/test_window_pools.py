"""Pools in the window: a model on several Ollama hosts (same name, same digest) shows a Pool fact in
the detail pane, "Chat with the pool" streams from one of its hosts under the pool id, and turning
pooling off in Settings removes the fact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from tests.fakes.ollama import FakeOllama, make_model

NAMES = ("gpu-a", "gpu-b", "ollama")
POOL = "pool/llama3.2:latest"


@pytest.fixture
def hosts() -> Iterator[dict[str, FakeOllama]]:
    fakes = {name: FakeOllama().start() for name in NAMES}
    # Only gpu-a serves this one: it is on one host, so in no pool.
    fakes["gpu-a"].add_model(make_model("solo:7b", digest="a" * 64))
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture
def window(make_window: Any, ctx: AppContext, hosts: dict[str, FakeOllama], run: Any) -> Any:
    ctx.settings.sources = [
        SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=fake.url) for name, fake in hosts.items()
    ]
    ctx.save_settings()
    w = make_window([])
    run(w.refresh())
    return w


def shown(window: Any, model_id: str) -> Any:
    assert window.select_model(model_id), model_id
    assert window.detail.model is not None and window.detail.model.id == model_id
    return window.detail


def test_a_pooled_model_shows_its_pool_and_an_unpooled_one_does_not(window: Any) -> None:
    pane = shown(window, "gpu-b/llama3.2:latest")
    assert pane.fields["pool"].text() == f"{POOL} · 3 hosts (gpu-a, gpu-b, ollama)"
    assert not pane.fields["pool"].isHidden() and not pane.pool_button.isHidden()
    pane = shown(window, "gpu-a/solo:7b")
    assert pane.fields["pool"].isHidden() and pane.pool_button.isHidden()


def test_weights_other_than_one_are_shown(window: Any, ctx: AppContext, run: Any) -> None:
    def weigh(settings: Any) -> None:
        settings.sources[0].options["weight"] = 2
        settings.sources[2].options["weight"] = 0  # out of the pool

    ctx.update_settings(weigh)
    run(window.refresh_pools())
    pane = shown(window, "gpu-a/llama3.2:latest")
    assert pane.fields["pool"].text() == f"{POOL} · 2 hosts (gpu-a ×2, gpu-b ×1)"


def test_chat_with_the_pool_streams_from_one_of_its_hosts(
    window: Any, hosts: dict[str, FakeOllama], run: Any
) -> None:
    for fake in hosts.values():
        fake.reset_counters()
    pane = shown(window, "ollama/llama3.2:latest")
    pane.pool_button.click()
    assert window.chat.model is not None and window.chat.model.id == POOL
    assert window.chat.title.text() == POOL
    assert "this model's pool" in pane.chat_note.text()
    window.chat.input.setPlainText("Why is the sky blue?")
    run(window.chat.send())
    reply = window.chat.replies[-1]
    assert reply.state == "done" and reply.content == hosts["gpu-a"].reply_text
    assert sum(fake.requests["/api/chat"] for fake in hosts.values()) == 1


def test_turning_pooling_off_in_settings_removes_the_fact(window: Any, ctx: AppContext, qtbot: Any) -> None:
    pane = shown(window, "gpu-a/llama3.2:latest")
    assert not pane.fields["pool"].isHidden()
    window.open_settings()
    dialog = window._settings_dialog
    assert dialog.pooling.isChecked()
    dialog.pooling.setChecked(False)
    dialog.accept()
    assert ctx.settings.preferences.pooling is False
    qtbot.waitUntil(lambda: pane.fields["pool"].isHidden() and pane.pool_button.isHidden())


def test_a_hosts_pool_weight_is_set_in_settings(window: Any, ctx: AppContext, qtbot: Any) -> None:
    from desktop_app.core.pools import weight_of

    window.open_settings()
    dialog = window._settings_dialog
    dialog.select_source("gpu-b")
    assert dialog.weight.isEnabled() and dialog.weight.value() == 1
    dialog.weight.setValue(3)
    assert weight_of(ctx.settings.source("gpu-b").options) == 3
    dialog.accept()
    pane = shown(window, "gpu-a/llama3.2:latest")
    qtbot.waitUntil(lambda: "gpu-b ×3" in pane.fields["pool"].text())


def test_a_pool_reply_names_the_host_that_answered_and_keeps_it(
    window: Any, hosts: dict[str, FakeOllama], ctx: AppContext, run: Any
) -> None:
    from desktop_app.store.conversations import ConversationStore

    for fake in hosts.values():
        fake.reset_counters()
    shown(window, "ollama/llama3.2:latest").pool_button.click()
    window.chat.input.setPlainText("Why is the sky blue?")
    run(window.chat.send())
    (answered,) = [name for name, fake in hosts.items() if fake.requests["/api/chat"]]
    reply = window.chat.replies[-1]
    assert reply.state == "done" and reply.answered_by == f"{answered}/llama3.2:latest"
    footer = reply.metrics_label.text()
    assert footer.startswith("first token ") and footer.endswith(f" · via {answered}")
    assert f"{answered}/llama3.2:latest" in reply.metrics_label.toolTip()
    assert window.statusBar().currentMessage().startswith(f"llama3.2:latest answered via {answered} in ")
    # Kept with the conversation: reopened, the reply still says which host answered.
    session = window.chat.session
    assert session is not None
    saved = ConversationStore(ctx.home / "conversations").load(session.conversation.id)
    assert saved.turns[-1].answered_by == f"{answered}/llama3.2:latest"
    assert f"via {answered}" in saved.to_markdown()
    window.chat.new_chat()
    window.chat.open_conversation(saved, window.chat.model)
    assert window.chat.replies[-1].metrics_label.text().endswith(f" · via {answered}")


def test_a_reply_from_one_host_names_no_host(window: Any, run: Any) -> None:
    window.chat_with(shown(window, "gpu-b/llama3.2:latest").model)
    window.chat.input.setPlainText("Why is the sky blue?")
    run(window.chat.send())
    reply = window.chat.replies[-1]
    assert reply.state == "done" and reply.answered_by is None
    assert "via" not in reply.metrics_label.text() and reply.metrics_label.text().startswith("first token")


def test_a_pool_reply_that_called_a_tool_names_its_host_too(
    window: Any, hosts: dict[str, FakeOllama], qtbot: Any, run: Any
) -> None:
    from tests.fakes.tool_script import ToolScript
    from tests.gui.test_tools_chat import _dialog

    for fake in hosts.values():
        fake.reset_counters()
        fake.tool_script = ToolScript(rounds=[[("calculator", {"expression": "6*7"})]])
    shown(window, "gpu-a/llama3.2:latest").pool_button.click()
    tools = window.chat.tools_button
    tools.refresh()
    tools.choose("calculator", True)
    window.chat.input.setPlainText("6*7?")
    task = window.chat.send()
    qtbot.waitUntil(lambda: _dialog() is not None, timeout=10000)
    dialog = _dialog()
    assert dialog is not None
    dialog.once.click()
    run(task)
    reply = window.chat.replies[-1]
    assert reply.state == "done" and reply.answered_by is not None
    host = reply.answered_by.split("/", 1)[0]
    assert hosts[host].requests["/api/chat"] >= 1
    assert reply.metrics_label.text().endswith(f" · via {host}")
