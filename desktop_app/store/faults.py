"""What a failed disk operation means to the user, for SQLite and OS errors alike.

Only a file that SQLite itself calls "not a database" (or malformed) is damaged and may be moved aside.
Everything else (a full disk, a read-only or unwritable folder, an I/O error, a lock) is about the
disk, not the file: the file is left where it is, nothing is lost, and the message says what to do.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

__all__ = ["is_damaged", "storage_problem"]

# Primary SQLite result codes (extended codes keep them in the low byte).
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6


def _sqlite_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def is_damaged(exc: BaseException) -> bool:
    """True only when SQLite says the file is not a database or is malformed."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = _sqlite_code(exc)
    if code:
        return code in (_SQLITE_NOTADB, _SQLITE_CORRUPT)
    text = str(exc)
    return "file is not a database" in text or "malformed" in text


def storage_problem(exc: BaseException, path: Path) -> tuple[str, str]:
    """(message, hint) for a disk-level failure on ``path``; both end with what the user can do."""
    folder = path.parent
    code = _sqlite_code(exc) if isinstance(exc, sqlite3.Error) else 0
    err = exc.errno if isinstance(exc, OSError) else None
    text = str(exc).lower()
    if code == _SQLITE_FULL or err in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return (
            f"The disk is full: ModelDesk could not write {path.name}.",
            f"Free space in {folder} and retry; nothing was lost.",
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM) or err in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"The data folder {folder} is read-only or not yours: ModelDesk could not write {path.name}.",
            "Make it writable (or set MODELDESK_HOME to a folder you can write to) and retry; nothing was lost.",
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text:
        return (
            f"{path} is locked by another ModelDesk process.",
            "Wait for it to finish (or close it) and retry; nothing was lost.",
        )
    if code == _SQLITE_CANTOPEN:
        return (
            f"Cannot open {path}.",
            f"Check that {folder} exists and is writable (or set MODELDESK_HOME to another folder) and "
            "retry; nothing was moved or deleted.",
        )
    detail = getattr(exc, "strerror", None) or str(exc)
    if code == _SQLITE_IOERR or err == errno.EIO:
        return (
            f"A disk error stopped ModelDesk using {path} ({detail}).",
            "Check the disk and retry; nothing was moved or deleted.",
        )
    return (f"Cannot use {path} ({detail}).", "Check the data folder and retry; nothing was lost.")
