"""Stream-parse one array of a JSON object reply: ``{"models": [ {...}, {...} ], ...}``.

A listing of 100,000 models is ~50 MB of JSON; ``json.loads`` of it at once holds every entry as a dict
(~300 MB). Here the bytes are fed as they arrive and each element of the wanted array comes out as soon
as it is complete (``json.JSONDecoder.raw_decode``, C speed), so the caller can turn it into a compact
row and drop it. Anything else at the top level is decoded whole and ignored.

Only replies of the expected shape stream: when the top level is not an object, or the key's value is
not an array, ``Unexpected`` is raised before any element came out, and the caller parses the whole
body the ordinary way (which gives the usual error messages).
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

__all__ = ["ArrayStream", "Broken", "Unexpected"]

_WS = re.compile(r"[ \t\n\r]*")
_SEP = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")  # between two elements
_DECODER = json.JSONDecoder()
_ENDS = frozenset((",", "]", "}", " ", "\t", "\n", "\r"))


class Unexpected(Exception):
    """The reply is not ``{..., key: [...], ...}``; nothing was yielded yet: parse it whole instead."""


class Broken(Exception):
    """The reply broke off or went wrong after elements were yielded (``where`` says at which element)."""

    def __init__(self, where: int) -> None:
        super().__init__(where)
        self.where = where


class ArrayStream:
    """Feed bytes; get back the completed elements of ``key``'s array, in order."""

    def __init__(self, key: str) -> None:
        self._key = key
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._buf = ""
        self._pos = 0
        # start → key → colon → value → after (→ key …) → end; inside the array: item / item_sep
        self._state = "start"
        self._current = ""  # the key whose value comes next
        self._in_array = False
        self.seen_array = False  # the array started: a failure now is Broken, not Unexpected
        self.count = 0  # elements yielded

    def feed(self, data: bytes) -> list[Any]:
        try:
            self._buf = self._buf[self._pos :] + self._utf8.decode(data)
        except UnicodeDecodeError:
            raise self._fail() from None
        self._pos = 0
        return self._run(final=False)

    def close(self) -> list[Any]:
        """The body ended: the last elements, or Unexpected/Broken when the reply is incomplete."""
        try:
            self._buf = self._buf[self._pos :] + self._utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            raise self._fail() from None
        self._pos = 0
        out = self._run(final=True)
        if self._state != "end" or _WS.match(self._buf, self._pos).end() != len(self._buf):  # type: ignore[union-attr]
            raise self._fail()
        return out

    def _fail(self) -> Exception:
        return Broken(self.count) if self.seen_array else Unexpected()

    def _skip(self) -> str:
        """Skip whitespace; the next character ('' when the buffer is used up)."""
        m = _WS.match(self._buf, self._pos)
        assert m is not None
        self._pos = m.end()
        return self._buf[self._pos] if self._pos < len(self._buf) else ""

    def _decode(self, final: bool) -> tuple[bool, Any]:
        """(True, value) for a complete value at the position; (False, None) when more bytes are needed."""
        try:
            value, end = _DECODER.raw_decode(self._buf, self._pos)
        except ValueError:
            if final:
                raise self._fail() from None
            return False, None
        except RecursionError:
            raise self._fail() from None
        if not final and not isinstance(value, (dict, list, str)) and self._buf[end : end + 1] not in _ENDS:
            return False, None  # a number or literal may go on in the next chunk ("1" of "1.5")
        self._pos = end
        return True, value

    def _bulk(self, out: list[Any]) -> bool:
        """Every complete object element up to the last ``},{`` in the buffer, in one ``json.loads``.
        A cut that is not between two elements (inside a string, or after a nested object) leaves
        JSON that does not parse, never JSON that parses to something else: then False, and they are
        taken one at a time."""
        buf, pos = self._buf, self._pos
        cut = max(buf.rfind("},{", pos), buf.rfind("}, {", pos))
        if cut <= pos:
            return False
        try:
            items = json.loads("[" + buf[pos : cut + 1] + "]")
        except (ValueError, RecursionError):
            return False
        out += items
        self.count += len(items)
        self._pos = cut + 1
        self._state = "item_sep"
        return True

    def _items(self, out: list[Any], final: bool) -> bool:
        """The elements that follow, as long as each is complete and followed by a comma: many in one
        ``json.loads`` where they can be cut apart, else one C-speed decode and one regex each (a
        listing has 100,000). False when not even the first could be taken here; the general loop then
        says whether more bytes are needed or the reply is bad."""
        if self._bulk(out):
            return True
        buf, pos, n = self._buf, self._pos, 0
        decode, sep = _DECODER.raw_decode, _SEP.match
        while True:
            try:
                value, end = decode(buf, pos)
            except (ValueError, RecursionError):
                break
            if not final and not isinstance(value, (dict, list, str)) and buf[end : end + 1] not in _ENDS:
                break  # a number or literal may go on in the next chunk
            out.append(value)
            n += 1
            m = sep(buf, end)
            if m is None:
                pos = end
                self._state = "item_sep"
                break
            pos = m.end()
        self._pos = pos
        self.count += n
        return n > 0

    def _run(self, final: bool) -> list[Any]:
        out: list[Any] = []
        while True:
            c = self._skip()
            if not c:
                return out
            state = self._state
            if state == "start":
                if c != "{":
                    raise self._fail()
                self._pos += 1
                self._state = "key"
            elif state == "key":
                if c == "}":
                    self._pos += 1
                    self._state = "end"
                    continue
                if c != '"':
                    raise self._fail()
                done, key = self._decode(final)
                if not done:
                    return out
                self._current = key
                self._state = "colon"
            elif state == "colon":
                if c != ":":
                    raise self._fail()
                self._pos += 1
                self._state = "value"
            elif state == "value":
                if self._current == self._key and not self.seen_array:
                    if c != "[":
                        raise self._fail()
                    self._pos += 1
                    self.seen_array = True
                    self._state = "item"
                    continue
                done, _ = self._decode(final)
                if not done:
                    return out
                self._state = "after"
            elif state == "after":
                if c == ",":
                    self._pos += 1
                    self._state = "key"
                elif c == "}":
                    self._pos += 1
                    self._state = "end"
                else:
                    raise self._fail()
            elif state == "item":  # just after "["
                if c == "]":
                    self._pos += 1
                    self._state = "after"
                    continue
                done, value = self._decode(final)
                if not done:
                    return out
                out.append(value)
                self.count += 1
                self._state = "item_sep"
            elif state == "item_sep":
                if c == ",":
                    self._pos += 1
                    self._state = "item_next"
                elif c == "]":
                    self._pos += 1
                    self._state = "after"
                else:
                    raise self._fail()
            elif state == "item_next":
                if c == "]":
                    raise self._fail()
                if self._items(out, final):
                    continue
                done, value = self._decode(final)
                if not done:
                    return out
                out.append(value)
                self.count += 1
                self._state = "item_sep"
            else:  # "end": only whitespace may follow
                raise self._fail()
