"""API keys: in the system keyring, else (no working backend) a file only the user can read.

Keys never go into settings, the registry, logs or exceptions. A source names its key with
``key_ref`` (default: the source name). GitHub Models sources also accept ``$GITHUB_TOKEN``.

The fallback file is ``keys.json`` in the data dir, created 0600 (and put back to 0600 if something
loosened it); it is written through a temporary file in the same folder and renamed, so a crash never
leaves half a file. Nothing here ever prints, logs or raises with a key in the text.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from enum import StrEnum
from pathlib import Path

from desktop_app.core.errors import InvalidInput, SettingsError
from desktop_app.core.models import SourceConfig

__all__ = ["KEYRING_SERVICE", "KeyOrigin", "KeyStore"]

KEYRING_SERVICE = "ModelDesk"
_PRIVATE = stat.S_IRUSR | stat.S_IWUSR  # 0600


class KeyOrigin(StrEnum):
    """Where a source's key comes from (shown by `modeldesk key list`; never the key itself)."""

    ENV = "env"
    KEYRING = "keyring"
    FILE = "file"


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
        self._tighten()
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SettingsError(
                f"The key file {self.file} is unreadable.",
                hint="Delete it and set your keys again with `modeldesk key set <source>`.",
            ) from None
        if not isinstance(data, dict):
            return {}
        return {str(k): v for k, v in data.items() if isinstance(v, str) and v}

    def _tighten(self) -> None:
        """Put the file back to 0600 if its mode was loosened (POSIX only)."""
        if os.name != "posix":
            return
        try:
            mode = stat.S_IMODE(self.file.stat().st_mode)
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                os.chmod(self.file, _PRIVATE)
        except OSError:
            pass

    def _write_file(self, data: dict[str, str]) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=self.file.parent)  # 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, _PRIVATE)
                os.replace(tmp, self.file)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise SettingsError(
                f"Cannot write the key file {self.file}: {exc.strerror or type(exc).__name__}.",
                hint="Check the data folder's permissions and free space.",
            ) from None

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

    def where(self, ref: str) -> KeyOrigin | None:
        """Where the stored key for ``ref`` lives, or None when there is none."""
        if self.uses_keyring:
            import keyring

            try:
                if keyring.get_password(KEYRING_SERVICE, ref):
                    return KeyOrigin.KEYRING
            except Exception:
                pass
        return KeyOrigin.FILE if ref in self._read_file() else None

    def has(self, ref: str) -> bool:
        return self.where(ref) is not None

    def file_refs(self) -> list[str]:
        """Names of the keys kept in the fallback file (the keyring cannot be listed)."""
        return sorted(self._read_file())

    @staticmethod
    def check(secret: str) -> str:
        """The key as it will be stored, or InvalidInput saying what is wrong (never quoting it)."""
        secret = secret.strip()
        if not secret:
            raise InvalidInput("The key is empty; nothing was stored.")
        if any(ch.isspace() for ch in secret):
            raise InvalidInput("The key contains spaces or line breaks; paste just the key.")
        if not secret.isprintable() or not secret.isascii():
            raise InvalidInput("The key contains characters a key cannot have; paste just the key.")
        return secret

    def set(self, ref: str, secret: str) -> KeyOrigin:
        """Store a key; returns where it went (the keyring, or the 0600 file when no keyring works)."""
        return self._store(ref, self.check(secret))

    def set_login(self, ref: str, username: str, password: str) -> KeyOrigin:
        """Store an HTTP basic-auth login (from a source URL's ``user:password@``) as ``user:password``.

        Not ``check``-ed like a key: a password may hold spaces or any character."""
        if ":" in username:
            raise InvalidInput("A user name for HTTP basic auth cannot contain ':'.")
        return self._store(ref, f"{username}:{password}")

    def login(self, ref: str) -> tuple[str, str] | None:
        """The (user, password) stored by ``set_login``, or None."""
        value = self.get(ref)
        if not value:
            return None
        user, _, password = value.partition(":")
        return user, password

    def _store(self, ref: str, secret: str) -> KeyOrigin:
        if self.uses_keyring:
            import keyring

            try:
                keyring.set_password(KEYRING_SERVICE, ref, secret)
            except Exception:
                self._use_keyring = False
            else:
                # A key stored in the file before a keyring existed must not shadow the new one.
                data = self._read_file()
                if ref in data:
                    del data[ref]
                    self._write_file(data)
                return KeyOrigin.KEYRING
        data = self._read_file()
        data[ref] = secret
        self._write_file(data)
        return KeyOrigin.FILE

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

    @staticmethod
    def ref_for(config: SourceConfig) -> str:
        return config.key_ref or config.name

    @staticmethod
    def _from_env(config: SourceConfig) -> str:
        """The key its kind reads from the environment first (``$GITHUB_TOKEN`` for GitHub Models)."""
        env = config.spec.key_env if config.spec is not None else None
        return os.environ.get(env, "").strip() if env else ""

    def origin(self, config: SourceConfig) -> KeyOrigin | None:
        """Where ``resolve`` would take this source's key from."""
        if self._from_env(config):
            return KeyOrigin.ENV
        return self.where(self.ref_for(config))

    def resolve(self, config: SourceConfig) -> str | None:
        """The key for a source: the kind's environment variable first (``$GITHUB_TOKEN`` for GitHub
        Models), else its stored entry."""
        return self._from_env(config) or self.get(self.ref_for(config))
