"""API keys: in the system keyring, else (no working backend) a file only the user can read.

Keys never go into settings, the registry, logs or exceptions. A source names its key with
``key_ref`` (default: the source name). GitHub Models sources also accept ``$GITHUB_TOKEN``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import SourceConfig, SourceKind

__all__ = ["KEYRING_SERVICE", "KeyStore"]

KEYRING_SERVICE = "ModelDesk"


def _keyring_usable() -> bool:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        if isinstance(backend, fail.Keyring):
            return False
        # The chainer with nothing behind it, or the null backend, cannot store either.
        return float(getattr(backend, "priority", 0)) > 0
    except Exception:
        return False


class KeyStore:
    def __init__(self, home: Path) -> None:
        self.file = home / "keys.json"
        self._use_keyring: bool | None = None

    @property
    def uses_keyring(self) -> bool:
        if self._use_keyring is None:
            self._use_keyring = _keyring_usable()
        return self._use_keyring

    @property
    def warning(self) -> str | None:
        if self.uses_keyring:
            return None
        return (
            f"No system keyring is available; keys are kept in {self.file}, readable only by you. "
            "Install a keyring (e.g. gnome-keyring or KWallet) to keep them encrypted."
        )

    # -------------------------------------------------------------- file fallback
    def _read_file(self) -> dict[str, str]:
        if not self.file.exists():
            return {}
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SettingsError(
                f"The key file {self.file} is unreadable.",
                hint="Delete it and set your keys again with `modeldesk key set <source>`.",
            ) from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, data: dict[str, str]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, self.file)

    # -------------------------------------------------------------- API
    def get(self, ref: str) -> str | None:
        if self.uses_keyring:
            import keyring

            try:
                value = keyring.get_password(KEYRING_SERVICE, ref)
            except Exception:
                value = None
            if value:
                return value
        return self._read_file().get(ref)

    def set(self, ref: str, secret: str) -> None:
        secret = secret.strip()
        if not secret:
            raise InvalidInput("The key is empty; nothing was stored.")
        if any(ch.isspace() for ch in secret):
            raise InvalidInput("The key contains spaces or line breaks; paste just the key.")
        if self.uses_keyring:
            import keyring

            try:
                keyring.set_password(KEYRING_SERVICE, ref, secret)
                return
            except Exception:
                self._use_keyring = False
        data = self._read_file()
        data[ref] = secret
        self._write_file(data)

    def delete(self, ref: str) -> bool:
        removed = False
        if self.uses_keyring:
            import keyring

            try:
                keyring.delete_password(KEYRING_SERVICE, ref)
                removed = True
            except Exception:
                pass
        data = self._read_file()
        if ref in data:
            del data[ref]
            self._write_file(data)
            removed = True
        return removed

    def resolve(self, config: SourceConfig) -> str | None:
        """The key for a source: ``$GITHUB_TOKEN`` first for GitHub Models, else its stored entry."""
        if config.kind is SourceKind.GITHUB_MODELS and os.environ.get("GITHUB_TOKEN"):
            return os.environ["GITHUB_TOKEN"]
        return self.get(config.key_ref or config.name)
