"""Settings beside the registry: a versioned JSON file, written atomically (temp file + rename).

Keys are never stored here; sources only name a keyring entry. A damaged file is moved aside (never
deleted) and defaults are used, and the caller is told where the old file went.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import SourceConfig, SourceKind, utcnow
from desktop_app.core.ollama_host import ollama_host_url
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


class SettingsStore:
    """Loads and saves ``settings.json``. ``moved_aside`` is set when a damaged file was put away."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "settings.json"
        self.moved_aside: Path | None = None
        self.last_error: str | None = None

    def load(self) -> Settings:
        if not self.path.exists():
            return _defaults()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            return Settings.model_validate(self._migrate(raw))
        except (ValueError, ValidationError) as exc:
            self.moved_aside = self._move_aside()
            detail = str(exc).splitlines()[0]
            # Keep going with defaults; the caller reports moved_aside to the user.
            self.last_error = f"settings file was unreadable ({detail})"
            return _defaults()
        except OSError as exc:
            raise SettingsError(f"Cannot read settings {self.path}: {exc.strerror or exc}") from None

    def save(self, settings: Settings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = settings.model_dump_json(indent=2)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SettingsError(
                f"Cannot write settings {self.path}: {exc.strerror or exc}",
                hint="Check the data folder's permissions and free space.",
            ) from None

    @staticmethod
    def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
        version = int(raw.get("version", 1))
        if version > SETTINGS_VERSION:
            # Written by a newer ModelDesk: read what we understand, unknown keys are ignored.
            return raw
        return raw

    def _move_aside(self) -> Path:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.replace(self.path, target)
        return target
