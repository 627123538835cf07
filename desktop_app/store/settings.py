"""Settings beside the registry: a versioned JSON file, written atomically (temp file + rename).

Keys are never stored here; sources only name a keyring entry. A damaged file is moved aside (never
deleted) and defaults are used, and the caller is told where the old file went. Changes are made under
an inter-process lock on a file beside it (see ``SettingsStore.update``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import SourceConfig, SourceKind, utcnow
from desktop_app.core.ollama_host import ollama_host_url
from desktop_app.store.faults import storage_problem
from desktop_app.store.filelock import LockTimeout, file_lock
from desktop_app.store.paths import data_dir

__all__ = [
    "DEFAULT_OLLAMA_URL",
    "Settings",
    "SettingsStore",
    "default_ollama_url",
]

SETTINGS_VERSION = 1
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


def default_ollama_url() -> str:
    """``$OLLAMA_HOST`` as Ollama itself reads it (see ``core.ollama_host``)."""
    return ollama_host_url(os.environ.get("OLLAMA_HOST"))


class Preferences(BaseModel):
    mlflow_tracking_uri: str | None = None
    theme: str = "system"
    category_overrides: dict[str, dict[str, str]] = Field(default_factory=dict)
    window: dict[str, Any] = Field(default_factory=dict)
    pooling: bool = True  # one model on several Ollama hosts is one pool (core.pools)


class Settings(BaseModel):
    version: int = SETTINGS_VERSION
    sources: list[SourceConfig] = Field(default_factory=list)
    preferences: Preferences = Field(default_factory=Preferences)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        known = ", ".join(s.name for s in self.sources) or "none"
        raise InvalidInput(f"No source named {name!r} (configured: {known}).")

    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.enabled]


def _defaults() -> Settings:
    return Settings(
        sources=[SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=default_ollama_url())]
    )


class _Damaged(Exception):
    """settings.json is not a settings file (bad JSON, wrong shape, too deep)."""


T = TypeVar("T")


class SettingsStore:
    """Loads and saves ``settings.json``. ``moved_aside`` is set when a damaged file was put away.

    Every change goes through :meth:`update`: under an inter-process lock it reads the file afresh,
    applies the change and writes it atomically, so two processes changing settings at once both keep
    their change and nobody writes back a stale copy.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "settings.json"
        self.moved_aside: Path | None = None
        self.last_error: str | None = None

    @property
    def notice(self) -> str | None:
        """What to tell the user when a damaged file was moved aside (None otherwise)."""
        if self.moved_aside is None:
            return None
        return f"The settings file was unreadable and was moved to {self.moved_aside}; defaults are in use."

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with file_lock(self.lock_path):
                yield
        except LockTimeout as exc:
            raise SettingsError(
                f"Cannot change settings: {exc}.", hint="Close the other ModelDesk."
            ) from None
        except OSError as exc:
            message, hint = storage_problem(exc, self.path)
            raise SettingsError(message, hint=hint) from None

    def load(self) -> Settings:
        """The settings on disk (defaults when there is no file). A damaged file is moved aside, under
        the lock and after reading it again, and defaults are used; ``moved_aside`` says where it went."""
        try:
            return self._read()
        except _Damaged:
            pass
        with self._locked():
            return self._read_or_move_aside()

    def update(self, change: Callable[[Settings], T]) -> tuple[Settings, T]:
        """Apply ``change`` to the freshly read settings and save them, all under the lock. When
        ``change`` raises, nothing is written. Returns the new settings and what ``change`` returned."""
        with self._locked():
            settings = self._read_or_move_aside()
            result = change(settings)
            self._write(settings)
        return settings, result

    def save(self, settings: Settings) -> None:
        """Write ``settings`` as they are (first run, tests). Changes use :meth:`update` instead."""
        with self._locked():
            self._write(settings)

    def source_names(self) -> set[str] | None:
        """The sources configured on disk right now; None when the file cannot be read (callers then
        keep what they have rather than drop anything)."""
        try:
            return {s.name for s in self._read().sources}
        except (_Damaged, SettingsError):
            return None

    def _read(self) -> Settings:
        if not self.path.exists():
            return _defaults()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            return Settings.model_validate(self._check_version(raw))
        except (ValueError, TypeError, RecursionError, ValidationError) as exc:
            # UnicodeDecodeError is a ValueError; RecursionError comes from absurdly nested JSON.
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _Damaged(detail[:200]) from None
        except FileNotFoundError:
            return _defaults()
        except OSError as exc:
            message, hint = storage_problem(exc, self.path)
            raise SettingsError(f"Cannot read settings {self.path}: {message}", hint=hint) from None

    def _read_or_move_aside(self) -> Settings:
        try:
            return self._read()
        except _Damaged as exc:
            try:
                self.moved_aside = self._move_aside()
            except FileNotFoundError:  # another process moved it already
                return self._read()
            except OSError as err:
                message, hint = storage_problem(err, self.path)
                raise SettingsError(
                    f"The settings file {self.path} is damaged ({exc}) and could not be moved aside: {message}",
                    hint=hint,
                ) from None
            # Keep going with defaults; the caller reports moved_aside to the user.
            self.last_error = f"settings file was unreadable ({exc})"
            return _defaults()

    def _write(self, settings: Settings) -> None:
        payload = settings.model_dump_json(indent=2)
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            tmp = None
        except OSError as exc:
            message, hint = storage_problem(exc, self.path)
            raise SettingsError(message, hint=hint) from None
        finally:
            if tmp is not None:
                with suppress(OSError):
                    os.unlink(tmp)  # a half-written temp file from a full disk

    @staticmethod
    def _check_version(raw: dict[str, Any]) -> dict[str, Any]:
        """Version 1 is the only one so far; a newer ModelDesk's file is read for what this version
        understands (unknown keys are ignored, unknown source kinds are kept and skipped)."""
        version = raw.get("version", SETTINGS_VERSION)
        if type(version) is not int or version < 1:
            raise ValueError(f"its version is {version!r}, not a whole number from 1 up")
        return raw

    def _move_aside(self) -> Path:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        os.replace(self.path, target)
        return target
