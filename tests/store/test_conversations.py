"""Kept conversations on disk: atomic saves, listing newest first, rename, delete, damaged files moved
aside, exports."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from desktop_app.core.chat import ChatMetrics, ChatOptions
from desktop_app.core.conversation import Conversation, Turn
from desktop_app.core.errors import InvalidInput, StorageError
from desktop_app.store.conversations import ConversationStore, export_text


def a_conversation(model: str = "ollama/qwen3:8b", question: str = "Why is the sky blue?") -> Conversation:
    return Conversation(
        model_id=model,
        model_name=model.split("/", 1)[1],
        system_prompt="Be brief.",
        options=ChatOptions(temperature=0.2),
        think="low",
        turns=[
            Turn(role="user", content=question),
            Turn(
                role="assistant",
                content="Rayleigh scattering.",
                thinking="Short wavelengths scatter more.",
                model_id=model,
                metrics=ChatMetrics(ttft_s=0.1, total_s=0.5, completion_tokens=3, tokens_per_s=6.0),
            ),
        ],
    )


def test_save_load_round_trip_and_list_newest_first(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c")
    old, new = a_conversation(question="first"), a_conversation("ollama/llama3.2:latest", "second")
    old.updated_at -= timedelta(hours=1)
    store.save(old)
    store.save(new)
    assert store.load(old.id) == old
    listed = store.list()
    assert [s.id for s in listed] == [new.id, old.id]
    assert listed[0].title == "second" and listed[0].model_id == "ollama/llama3.2:latest"
    assert listed[1].matches("FIRST qwen3") and not listed[1].matches("llama3.2")
    assert not list((tmp_path / "c").glob(".*.tmp")), "no temp file is left behind"


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConversationStore(tmp_path)
    conv = a_conversation()
    store.save(conv)
    before = (tmp_path / f"{conv.id}.json").read_bytes()
    conv.turns.append(Turn(role="user", content="more"))

    def boom(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("desktop_app.store.conversations.os.replace", boom)
    with pytest.raises(StorageError, match="The disk is full"):
        store.save(conv)
    assert (tmp_path / f"{conv.id}.json").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_rename_and_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    conv = a_conversation()
    store.save(conv)
    assert store.rename(conv.id, "  Sky   colour ").title == "Sky colour"
    assert store.list()[0].title == "Sky colour"
    with pytest.raises(InvalidInput, match="needs a title"):
        store.rename(conv.id, "   ")
    store.delete(conv.id)
    assert store.list() == []
    with pytest.raises(InvalidInput, match="No conversation"):
        store.load(conv.id)
    with pytest.raises(InvalidInput, match="not a conversation id"):
        store.load("../settings")


def test_a_damaged_file_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    good = a_conversation()
    store.save(good)
    (tmp_path / "20260101T000000-deadbeef.json").write_text("{not json", encoding="utf-8")
    assert [s.id for s in store.list()] == [good.id]
    assert len(store.moved_aside) == 1 and store.moved_aside[0].read_text() == "{not json"


def test_exports_markdown_and_json(tmp_path: Path) -> None:
    conv = a_conversation()
    md = export_text(conv, "markdown")
    assert md.startswith("# Why is the sky blue?\n")
    assert "- Model: `ollama/qwen3:8b`" in md and "temperature=0.2" in md and "Be brief." in md
    assert "## You\n\nWhy is the sky blue?" in md and "Rayleigh scattering." in md
    assert "<summary>Thinking</summary>" in md and "first token 0.10 s" in md
    data = json.loads(export_text(conv, "json"))
    assert data["model_id"] == "ollama/qwen3:8b" and len(data["turns"]) == 2
    assert Conversation.model_validate(data) == conv
    with pytest.raises(InvalidInput, match="markdown or json"):
        export_text(conv, "pdf")


def test_history_leaves_out_a_question_whose_reply_failed_empty() -> None:
    conv = a_conversation()
    conv.turns += [
        Turn(role="user", content="again?"),
        Turn(role="assistant", state="failed", error="host down"),
        Turn(role="user", content="and now?"),
        Turn(role="assistant", content="Partial", state="stopped"),
    ]
    assert [(m.role, m.content) for m in conv.history()] == [
        ("user", "Why is the sky blue?"),
        ("assistant", "Rayleigh scattering."),
        ("user", "and now?"),
        ("assistant", "Partial"),
    ]
