"""Where ModelDesk keeps its files: ``$MODELDESK_HOME`` when set (tests always set it), else the
platform's user data dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from desktop_app.core.errors import SettingsError

__all__ = ["data_dir", "ensure_data_dir"]


def data_dir() -> Path:
    env = os.environ.get("MODELDESK_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("ModelDesk", appauthor=False))


def ensure_data_dir() -> Path:
    """Create the data dir if needed and check we can write there, with a message that says what to do."""
    path = data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A probe of its own: with one shared name, processes starting at once removed each other's.
        with tempfile.TemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise SettingsError(
            f"Cannot write to the data folder {path} ({exc.strerror or exc}).",
            hint="Fix its permissions, or point MODELDESK_HOME at a folder you can write to.",
        ) from None
    return path
