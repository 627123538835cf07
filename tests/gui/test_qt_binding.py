"""The installed Qt binding must not drop references (PySide6 6.12.0 does on Python < 3.12: every call
of a void method loses a reference to None, and the window dies after a few minutes of use)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_void_calls_keep_none_alive() -> None:
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.setObjectName("x")
    assert sys.getrefcount(None) - before > -10, "this PySide6 leaks references to None; see pyproject.toml"
