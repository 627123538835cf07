"""`modeldesk chats list|export`: the window's kept conversations from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.store.conversations import ConversationStore
from tests.store.test_conversations import a_conversation


def test_list_search_and_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["chats", "list"]) == 0
    assert "No conversations yet" in capsys.readouterr().out
    store = ConversationStore()
    sky, cat = a_conversation(), a_conversation("ollama/llama3.2:latest", "Names for a grey cat")
    store.save(sky)
    store.save(cat)
    assert main(["chats", "list"]) == 0
    out = capsys.readouterr().out
    assert sky.id in out and cat.id in out and "Names for a grey cat" in out
    assert main(["chats", "list", "--search", "grey cat", "--json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == [cat.id]
    assert main(["chats", "export", sky.id]) == 0
    assert capsys.readouterr().out.startswith("# Why is the sky blue?")
    target = tmp_path / "sky.json"
    assert main(["chats", "export", sky.id, "--format", "json", "-o", str(target)]) == 0
    assert json.loads(target.read_text())["id"] == sky.id
    assert main(["chats", "export", "no-such-id"]) == 2
    assert "No conversation 'no-such-id'" in capsys.readouterr().err
