"""Pools in the window: a model on several Ollama hosts (same name, same digest) shows a Pool fact in
the detail pane, "Chat with the pool" streams from one of its hosts under the pool id, and turning
pooling off in Settings removes the fact. The pool itself has one row in the tree (``pool/<model>``,
a POOL badge, "3 hosts"), derived in the window and never stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.gui.qt_model_tree import Col, ItemRole
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


# ------------------------------------------------------------------ the pool's own row in the tree
def pool_cells(window: Any, pool_id: str = POOL) -> tuple[Any, ...]:
    index = window.tree_model.index_of(pool_id)
    assert index.isValid(), f"no row for {pool_id}"
    return tuple(index.siblingAtColumn(c).data(ItemRole.CELL) for c in range(5))


def pool_ids(window: Any) -> set[str]:
    return {r.id for r in window.tree_model.unique_rows() if r.id.startswith("pool/")}


def test_a_pool_is_one_row_with_the_pool_badge_and_its_host_count(window: Any) -> None:
    from desktop_app.core.enums import Category
    from desktop_app.gui import icons

    name, badge, _caps, source, status = pool_cells(window)
    assert name.text == "llama3.2:latest" and status.text == "available"
    assert badge.kind == "badge" and badge.extra == "POOL" and icons.badge_renderer("POOL") is not None
    assert source.text == "3 hosts"
    tree = window.tree_model
    # One row per category of its model (as any model), beside the hosts' rows, which stay.
    model = tree.index_of("gpu-a/llama3.2:latest").data(ItemRole.MODEL)
    assert [tree.index_of(POOL).parent().data(ItemRole.CATEGORY)] == [model.category]
    assert len(tree.indexes_of(POOL)) == len(set(model.categories or [model.category]))
    for host in NAMES:  # the hosts' rows stay, right after the pool's
        assert tree.index_of(f"{host}/llama3.2:latest").row() > tree.index_of(POOL).row()
    assert not tree.index_of("pool/solo:7b").isValid()  # on one host only
    assert tree.category_count(Category.FUNCTION_CALLING) >= 4  # 3 hosts' rows and the pool's
    assert tree.index_of(POOL, Col.BADGE).data() == "POOL"
    # Not a model of the registry: the registry knows nothing of it, the evaluation's lists skip it.
    assert POOL not in {m.id for m in tree.models()}
    assert window.ctx.registry.find(POOL) is None
    pools = len(pool_ids(window))  # every default model of the fake is on the three hosts
    assert window.summary.text().endswith(f" · {pools} pools") and pools == tree.pool_count() > 1


@pytest.fixture
def two_boxes() -> Iterator[list[FakeOllama]]:
    """Two hosts serving llama3.2:latest with the same digest, and qwen3:4b with different ones."""
    fakes = [
        FakeOllama(
            [
                make_model("llama3.2:latest", ["completion", "tools"], digest="1" * 64),
                make_model("qwen3:4b", ["completion", "thinking"], family="qwen3", digest=d * 64),
            ]
        ).start()
        for d in ("a", "b")
    ]
    yield fakes
    for fake in fakes:
        fake.stop()


def test_only_the_same_digest_on_two_hosts_makes_a_pool_row(
    make_window: Any, ctx: AppContext, run: Any, two_boxes: list[FakeOllama]
) -> None:
    ctx.settings.sources = [
        SourceConfig(name=f"box-{i}", kind=SourceKind.OLLAMA, base_url=fake.url)
        for i, fake in enumerate(two_boxes)
    ]
    ctx.save_settings()
    w = make_window([])
    run(w.refresh())
    for box in ("box-0", "box-1"):
        for name in ("llama3.2:latest", "qwen3:4b"):
            assert w.tree_model.index_of(f"{box}/{name}").isValid()
    assert pool_ids(w) == {POOL}  # not pool/qwen3:4b: its digests differ
    assert pool_cells(w)[3].text == "2 hosts"
    assert sum(r.badge == "POOL" for r in w.tree_model.unique_rows()) == 1


def test_selecting_the_pool_row_shows_the_pool(window: Any) -> None:
    pane = shown(window, POOL)
    assert pane.title.text() == "llama3.2:latest" and pane.model_id.text() == POOL
    assert pane.fields["pool"].text() == f"{POOL} · 3 hosts (gpu-a, gpu-b, ollama)"
    assert not pane.fields["pool"].isHidden()
    assert pane.fields["source"].text() == "3 hosts — Ollama hosts"
    assert not pane.badge.pixmap().isNull()
    assert not pane.chat_button.isHidden() and pane.chat_button.isEnabled()
    # The Chat button is the chat on the pool: no second one; nothing to delete or derive from a pool.
    assert pane.pool_button.isHidden() and pane.delete_button.isHidden() and pane.variant_button.isHidden()
    window._delete_key()  # the Delete key on the pool's row: nothing to delete, and it says why
    assert "is a pool" in window.statusBar().currentMessage()


def test_enter_on_the_pool_row_chats_with_one_of_its_hosts(
    window: Any, hosts: dict[str, FakeOllama], run: Any, qtbot: Any
) -> None:
    from PySide6.QtCore import Qt

    for fake in hosts.values():
        fake.reset_counters()
    shown(window, POOL)
    window.tree.setFocus()
    qtbot.keyClick(window.tree, Qt.Key.Key_Return)
    assert window.chat.model is not None and window.chat.model.id == POOL
    window.chat.input.setPlainText("Why is the sky blue?")
    run(window.chat.send())
    reply = window.chat.replies[-1]
    assert reply.state == "done" and reply.content == hosts["gpu-a"].reply_text
    assert sum(fake.requests["/api/chat"] for fake in hosts.values()) == 1
    assert window.ctx.registry.find(POOL) is None  # chatting wrote no pool into the registry


def test_the_filter_finds_pools(window: Any) -> None:
    window.search.setText("pool")
    ids = window.proxy.visible_model_ids()
    assert POOL in ids and ids == pool_ids(window)
    window.search.setText("pool gpu-b")  # a pool is found by its hosts' names too
    assert POOL in window.proxy.visible_model_ids()


def test_the_pool_row_follows_weights_and_hosts_going_offline(
    window: Any, ctx: AppContext, hosts: dict[str, FakeOllama], run: Any
) -> None:
    def weigh(settings: Any) -> None:
        settings.sources[2].options["weight"] = 0  # "ollama" out of the pool

    ctx.update_settings(weigh)
    run(window.refresh_pools())
    assert pool_cells(window)[3].text == "2 hosts"
    assert shown(window, POOL).fields["pool"].text() == f"{POOL} · 2 hosts (gpu-a, gpu-b)"
    hosts["gpu-b"].stop()  # one host left: no pool any more
    run(window.refresh())
    assert not window.tree_model.index_of(POOL).isValid() and pool_ids(window) == set()
    assert window.tree_model.index_of("gpu-a/llama3.2:latest").isValid()
    assert window.detail.model is None or window.detail.model.id != POOL


def test_turning_pooling_off_removes_the_pool_rows(window: Any, ctx: AppContext, qtbot: Any) -> None:
    assert POOL in pool_ids(window)
    window.open_settings()
    dialog = window._settings_dialog
    dialog.pooling.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(lambda: "pool" not in window.summary.text())  # the rows, then the counts
    assert not pool_ids(window) and window.tree_model.pool_count() == 0
    assert window.tree_model.index_of("gpu-a/llama3.2:latest").isValid()


def test_a_reload_of_every_source_keeps_the_pool_rows(window: Any, run: Any) -> None:
    before = pool_ids(window)
    assert POOL in before
    window.tree_model.update_models(window.tree_model.models())  # what reload_models(None) does
    assert pool_ids(window) == before


def test_evaluate_picks_a_pool_on_its_own_row_and_runs_it_on_its_hosts(
    window: Any, hosts: dict[str, FakeOllama], run: Any, qtbot: Any, tmp_path: Any
) -> None:
    from PySide6.QtCore import Qt

    from desktop_app.core.evaluation import RunStatus
    from tests.gui.test_evaluate_view import click_box, open_evaluate

    view = open_evaluate(window, tmp_path, cases=6)
    picker = window.picker
    pool_index = window.proxy.mapFromSource(window.tree_model.index_of(POOL))
    assert picker.state_of(pool_index) == (Qt.CheckState.Unchecked, True)
    # A category's box picks its models once per host, not its pools (their cases would run twice).
    picker.toggle(pool_index.parent())
    picks = view.session.picks.ids()
    assert "gpu-a/llama3.2:latest" in picks and not any(p.startswith("pool/") for p in picks)
    view.fill_judges()
    judges = [view.judge_combo.itemData(i) for i in range(view.judge_combo.count())]
    assert "gpu-a/llama3.2:latest" in judges and POOL not in judges  # a judge is one model
    view.session.picks.replace([])
    click_box(window, POOL, qtbot)  # the pool's own box
    assert view.session.picks.ids() == [POOL]
    for fake in hosts.values():
        fake.reset_counters()
    done = run(view.start_run(), timeout=20)
    assert done.status is RunStatus.COMPLETE
    results = done.results_for(POOL)
    assert len(results) == 6 and all(r.passed and r.host for r in results)
    assert sum(fake.requests["/api/chat"] for fake in hosts.values()) == 6
    assert {r.host for r in results} <= {f"{h}/llama3.2:latest" for h in NAMES}  # run on its hosts


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
