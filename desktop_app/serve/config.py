"""Who may reach the server and what it serves: bind address, bearer token, remote models.

No web framework here, so the CLI can check its arguments (and refuse a bad bind) before loading one.
Security as for Share: loopback needs no token; any other bind needs one (generated and shown once,
or read from ``--token-file``); remote (paid) models only on request.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.enums import ServingType
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import UnifiedModel

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ServeConfig",
    "is_loopback",
    "is_remote",
    "new_token",
    "read_token",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_remote(model: UnifiedModel) -> bool:
    """Served by someone else's machine, at someone's cost: remote sources and Ollama cloud models."""
    return model.serving_type is not ServingType.LOCAL


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_token(path: Path) -> str:
    """The token in ``path`` (first line, surrounding whitespace dropped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot read the token file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"The token file {path} is not UTF-8 text.") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < _MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise InvalidInput(
            f"The token in {path} must be one line of at least {_MIN_TOKEN_LENGTH} characters without spaces.",
            hint="Make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE`.",
        )
    return token


@dataclass(frozen=True)
class ServeConfig:
    """``token`` None means no authentication, which only a loopback bind may have."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    allow_remote: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise InvalidInput(f"Port {self.port} is not a TCP port (0-65535; 0 picks a free one).")
        if self.token is None and not is_loopback(self.host):
            raise InvalidInput(
                f"Serving on {self.host} lets other machines in, so it needs a token.",
                hint="Give one with --token-file, or leave --token-file out and one is generated.",
            )

    @classmethod
    def prepare(
        cls, host: str, port: int, *, token_file: Path | None = None, allow_remote: bool = False
    ) -> tuple[ServeConfig, bool]:
        """The config for the command line's arguments, and whether its token was generated here
        (to be shown once). Loopback without a token file needs no token."""
        if token_file is not None:
            return cls(host, port, read_token(token_file), allow_remote), False
        if is_loopback(host):
            return cls(host, port, None, allow_remote), False
        return cls(host, port, new_token(), allow_remote), True

    def url(self, port: int | None = None) -> str:
        """The base URL clients use (``…/v1``)."""
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "<this machine's address>"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port if port is None else port}/v1"
