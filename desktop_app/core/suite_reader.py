"""Reading a ``.prompt.yml`` document: YAML as gh's reader (yaml.v3) reads it, with caps against hostile
files, and :class:`SuiteReader`, which keeps each key's line so that every error and warning names the
file, line and key at fault.

Scalars follow yaml.v3 (YAML 1.2's core schema): only ``true``/``false`` are booleans (``yes``/``no``/
``on`` stay text), ``10:30`` and ``16:9`` are text (not base-60 numbers), ``=`` is text, dates stay text,
``<<: *base`` merges a mapping and keys written next to it override it; and a text field keeps the
scalar exactly as written (``choice: 1.0`` is the text ``"1.0"``). A file that expands to more than
:data:`MAX_SUITE_NODES` nodes once aliases are expanded ("billion laughs"), or that nests deeper than
Python can follow, is refused with a clear error. Pure: takes text, the caller reads the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import yaml

from desktop_app.core.errors import SuiteError

__all__ = ["MAX_SUITE_NODES", "CheckError", "KeyPath", "SuiteReader", "describe", "fmt_path"]

MAX_SUITE_NODES = 500_000  # YAML nodes once aliases are expanded; a real suite has far fewer


class _Loader(yaml.SafeLoader):
    """SafeLoader reading plain scalars as gh's yaml.v3 does (YAML 1.2 core schema, with yaml.v3's
    own leniencies): null, true/false, ints (``0x``, ``0o``, ``0b``, ``_`` separators, and a leading
    ``0`` as octal, as Go's ParseInt reads them), floats, ``.inf``/``.nan`` and the ``<<`` merge key.
    Everything else is text: no YAML 1.1 base-60 numbers (``10:30``), no ``yes``/``no``, no ``=``
    value key, no timestamps (dates stay as written)."""


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int | float | str:
    """An int as yaml.v3 reads it: underscores dropped, then Go's ``strconv.ParseInt(s, 0, 64)``
    (``0x``/``0o``/``0b``, and ``0`` + digits as octal); ``09`` is not octal, so it is the float 9."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    body = plain.lstrip("+-")
    bases = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
    try:
        if body[:2] in bases:
            return sign * int(body[2:], bases[body[:2]])
        if len(body) > 1 and body.startswith("0"):
            try:
                return sign * int(body, 8)
            except ValueError:
                return float(plain)
        return sign * int(body)
    except ValueError:
        return text


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = str(loader.construct_scalar(node)).replace("_", "").lower()  # type: ignore[arg-type]
    if text.lstrip("+-") == ".inf":
        return -math.inf if text.startswith("-") else math.inf
    if text == ".nan":
        return math.nan
    return float(text)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)

KeyPath = tuple[str | int, ...]
"""Where a value sits in the document: ``("evaluators", 0, "llm", "prompt")``."""


class CheckError(ValueError):
    """A malformed value found by a parser that has no reader; ``path`` is relative to the key being
    read (the caller turns it into a :class:`SuiteError` with :meth:`SuiteReader.fail`)."""

    def __init__(self, path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def fmt_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class SuiteReader:
    """Keeps each key's line and each scalar's text as written, so errors can point at the line."""

    def __init__(self, file: str, *, strict: bool = False) -> None:
        self.file = file
        self.strict = strict
        self.lines: dict[KeyPath, int] = {}
        self.scalars: dict[KeyPath, yaml.ScalarNode] = {}
        self.warnings: list[str] = []

        self.nodes = 0

    def read(self, text: str) -> dict[str, Any]:
        """The document's top-level mapping, read as yaml.v3 reads it (indexing lines on the way)."""
        file = self.file
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                self.index(node)  # before constructing: counts nodes, finds duplicates, keeps lines
            data = loader.construct_document(node) if node is not None else None
        except RecursionError:
            raise SuiteError(
                "the YAML is nested too deeply to read; a suite needs a few levels", file=file
            ) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "unreadable"
            raise SuiteError(
                f"not valid YAML: {problem}", file=file, line=mark.line + 1 if mark else None
            ) from None
        except yaml.YAMLError as exc:
            raise SuiteError(f"not valid YAML: {exc}", file=file) from None
        finally:
            loader.dispose()
        if node is None or data is None:
            raise SuiteError("the file is empty; a suite needs at least messages", file=file)
        if not isinstance(data, dict):
            raise SuiteError(
                "the file must be a YAML mapping (name, model, messages, testData, evaluators), "
                f"not {describe(data)}",
                file=file,
                line=1,
            )
        return {str(k): v for k, v in data.items()}

    def index(self, node: yaml.Node, path: KeyPath = (), depth: int = 0) -> None:
        """Record lines and scalars, find real duplicate keys, and count the nodes with aliases
        expanded (the composed graph is small even when its expansion is not). Must run before the
        document is constructed: PyYAML's constructor rewrites merge keys in place."""
        self._count()
        if depth > 64:  # deeper than any suite: only counted (with aliases expanded), not recorded
            stack = [node]
            while stack:
                item = stack.pop()
                if isinstance(item, yaml.MappingNode):
                    for pair in item.value:
                        self._count(2)
                        stack.extend(pair)
                elif isinstance(item, yaml.SequenceNode):
                    self._count(len(item.value))
                    stack.extend(item.value)
            return
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            merges = [v for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]
            for merged in merges:  # first, so that the mapping's own keys override them
                for sub in merged.value if isinstance(merged, yaml.SequenceNode) else [merged]:
                    if isinstance(sub, yaml.MappingNode):
                        self._index_pairs(sub, path, depth)
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise SuiteError(
                        f"duplicate key {key!r} (first given on line {seen[key]})",
                        file=self.file,
                        line=line,
                        key=fmt_path((*path, key)),
                    )
                seen[key] = line
                self.lines[(*path, key)] = line
                self.index(value_node, (*path, key), depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                self.index(item, (*path, i), depth + 1)
        elif isinstance(node, yaml.ScalarNode):
            self.scalars[path] = node

    def _count(self, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > MAX_SUITE_NODES:
            raise SuiteError(
                f"the file expands to more than {MAX_SUITE_NODES:,} YAML nodes (aliases referring to "
                "aliases, as in a 'billion laughs' file); a suite is far smaller",
                file=self.file,
            )

    def _index_pairs(self, node: yaml.MappingNode, path: KeyPath, depth: int) -> None:
        """A merged mapping's keys, as if written here (no duplicate check: later keys override)."""
        self.index(yaml.MappingNode(node.tag, []), path, depth)  # counts this node
        for merged in [v for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]:
            for sub in merged.value if isinstance(merged, yaml.SequenceNode) else [merged]:
                if isinstance(sub, yaml.MappingNode):
                    self._index_pairs(sub, path, depth)
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                self.lines[(*path, key_node.value)] = key_node.start_mark.line + 1
                self.index(value_node, (*path, key_node.value), depth + 1)

    def line(self, path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            found = self.lines.get(path[:n])
            if found is not None:
                return found
        return None

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise SuiteError(message, file=self.file, line=self.line(path), key=fmt_path(path))

    def gh_runs(self, path: KeyPath, message: str, outcome: str) -> None:
        """Something gh accepts and runs: refused when strict, else run as gh does with a warning."""
        if self.strict:
            self.fail(path, f"{message} (gh runs this file anyway; without --strict ModelDesk does too)")
        self.warn(path, f"{message}; {outcome}")

    def warn(self, path: KeyPath, message: str) -> None:
        line = self.line(path)
        where = f"line {line}: " if line else ""
        self.warnings.append(f"{where}{fmt_path(path)}: {message}")

    # -- typed getters
    def text(self, path: KeyPath, value: Any, *, what: str = "text") -> str:
        """A text field as gh reads it: any scalar, exactly as written; null is empty."""
        if value is None:
            return ""
        if isinstance(value, dict | list):
            kind = "a mapping" if isinstance(value, dict) else "a list"
            self.fail(path, f"must be {what}, not {kind}")
        node = self.scalars.get(path)
        if node is not None and node.tag != "tag:yaml.org,2002:binary":
            return str(node.value)
        return str(value)

    def number(self, path: KeyPath, value: Any, *, integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            want = "a whole number" if integer else "a number"
            self.fail(path, f"must be {want}, not {describe(value)}")
        if integer and isinstance(value, float):
            self.fail(path, f"must be a whole number, not {describe(value)}")
        return float(value)

    def flag(self, path: KeyPath, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {describe(value)}")
        return value

    def mapping(self, path: KeyPath, value: Any, *, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be {what}, not {describe(value)}")
        return {str(k): v for k, v in value.items()}

    def unknown_keys(self, path: KeyPath, data: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in data:
            if key not in known:
                hint = _close_match(key, known)
                self.warn((*path, key), f"unknown key is ignored{hint}")


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    return f"{value!r}"


def _close_match(key: str, known: Sequence[str]) -> str:
    import difflib

    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    if not match:
        lowered = {k.lower(): k for k in known}
        if key.lower() in lowered:
            match = [lowered[key.lower()]]
    return f" (did you mean {match[0]!r}?)" if match else ""
