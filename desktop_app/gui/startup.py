"""What the first paint needs, read without building a single pydantic model.

Pydantic's first model class costs ~150 ms of imports, more than everything else the window adds to a
bare Qt tree. So the window opens from the registry's stored JSON and a plain read of settings.json
(theme, window geometry, the sources' names), and the real ``AppContext`` (validated settings, keys,
backends) is opened right after the first paint and attached to the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.errors import ModelDeskError
from desktop_app.store.paths import data_dir

__all__ = ["Startup", "StartupSource", "read_startup"]


@dataclass(frozen=True)
class StartupSource:
    """The few facts of a configured source the status bar shows before settings are validated."""

    name: str
    kind: str  # a key of core.kinds.KINDS, or a kind this version cannot use (shown, not used)
    base_url: str
    enabled: bool = True


@dataclass
class Startup:
    home: Path
    rows: list[str] = field(default_factory=list)  # the registry's stored JSON, one string per model
    preferences: dict[str, Any] = field(default_factory=dict)
    sources: list[StartupSource] = field(default_factory=list)
    error: str | None = None  # the registry could not be read (AppContext.open will say it properly)
    notices: list[str] = field(default_factory=list)  # e.g. a damaged registry was moved aside: say so

    @property
    def theme(self) -> str:
        theme = self.preferences.get("theme")
        return theme if theme in ("system", "light", "dark") else "system"

    @property
    def window(self) -> dict[str, Any]:
        window = self.preferences.get("window")
        return window if isinstance(window, dict) else {}


def _read_settings(path: Path) -> tuple[dict[str, Any], list[StartupSource]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}, []  # missing or damaged: AppContext.open deals with it and tells the user
    if not isinstance(raw, dict):
        return {}, []
    prefs = raw.get("preferences") if isinstance(raw.get("preferences"), dict) else {}
    sources = []
    for s in raw.get("sources") or []:
        try:
            sources.append(
                StartupSource(
                    str(s["name"]),
                    str(s["kind"]),
                    str(s.get("base_url", "")),
                    bool(s.get("enabled", True)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return prefs or {}, sources


def read_startup(home: Path | None = None) -> Startup:
    """Settings and registry rows as stored; never raises (problems surface when AppContext opens)."""
    from desktop_app.store.registry import Registry

    home = home or data_dir()
    prefs, sources = _read_settings(home / "settings.json")
    startup = Startup(home=home, preferences=prefs, sources=sources)
    db = home / "registry.db"
    if not db.exists():
        return startup
    try:
        registry = Registry(db)
    except ModelDeskError as exc:
        startup.error = exc.message
        return startup
    if registry.notice is not None:  # moved aside here, so AppContext.open will find a fresh one
        startup.notices.append(registry.notice)
    try:
        startup.rows = list(registry.iter_json())
    except Exception as exc:  # a damaged file: AppContext.open moves it aside and says so
        startup.error = str(exc)
    finally:
        registry.close()
    return startup
