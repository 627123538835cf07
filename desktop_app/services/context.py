"""The app's long-lived state, opened once per process: settings, registry, keys and backends.

The CLI, the window and the Gradio process each make one ``AppContext`` and close it on exit, so
each host gets one long-lived ``httpx.AsyncClient`` (inside its backend) for the life of the process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import SettingsError
from desktop_app.core.models import SourceConfig
from desktop_app.store.keys import KeyStore
from desktop_app.store.paths import data_dir, ensure_data_dir
from desktop_app.store.registry import Registry
from desktop_app.store.settings import Settings, SettingsStore

__all__ = ["AppContext"]

T = TypeVar("T")


@dataclass
class AppContext:
    home: Path
    settings_store: SettingsStore
    settings: Settings
    registry: Registry
    keys: KeyStore
    notices: list[str] = field(default_factory=list)
    _backends: dict[str, ModelBackend] = field(default_factory=dict)
    _stale: list[ModelBackend] = field(default_factory=list)
    _pool_state: Any = None  # services.pools.PoolState: requests in flight per host, /api/ps seen

    @classmethod
    def open(cls) -> AppContext:
        try:
            home, read_only = ensure_data_dir(), None
        except SettingsError as exc:
            # A read-only data folder that exists: show what is there, and say why nothing is saved.
            home, read_only = data_dir(), exc
            if not (home / "registry.db").is_file():
                raise
        store = SettingsStore(home / "settings.json")
        settings = store.load()
        registry = Registry(home / "registry.db")
        ctx = cls(home, store, settings, registry, KeyStore(home))
        if read_only is not None:
            ctx.notices.append(f"{read_only.message} Showing what it holds; changes cannot be saved.")
            return ctx
        ctx.notices += [n for n in (store.notice, registry.notice) if n is not None]
        if not store.path.exists():
            ctx.update_settings(lambda s: None)  # under the lock: another process may write it first
        from desktop_app.services.sources import migrate_url_credentials

        ctx.notices.extend(migrate_url_credentials(ctx))
        return ctx

    @property
    def rules(self) -> CategoryRules:
        return CategoryRules.with_overrides(self.settings.preferences.category_overrides)

    def update_settings(self, change: Callable[[Settings], T]) -> T:
        """Change the settings on disk as another process may have left them: ``change`` gets the fresh
        copy under an inter-process lock, and this process's copy becomes the result."""
        self.settings, result = self.settings_store.update(change)
        return result

    def source_configured(self, name: str) -> bool:
        """Whether the source is in the settings on disk right now (True when they cannot be read)."""
        names = self.settings_store.source_names()
        return names is None or name in names

    def save_settings(self) -> None:
        """Write this process's copy as it is, overwriting others' changes: for tests and first runs.
        Anything a user changes goes through :meth:`update_settings`."""
        self.settings_store.save(self.settings)

    def backend(self, source: str | SourceConfig) -> ModelBackend:
        """The one backend (and HTTP client) for a source, made on first use."""
        from desktop_app.services.sources import make_backend

        config = source if isinstance(source, SourceConfig) else self.settings.source(source)
        existing = self._backends.get(config.name)
        if existing is not None and existing.config == config:
            return existing
        backend = make_backend(config, self.keys, self.rules)
        self._backends[config.name] = backend
        if existing is not None:
            self._stale.append(existing)
        return backend

    async def aclose(self) -> None:
        for backend in [*self._backends.values(), *self._stale]:
            await backend.aclose()
        self._backends.clear()
        self._stale.clear()

    def close(self) -> None:
        self.registry.close()
