"""KeyStore: the system keyring when one works, else a 0600 file; GITHUB_TOKEN for GitHub sources."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.store.keys import KEYRING_SERVICE, KeyOrigin, KeyStore

SECRET = "sk-test-keystore-0123456789abcdef"


class MemoryKeyring(KeyringBackend):
    """A working in-memory keyring backend (no D-Bus here)."""

    priority = 10

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}
        self.fail_set = False

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.fail_set:
            raise PasswordSetError("locked")
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError("not found")
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------------ file fallback


def test_without_a_keyring_keys_go_to_a_private_file(isolated_home: Path) -> None:
    keys = KeyStore(isolated_home)
    assert keys.uses_keyring is False  # conftest forces the fail backend
    assert keys.warning is not None and str(keys.file) in keys.warning
    assert keys.set("work", f"  {SECRET}\n") is KeyOrigin.FILE
    assert keys.file.exists()
    if os.name == "posix":
        assert mode_of(keys.file) == 0o600
    assert keys.get("work") == SECRET
    assert keys.where("work") is KeyOrigin.FILE and keys.has("work")
    assert keys.file_refs() == ["work"]
    assert not list(isolated_home.glob(".keys-*"))  # no temporary file left behind
    assert keys.delete("work") is True
    assert keys.get("work") is None and keys.delete("work") is False


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_loosened_key_file_is_made_private_again(isolated_home: Path) -> None:
    keys = KeyStore(isolated_home)
    keys.set("work", SECRET)
    os.chmod(keys.file, 0o644)
    assert keys.get("work") == SECRET
    assert mode_of(keys.file) == 0o600


def test_a_damaged_key_file_is_a_settings_error_without_its_content(isolated_home: Path) -> None:
    keys = KeyStore(isolated_home)
    isolated_home.mkdir(parents=True, exist_ok=True)
    keys.file.write_text('{"work": "' + SECRET)  # cut in half
    with pytest.raises(SettingsError) as info:
        keys.get("work")
    assert SECRET not in str(info.value) and "modeldesk key set" in str(info.value)


@pytest.mark.parametrize("bad", ["", "   ", "two words", "line\nbreak", "tab\there", "ключ"])
def test_unusable_keys_are_refused_without_quoting_them(isolated_home: Path, bad: str) -> None:
    keys = KeyStore(isolated_home)
    with pytest.raises(InvalidInput) as info:
        keys.set("work", bad)
    assert (bad.strip() or "§") not in str(info.value)
    assert not keys.file.exists()


# ------------------------------------------------------------------------------------------ keyring


def test_a_working_keyring_is_used_and_nothing_is_written_to_disk(
    isolated_home: Path, memory_keyring: MemoryKeyring
) -> None:
    keys = KeyStore(isolated_home)
    assert keys.uses_keyring and keys.warning is None
    assert keys.set("work", SECRET) is KeyOrigin.KEYRING
    assert memory_keyring.store == {(KEYRING_SERVICE, "work"): SECRET}
    assert not keys.file.exists()
    assert keys.get("work") == SECRET and keys.where("work") is KeyOrigin.KEYRING
    assert keys.delete("work") is True and memory_keyring.store == {}


def test_setting_a_key_in_the_keyring_removes_an_older_file_copy(
    isolated_home: Path, memory_keyring: MemoryKeyring
) -> None:
    KeyStore(isolated_home)._write_file({"work": "sk-old-file-key", "other": "sk-other-key"})
    keys = KeyStore(isolated_home)
    keys.set("work", SECRET)
    assert keys.file_refs() == ["other"]
    assert keys.get("work") == SECRET


def test_a_keyring_that_refuses_falls_back_to_the_file(
    isolated_home: Path, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.fail_set = True
    keys = KeyStore(isolated_home)
    assert keys.set("work", SECRET) is KeyOrigin.FILE
    assert keys.get("work") == SECRET and keys.warning is not None


# ------------------------------------------------------------------------------------------ resolve


def test_resolve_prefers_github_token_for_github_sources_only(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = KeyStore(isolated_home)
    gh = SourceConfig(name="gh", kind=SourceKind.GITHUB_MODELS, base_url="https://models.github.ai")
    oa = SourceConfig(name="oa", kind=SourceKind.OPENAI_COMPAT, base_url="http://h/v1", key_ref="shared")
    keys.set("gh", "ghp_stored")
    keys.set("shared", SECRET)
    assert keys.resolve(gh) == "ghp_stored" and keys.origin(gh) is KeyOrigin.FILE
    assert keys.resolve(oa) == SECRET  # by key_ref, not by name
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_from_env")
    assert keys.resolve(gh) == "ghp_from_env" and keys.origin(gh) is KeyOrigin.ENV
    assert keys.resolve(oa) == SECRET and keys.origin(oa) is KeyOrigin.FILE
    monkeypatch.setenv("GITHUB_TOKEN", "  ")
    assert keys.resolve(gh) == "ghp_stored"


def test_key_is_never_in_settings_when_a_source_is_configured(isolated_home: Path) -> None:
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    try:
        ctx.settings.sources.append(
            SourceConfig(name="work", kind=SourceKind.OPENAI_COMPAT, base_url="http://127.0.0.1:1/v1")
        )
        ctx.save_settings()
        ctx.keys.set("work", SECRET)
        assert ctx.keys.resolve(ctx.settings.source("work")) == SECRET
        assert SECRET not in (isolated_home / "settings.json").read_text()
    finally:
        ctx.close()
