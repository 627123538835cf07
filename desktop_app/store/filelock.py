"""An inter-process lock on a small file in the data dir, so read-modify-write of shared files
(settings, moving a damaged registry aside) is one step for every ModelDesk process at once.

POSIX uses ``fcntl.flock`` (Linux, macOS); Windows locks the file's first byte with ``msvcrt``. Both
locks belong to an open file, so two threads of one process exclude each other too, and the OS drops
the lock when a process dies (a crash never leaves it held). Where neither exists the lock degrades to
none, which is what ModelDesk did before it had one.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LockTimeout", "file_lock"]

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]


class LockTimeout(OSError):
    """Another process held the lock for longer than the timeout (a hung ModelDesk)."""


_warned = False


def _try_lock(fd: int, shared: bool = False) -> bool:
    global _warned
    try:
        if fcntl is not None:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        elif msvcrt is not None:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except BlockingIOError:
        return False  # POSIX: held by another process
    except OSError as exc:
        if msvcrt is not None and exc.errno in (errno.EACCES, errno.EDEADLK):
            return False  # Windows: held by another process
        # A filesystem without locks (some network mounts answer ENOLCK): go on unlocked, as before.
        if not _warned:
            _warned = True
            log.warning("cannot lock files in this folder (%s); concurrent changes are not guarded", exc)
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    elif msvcrt is not None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


@contextmanager
def file_lock(path: Path, *, timeout: float = 30.0, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing). Raises ``OSError`` when the file cannot
    be made (read-only folder, full disk) and ``LockTimeout`` after ``timeout`` seconds of waiting.

    ``shared``: many holders at once, none while an exclusive holder has it (POSIX; Windows' byte
    locks have no shared mode, so there it is exclusive: the holders take turns)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not _try_lock(fd, shared):
            if time.monotonic() > deadline:
                raise LockTimeout(f"another ModelDesk process has held {path} for over {timeout:.0f} s")
            time.sleep(delay)  # a critical section is a few milliseconds: poll, backing off a little
            delay = min(delay * 2, 0.05)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
