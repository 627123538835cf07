"""Bad URLs and URL credentials through the CLI, and timeouts set per source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.models import SourceConfig, SourceHealth, SourceKind, SourceState, UnifiedModel
from desktop_app.store.registry import Registry
from desktop_app.store.settings import Settings, SettingsStore
from tests.fakes.ollama import DEFAULT_MODELS, FakeOllama

SECRET = "hunter2-s3cret"


def every_file_text(home: Path) -> dict[str, str]:
    """Everything ModelDesk wrote except the key file (the 0600 fallback where the login belongs)."""
    return {
        p.name: p.read_bytes().decode("utf-8", "replace")
        for p in home.rglob("*")
        if p.is_file() and p.name != "keys.json"
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "never closed with ']'"),
        ("http://" + "a" * 70_000 + ":11434", "at most 2048"),
        ("http://" + "a" * 300 + ":11434", "at most 253"),
    ],
)
def test_source_add_refuses_malformed_urls(capsys: pytest.CaptureFixture[str], url: str, reason: str) -> None:
    assert main(["source", "add", "ollama", "gpu", url]) == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err and len(err) < 1000


def test_url_credentials_go_to_the_key_store_and_are_used_as_basic_auth(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.basic_auth = ("alice", SECRET)  # a reverse proxy with basic auth in front of Ollama
    url = fake_ollama.url.replace("http://", f"http://alice:{SECRET}@")
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "lab", url]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert "moved to" in out.err and "basic auth" in out.err
    assert main(["sync"]) == 0  # 401 without the login: the stored one is sent
    synced = capsys.readouterr()
    assert SECRET not in synced.out + synced.err
    assert main(["list", "--json"]) == 0
    out = capsys.readouterr()
    assert {m["name"] for m in json.loads(out.out)} == set(DEFAULT_MODELS)
    main(["doctor"])
    assert main(["source", "list", "--json"]) == 0
    out2 = capsys.readouterr()
    assert SECRET not in out.out + out.err + out2.out + out2.err
    for name, text in every_file_text(isolated_home).items():
        assert SECRET not in text, name
    assert SECRET in (isolated_home / "keys.json").read_text()
    assert main(["key", "list", "--json"]) == 0
    assert "lab:login" not in capsys.readouterr().out  # a login, not a key
    assert main(["source", "rm", "lab"]) == 0
    assert SECRET not in (isolated_home / "keys.json").read_text()  # it leaves with its source


def test_a_source_without_the_login_is_refused_by_the_proxy(
    capsys: pytest.CaptureFixture[str], fake_ollama: FakeOllama
) -> None:
    fake_ollama.basic_auth = ("alice", SECRET)
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "lab", fake_ollama.url]) == 0
    assert main(["sync"]) == 1
    assert "HTTP 401" in capsys.readouterr().err


def test_credentials_already_in_settings_are_migrated_on_read(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.basic_auth = ("alice", SECRET)
    url = fake_ollama.url.replace("http://", f"http://alice:{SECRET}@")
    isolated_home.mkdir(parents=True, exist_ok=True)
    SettingsStore(isolated_home / "settings.json").save(
        Settings(sources=[SourceConfig(name="lab", kind=SourceKind.OLLAMA, base_url=url)])
    )
    # A registry written by an older ModelDesk, which kept the URL in model records and states.
    registry = Registry(isolated_home / "registry.db")
    model = UnifiedModel(
        id="lab/old:latest", name="old:latest", provider="lab", local_endpoint=f"{url}/api/chat"
    )
    registry.apply_sync("lab", [model], SourceState(name="lab", health=SourceHealth.OK, message=url))
    registry.close()

    assert main(["source", "list"]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert "moved to" in out.err
    for name, text in every_file_text(isolated_home).items():
        assert SECRET not in text, name
    registry = Registry(isolated_home / "registry.db")
    try:
        stored = registry.get("lab/old:latest")
    finally:
        registry.close()
    assert stored is not None and stored.local_endpoint == f"{fake_ollama.url}/api/chat"
    assert main(["sync"]) == 0  # the migrated login is sent as basic auth
    assert SECRET not in capsys.readouterr().err


def test_source_timeouts_are_set_checked_and_shown(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    assert main(["source", "timeouts", "ollama", "--sync", "120", "--connect", "2"]) == 0
    assert "connect 2 s, read 300 s, sync 120 s" in capsys.readouterr().out
    saved = json.loads((isolated_home / "settings.json").read_text())["sources"][0]["options"]
    assert saved == {"sync_timeout": 120.0, "connect_timeout": 2.0}
    assert main(["source", "timeouts", "ollama", "--sync", "-1"]) == 2
    assert "sync timeout must be more than 0" in capsys.readouterr().err
    assert main(["source", "timeouts", "ollama", "--sync", "default"]) == 0
    assert "sync 30 s" in capsys.readouterr().out
