"""How long ModelDesk waits for a source, and how much of a reply it reads.

A server is input like any other: it may never answer, stall after the headers, trickle a byte a
second, send an endless body or JSON nested 200,000 deep. Each of these is bounded here so one bad
source costs a clear per-source error, never the sync of the others or the process.

Timeouts are per source, in its settings ``options`` (``connect_timeout``, ``read_timeout``,
``sync_timeout``, in seconds), set with ``modeldesk source timeouts NAME``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from desktop_app.core.errors import InvalidInput

__all__ = [
    "MAX_ERROR_BODY",
    "MAX_JSON_DEPTH",
    "MAX_LIST_BODY",
    "MAX_REPLY_BODY",
    "MAX_SHOW_BODY",
    "MAX_TIMEOUT",
    "TIMEOUT_OPTIONS",
    "Timeouts",
    "parse_seconds",
]

MiB = 1024 * 1024
# The model list: 150 Ollama models are ~60 KB, OpenRouter's whole catalogue ~2 MB.
MAX_LIST_BODY = 32 * MiB
# One /api/show reply: the Modelfile, template, license and model_info (no tokenizer arrays) ~100 KB.
MAX_SHOW_BODY = 16 * MiB
# A whole (non-streamed) reply of any other kind; embeddings of a big batch are the largest.
MAX_REPLY_BODY = 256 * MiB
# An error reply or /api/version: a few fields.
MAX_ERROR_BODY = 1 * MiB
# Real replies nest a handful of levels; Python's parser overflows its stack near 1000.
MAX_JSON_DEPTH = 200

MAX_TIMEOUT = 3600.0
TIMEOUT_OPTIONS = {"connect": "connect_timeout", "read": "read_timeout", "sync": "sync_timeout"}


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for one source.

    - ``connect``: to open a connection (a host that is off or firewalled).
    - ``read``: for the next bytes of a chat, pull or embed reply; long, since the server loads the
      model from disk before its first byte (minutes for a big model on a slow disk).
    - ``sync``: a sync or doctor check of the source gives up when no reply has arrived for this
      long, and each listing request (version, model list, one /api/show) must finish within it. The
      deadline moves on with every reply, so 150 models on a slow old server still finish as long
      as each /api/show comes back; a server that never answers, stalls, or trickles is marked down
      after ``sync`` seconds. ``sync_cap`` bounds the whole sync whatever the progress.
    """

    connect: float = 5.0
    read: float = 300.0
    sync: float = 30.0

    @property
    def sync_cap(self) -> float:
        return max(600.0, self.sync * 20)

    @property
    def sync_read(self) -> float:
        """The read timeout of listing requests: a stalled listing fails within ``sync``."""
        return min(self.read, self.sync)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Timeouts:
        """The source's timeouts; a missing or unusable value (hand-edited settings) is the default."""
        values: dict[str, float] = {}
        for field, key in TIMEOUT_OPTIONS.items():
            raw = options.get(key)
            if raw is None:
                continue
            try:
                values[field] = parse_seconds(raw, key)
            except InvalidInput:
                continue
        return cls(**values)


def parse_seconds(value: Any, what: str) -> float:
    """A timeout in seconds (0 < s <= 3600), or InvalidInput naming the setting."""
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be a number of seconds, not {value!r}.")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a number of seconds, not {str(value)[:40]!r}.") from None
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TIMEOUT:
        raise InvalidInput(f"{what} must be more than 0 and at most {MAX_TIMEOUT:.0f} seconds.")
    return seconds
