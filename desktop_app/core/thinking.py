"""Split ``<think>…</think>`` reasoning out of streamed content.

Some models (deepseek-r1 on older servers, many OpenAI-compatible servers) put their reasoning inside
the content between think tags instead of a separate field. The splitter works on a stream: a tag may
arrive cut across two chunks, so a possible tag prefix at the end of a chunk is held back.
"""

from __future__ import annotations

__all__ = ["ThinkSplitter"]

_OPEN, _CLOSE = "<think>", "</think>"


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkSplitter:
    def __init__(self) -> None:
        self._inside = False
        self._held = ""

    def feed(self, text: str) -> tuple[str, str]:
        """Return ``(content, thinking)`` that can be shown now."""
        data = self._held + text
        self._held = ""
        content: list[str] = []
        thinking: list[str] = []
        while data:
            tag = _CLOSE if self._inside else _OPEN
            idx = data.find(tag)
            if idx >= 0:
                (thinking if self._inside else content).append(data[:idx])
                data = data[idx + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(data, tag)
            emit = data[: len(data) - keep] if keep else data
            (thinking if self._inside else content).append(emit)
            self._held = data[len(data) - keep :] if keep else ""
            break
        return "".join(content), "".join(thinking)

    def flush(self) -> tuple[str, str]:
        held, self._held = self._held, ""
        return ("", held) if self._inside else (held, "")
