"""``tools.json`` beside ``settings.json``: the MCP servers the user added and the tools turned off.

Kept apart from settings so that tool servers can be edited (or the file replaced) without touching
sources. Secrets never go in here: an HTTP server's token and environment variables that look like keys
(``*_KEY``, ``*_TOKEN``, ``*SECRET*``, …) are moved to the key store, and only their names stay.
Every change is applied to the freshly read file under an inter-process lock (as settings are), and
written atomically; a damaged file is moved aside and an empty configuration used.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field, ValidationError

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import utcnow
from desktop_app.core.tools import McpServerConfig, check_server_name, is_secret_env
from desktop_app.store.filelock import LockTimeout, file_lock
from desktop_app.store.keys import KeyStore

__all__ = ["ToolsConfig", "ToolsConfigStore"]

T = TypeVar("T")


class ToolsConfig(BaseModel):
    version: int = 1
    servers: list[McpServerConfig] = Field(default_factory=list)
    disabled_tools: list[str] = Field(default_factory=list, description="tool names the user turned off")

    def server(self, name: str) -> McpServerConfig:
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(s.name for s in self.servers) or "none"
        raise InvalidInput(f"No tool server named {name!r} (configured: {known}).")

    def has(self, name: str) -> bool:
        return any(s.name == name for s in self.servers)


class ToolsConfigStore:
    """Loads and saves ``tools.json``; moves secrets into ``keys``."""

    def __init__(self, path: Path, keys: KeyStore) -> None:
        self.path = path
        self.keys = keys
        self.moved_aside: Path | None = None

    def load(self) -> ToolsConfig:
        if not self.path.exists():
            return ToolsConfig()
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return ToolsConfig.model_validate(raw)
        except (ValueError, ValidationError):
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            self.moved_aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            os.replace(self.path, self.moved_aside)
            return ToolsConfig()
        except OSError as exc:
            raise SettingsError(f"Cannot read {self.path}: {exc.strerror or exc}") from None

    def save(self, config: ToolsConfig) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tools-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(config.model_dump_json(indent=2))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SettingsError(
                f"Cannot write {self.path}: {exc.strerror or exc}",
                hint="Check the data folder's permissions and free space.",
            ) from None

    def update(self, change: Callable[[ToolsConfig], T]) -> tuple[ToolsConfig, T]:
        """Apply ``change`` to the file as it is now (another process may have changed it), under the
        lock; returns the new configuration and what ``change`` returned."""
        try:
            with file_lock(self.path.with_name(self.path.name + ".lock")):
                config = self.load()
                out = change(config)
                self.save(config)
        except LockTimeout as exc:
            raise SettingsError(f"Cannot change {self.path}: {exc}") from None
        except OSError as exc:  # the lock file cannot be made: a read-only folder, a full disk
            raise SettingsError(f"Cannot change {self.path}: {exc.strerror or exc}") from None
        return config, out

    # ------------------------------------------------------------------ servers
    def add(
        self, server: McpServerConfig, *, token: str | None = None
    ) -> tuple[ToolsConfig, McpServerConfig]:
        """Add (or replace) a server; key-like env values and the token go to the key store."""
        server = server.model_copy(deep=True)
        server.name = check_server_name(server.name)
        env: dict[str, str] = {}
        for name, value in server.env.items():
            if is_secret_env(name) and value:
                self.keys.set(server.env_ref(name), value)
                if name not in server.secret_env:
                    server.secret_env.append(name)
            else:
                env[name] = value
        server.env = env
        if token:
            self.keys.set(server.token_ref, token)

        def put(config: ToolsConfig) -> McpServerConfig:
            config.servers = [s for s in config.servers if s.name != server.name] + [server]
            return server

        return self.update(put)

    def remove(self, name: str) -> tuple[ToolsConfig, McpServerConfig]:
        def drop(config: ToolsConfig) -> McpServerConfig:
            server = config.server(name)
            config.servers = [s for s in config.servers if s.name != name]
            prefix = f"{name}/"
            config.disabled_tools = [t for t in config.disabled_tools if not t.startswith(prefix)]
            return server

        config, server = self.update(drop)
        self.keys.delete(server.token_ref)
        for env_name in server.secret_env:
            self.keys.delete(server.env_ref(env_name))
        return config, server

    def token(self, server: McpServerConfig) -> str | None:
        return self.keys.get(server.token_ref) if server.url else None

    def secret_env(self, server: McpServerConfig) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in server.secret_env:
            value = self.keys.get(server.env_ref(name))
            if value is not None:
                out[name] = value
        return out
