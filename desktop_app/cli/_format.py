"""Plain-text formatting for the terminal: sizes, durations, tables, progress bars."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

__all__ = ["bar", "human_seconds", "table", "use_color"]


def human_seconds(s: float | None) -> str:
    if s is None or s != s or s == float("inf"):
        return "--:--"
    s = max(0, int(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def bar(fraction: float | None, width: int = 24) -> str:
    if fraction is None:
        return "[" + " " * width + "]"
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    total = shutil.get_terminal_size((120, 20)).columns
    # Shrink the widest column if the table would wrap.
    while sum(widths) + 2 * (len(widths) - 1) > total and max(widths) > 12:
        widths[widths.index(max(widths))] -= 1

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = cell if len(cell) <= widths[i] else cell[: widths[i] - 1] + "…"
            out.append(text.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines)


def use_color(stream: object = sys.stdout) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())
