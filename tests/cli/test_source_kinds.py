"""Source kinds come from one table: a kind added there works in `source add`, `sync` and `list` with no
other edit; a kind the table does not know is kept in settings and reported per source; `source rm`
forgets the key unless told to keep it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.kinds import KindSpec
from desktop_app.store.keys import KeyStore
from tests.fakes.kinds import FakeAnthropicBackend
from tests.fakes.ollama import FakeOllama

ANT_KEY = "sk-ant-fake-0123456789"


def test_a_kind_added_to_the_table_works_in_source_add_sync_and_list(
    fake_kind: KindSpec, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["source", "rm", "ollama"]) == 0  # the default host is not running here
    assert main(["source", "add", "anthropic", "claude", "http://127.0.0.1:9/v1"]) == 0
    out = capsys.readouterr().out
    assert "added anthropic source claude" in out and "modeldesk key set claude" in out  # needs a key
    monkeypatch.setattr("sys.stdin", io.StringIO(ANT_KEY + "\n"))
    assert main(["key", "set", "claude"]) == 0

    assert main(["sync"]) == 0
    assert "claude: ok, 2 models" in capsys.readouterr().out
    assert FakeAnthropicBackend.made[-1].api_key == ANT_KEY, "the table's factory got the source's key"
    assert main(["list", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert set(models) == {"claude/claude-fake-1", "claude/claude-fake-2"}
    assert models["claude/claude-fake-1"]["source"] == "anthropic"
    assert models["claude/claude-fake-1"]["serving_type"] == "remote"
    assert main(["source", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["kind"] == "anthropic" and row["health"] == "ok" and row["models"] == 2
    assert main(["source", "add", "--help"]) == 0
    assert "anthropic" in capsys.readouterr().out


def _write_settings(home: Path, sources: list[dict[str, object]]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "settings.json"
    path.write_text(json.dumps({"version": 1, "sources": sources}), encoding="utf-8")
    return path


def test_an_unknown_kind_is_kept_and_reported_per_source_and_the_others_sync(
    isolated_home: Path, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_settings(
        isolated_home,
        [
            {"name": "ollama", "kind": "ollama", "base_url": fake_ollama.url},
            {"name": "tracking", "kind": "mlflow", "base_url": "http://127.0.0.1:5000"},  # not yet
            {"name": "typo", "kind": "olama", "base_url": "http://127.0.0.1:11434", "enabled": False},
        ],
    )
    assert main(["sync"]) == 1  # a source failed; not "internal error"
    captured = capsys.readouterr()
    assert "ollama: ok, 6 models" in captured.out
    assert (
        "tracking: failed: source tracking has kind 'mlflow', which this version of ModelDesk cannot use"
        in (captured.err)
    )
    assert "internal error" not in captured.err.lower() and "Traceback" not in captured.err

    assert main(["list"]) == 0
    err = capsys.readouterr().err
    assert "source tracking has kind 'mlflow'" in err and "source typo has kind 'olama'" in err

    assert main(["source", "list"]) == 0
    captured = capsys.readouterr()
    lines = {line.split()[0]: line for line in captured.out.splitlines()[1:]}
    assert "unusable" in lines["tracking"] and "unusable" in lines["typo"] and "ok" in lines["ollama"]
    assert "source typo has kind 'olama'" in captured.err

    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ source tracking (mlflow" in out and "! source typo (olama" in out and "✓ source ollama" in out

    # A change to the settings writes them back with the unknown sources as the user wrote them.
    assert main(["source", "disable", "ollama"]) == 0
    kept = {s["name"]: s for s in json.loads(path.read_text(encoding="utf-8"))["sources"]}
    assert kept["tracking"]["kind"] == "mlflow" and kept["typo"]["kind"] == "olama"
    assert not list(isolated_home.glob("settings.json.corrupt-*")), "nothing was moved aside"
    # And the unusable source can be removed like any other.
    assert main(["source", "rm", "typo"]) == 0


def test_source_rm_forgets_the_key_unless_told_to_keep_it(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = KeyStore(isolated_home)
    for keep in (False, True):
        assert main(["source", "add", "openai", "work", "http://127.0.0.1:9/v1"]) == 0
        keys.set("work", "sk-work-0123456789")
        capsys.readouterr()
        assert main(["source", "rm", "work", *(["--keep-key"] if keep else [])]) == 0
        out = capsys.readouterr().out
        if keep:
            assert keys.get("work") == "sk-work-0123456789" and "Forgot" not in out
        else:
            assert keys.get("work") is None and "Forgot its stored key too" in out
