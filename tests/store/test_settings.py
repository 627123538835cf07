from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.store.settings import SettingsStore, default_ollama_url


def test_defaults_have_one_ollama_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = SettingsStore(tmp_path / "settings.json").load()
    assert [(x.name, x.kind, x.base_url) for x in s.sources] == [
        ("ollama", SourceKind.OLLAMA, "http://127.0.0.1:11434")
    ]


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ("gpu:11500", "http://gpu:11500"),
        ("gpu", "http://gpu:11434"),
        ("http://10.0.0.5", "http://10.0.0.5:80"),
        ("https://o.example/", "https://o.example:443"),
        (":11500", "http://127.0.0.1:11500"),
        ('"gpu:11500"', "http://gpu:11500"),
        ("[::1]", "http://[::1]:11434"),
        ("example.com/ollama", "http://example.com:11434/ollama"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
    ],
)
def test_ollama_host_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str, url: str) -> None:
    """The default source dials what ``ollama`` itself dials (the full table: tests/core/test_ollama_host.py)."""
    monkeypatch.setenv("OLLAMA_HOST", env)
    assert default_ollama_url() == url
    assert SettingsStore(tmp_path / "settings.json").load().sources[0].base_url == url


def test_round_trip_and_no_temp_files_left(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    s = store.load()
    s.sources.append(
        SourceConfig(name="gpu", kind=SourceKind.OLLAMA, base_url="http://10.0.0.5:11434", enabled=False)
    )
    s.preferences.mlflow_tracking_uri = "http://127.0.0.1:5000"
    store.save(s)
    again = SettingsStore(tmp_path / "settings.json").load()
    assert again == s
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert json.loads((tmp_path / "settings.json").read_text())["version"] == 1
    with pytest.raises(InvalidInput, match="configured: ollama, gpu"):
        again.source("nope")


@pytest.mark.parametrize("junk", ["{not json", "[1, 2]", '{"sources": [{"name": "bad name"}]}'])
def test_damaged_settings_are_moved_aside_and_defaults_used(tmp_path: Path, junk: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(junk)
    store = SettingsStore(path)
    s = store.load()
    assert s.sources[0].name == "ollama"
    assert store.moved_aside is not None and store.moved_aside.read_text() == junk
