"""`modeldesk key set|rm|list`: keys read without echo or from a pipe, stored, listed, never printed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.store.keys import KeyStore
from tests.store.test_keys import MemoryKeyring, memory_keyring  # noqa: F401  (fixture)

KEY = "sk-test-cli-9f8e7d6c5b4a39281706"


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def add_sources(*configs: SourceConfig) -> None:
    ctx = AppContext.open()
    try:
        ctx.settings.sources.extend(configs)
        ctx.save_settings()
    finally:
        ctx.close()


WORK = SourceConfig(name="work", kind=SourceKind.OPENAI_COMPAT, base_url="http://127.0.0.1:1/v1")
GH = SourceConfig(
    name="gh", kind=SourceKind.GITHUB_MODELS, base_url="https://models.github.ai", key_ref="github-pat"
)


def test_key_set_from_a_pipe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    add_sources(WORK)
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    assert main(["key", "set", "work"]) == 0
    out, err = capsys.readouterr()
    assert "Stored the key for work" in out
    assert "No system keyring" in err  # the file fallback is announced
    assert KEY not in out + err
    assert KeyStore(isolated_home).get("work") == KEY


def test_key_set_at_a_terminal_asks_without_echo(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    add_sources(WORK)
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return KEY

    monkeypatch.setattr("sys.stdin", TTY(""))
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert main(["key", "set", "work"]) == 0
    assert prompts == ["API key for work (input hidden): "]
    out, err = capsys.readouterr()
    assert KEY not in out + err
    assert KeyStore(isolated_home).get("work") == KEY


def test_key_set_uses_the_sources_key_ref_and_mentions_github_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    add_sources(GH)
    monkeypatch.setattr("sys.stdin", io.StringIO("ghp_abc123\n"))
    assert main(["key", "set", "gh"]) == 0
    assert "GITHUB_TOKEN" in capsys.readouterr().out
    store = KeyStore(isolated_home)
    assert store.get("github-pat") == "ghp_abc123" and store.get("gh") is None


def test_key_set_before_the_source_exists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY))
    assert main(["key", "set", "later"]) == 0
    assert "No source is named later yet" in capsys.readouterr().out
    assert KeyStore(isolated_home).get("later") == KEY


def test_key_set_goes_to_the_keyring_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    memory_keyring: MemoryKeyring,  # noqa: F811
) -> None:
    add_sources(WORK)
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY))
    assert main(["key", "set", "work"]) == 0
    out, err = capsys.readouterr()
    assert "system keyring" in out and "warning" not in err
    assert ("ModelDesk", "work") in memory_keyring.store
    assert not (isolated_home / "keys.json").exists()


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["key", "set", "work"], "\n", "empty"),
        (["key", "set", "work"], "two words\n", "spaces"),
        (["key", "set", "ollama"], KEY, "takes no API key"),
        (["key", "set", "bad name"], KEY, "not a source name"),
    ],
)
def test_key_set_refusals_exit_2_without_echoing_input(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_home: Path,
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    add_sources(WORK)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err and "Traceback" not in err
    assert KEY not in out + err and "two words" not in out + err
    assert not (isolated_home / "keys.json").exists()


def test_key_list_and_rm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    add_sources(WORK, GH)
    store = KeyStore(isolated_home)
    store.set("work", KEY)
    store.set("orphan", "sk-orphan-000111")
    assert main(["key", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert KEY not in out and "sk-orphan-000111" not in out
    listed = json.loads(out)
    assert listed["storage"] == "file"
    rows = {r["key_ref"]: r for r in listed["keys"]}
    assert rows["work"] == {
        "source": "work",
        "kind": "openai_compat",
        "key_ref": "work",
        "has_key": True,
        "origin": "file",
    }
    assert rows["github-pat"]["has_key"] is False and rows["github-pat"]["source"] == "gh"
    assert rows["orphan"]["source"] is None and rows["orphan"]["has_key"] is True
    assert "ollama" not in {r["source"] for r in listed["keys"]}

    monkeypatch.setenv("GITHUB_TOKEN", "ghp_env_token_42")
    assert main(["key", "list"]) == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "set" in lines["work"] and "file" in lines["work"]
    assert "$GITHUB_TOKEN" in lines["gh"]
    assert KEY not in out + err and "ghp_env_token_42" not in out + err

    assert main(["key", "rm", "work"]) == 0
    assert "Removed the stored key for work" in capsys.readouterr().out
    assert main(["key", "rm", "work"]) == 0
    assert "No key was stored for work" in capsys.readouterr().out
    assert KeyStore(isolated_home).get("work") is None


def test_key_list_with_no_remote_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key", "list"]) == 0
    assert "source add openai" in capsys.readouterr().out
