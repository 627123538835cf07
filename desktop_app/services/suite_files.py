"""Reading a suite file from disk: only a regular file of bounded size (parsing is
``core/suite_parse.py``)."""

from __future__ import annotations

import stat
from pathlib import Path

from desktop_app.core.errors import SuiteError
from desktop_app.core.suite import Suite
from desktop_app.core.suite_parse import parse_suite

__all__ = ["MAX_SUITE_BYTES", "load_suite"]

MAX_SUITE_BYTES = 16 * 1024 * 1024  # a suite is text a person wrote; 16 MB is far beyond any


def load_suite(path: str | Path, *, strict: bool = False) -> Suite:
    """Read and parse a ``.prompt.yml`` file (errors name the file, line and key). Only a regular
    file of at most :data:`MAX_SUITE_BYTES` is read: a FIFO would wait forever for a writer and
    ``/dev/zero`` never ends. ``strict`` refuses files gh runs but that are likely mistakes."""
    p = Path(path)
    try:
        info = p.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise SuiteError(
                "is not a regular file (a pipe, a device or a socket); give a .prompt.yml file", file=str(p)
            )
        if info.st_size > MAX_SUITE_BYTES:
            raise SuiteError(_too_big(info.st_size), file=str(p))
        with open(p, "rb") as fh:
            raw = fh.read(MAX_SUITE_BYTES + 1)
        if len(raw) > MAX_SUITE_BYTES:  # it grew while being read
            raise SuiteError(_too_big(len(raw)), file=str(p))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SuiteError("no such file", file=str(p)) from None
    except IsADirectoryError:
        raise SuiteError("is a folder, not a .prompt.yml file", file=str(p)) from None
    except UnicodeDecodeError:
        raise SuiteError("is not UTF-8 text", file=str(p)) from None
    except OSError as exc:
        raise SuiteError(f"cannot be read ({exc.strerror or exc})", file=str(p)) from None
    return parse_suite(text, file=str(p), strict=strict)


def _too_big(size: int) -> str:
    return (
        f"is {size / 1024 / 1024:.0f} MB or more; a suite is read only up to "
        f"{MAX_SUITE_BYTES // 1024 // 1024} MB (put large test data in several suites)"
    )
