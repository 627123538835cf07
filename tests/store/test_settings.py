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
    assert sorted(p.name for p in tmp_path.iterdir()) == [".settings.json.lock", "settings.json"]
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


DAMAGED = {
    "version null": '{"version": null}',
    "version object": '{"version": {}, "sources": []}',
    "version bool": '{"version": true}',
    "a list": "[1]",
    "deeply nested": "[" * 200_000 + "]" * 200_000,
    "nested in preferences": '{"preferences": {"window": ' + "[" * 200_000 + "]" * 200_000 + "}}",
}


@pytest.mark.parametrize("junk", list(DAMAGED.values()), ids=list(DAMAGED))
def test_damaged_settings_never_crash_and_are_kept(tmp_path: Path, junk: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(junk)
    store = SettingsStore(path)
    assert [s.name for s in store.load().sources] == ["ollama"]
    assert store.moved_aside is not None and store.moved_aside.read_text() == junk


def test_non_utf8_settings_are_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b'{"sources": "\xff\xfe"}')
    store = SettingsStore(path)
    store.load()
    assert store.moved_aside is not None and store.moved_aside.read_bytes() == b'{"sources": "\xff\xfe"}'


def test_a_second_damaged_file_does_not_overwrite_the_first_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    kept = []
    for junk in ("[1]", "[2]"):
        path.write_text(junk)
        store = SettingsStore(path)
        store.load()
        assert store.moved_aside is not None
        kept.append(store.moved_aside)
    assert [p.read_text() for p in kept] == ["[1]", "[2]"]


def test_damaged_settings_through_the_cli_and_the_window(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_app.cli import main
    from desktop_app.gui.startup import read_startup
    from desktop_app.store.paths import data_dir

    home = data_dir()
    home.mkdir(parents=True)
    (home / "settings.json").write_text("[" * 200_000 + "]" * 200_000)
    assert read_startup(home).sources == []  # the window's first paint
    assert main(["source", "list"]) == 0
    err = capsys.readouterr().err
    assert "settings file was unreadable and was moved to" in err and "Traceback" not in err


def test_settings_on_a_full_disk_keep_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from desktop_app.core.errors import SettingsError

    store = SettingsStore(tmp_path / "settings.json")
    store.save(store.load())
    before = store.path.read_bytes()

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SettingsError, match="disk is full") as info:
        store.update(lambda s: s.sources.clear())
    assert f"Free space in {tmp_path}" in str(info.value) and "nothing was lost" in str(info.value)
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".settings-")] == []
