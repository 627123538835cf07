"""Evaluation suites in GitHub's ``.prompt.yml`` format, as ``gh models eval`` reads them, plus
ModelDesk's extensions kept in the same file under their own keys.

GitHub's keys: ``name``, ``description``, ``model``, ``modelParameters`` (``maxTokens``, ``temperature``,
``topP``), ``responseFormat`` (``text`` | ``json_object`` | ``json_schema``), ``jsonSchema`` (a JSON
*string* with ``name`` and ``schema``), ``messages`` (``role`` + ``content`` with ``{{var}}``
templates), ``testData`` (a list of maps) and ``evaluators`` (``string``, ``llm`` or
``uses: github/<builtin>``).

ModelDesk's extensions: evaluators ``regex``, ``json`` (valid JSON / matches a schema),
``embedding_similarity`` (cosine against an embedding model) and ``tool_call`` (see ``tool_checks``), and
top-level ``models:`` (model ids to run) and ``tools:`` (tools to offer). ``gh`` ignores keys it does not know, so an extended file still loads there.

Pure: :func:`parse_suite` takes text (the caller reads the file) and raises
:class:`~desktop_app.core.errors.SuiteError` naming the file, line and key at fault. Unknown keys are
kept (and dumped back) but reported in ``Suite.warnings`` so a typo such as ``evalutors`` is seen.

Scalars follow gh's reader (yaml.v3, YAML 1.2's core schema): only ``true``/``false`` are booleans
(``yes``/``no``/``on`` stay text), ``10:30`` and ``16:9`` are text (not base-60 numbers), ``=`` is text,
dates stay text, ``<<: *base`` merges a mapping and keys written next to it override it; and a text
field keeps the scalar exactly as written (``choice: 1.0`` is the text ``"1.0"``).

Files gh runs are run here too: an evaluator with two methods uses the first (gh's order), a missing
or repeated name is given a name of its own, an unknown ``uses:`` fails that evaluator on every case;
each gets a warning, and ``strict=True`` refuses them instead. Hostile files are refused with a clear
error: more than :data:`MAX_SUITE_NODES` nodes once aliases are expanded ("billion laughs"), or
nesting deeper than Python can follow.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, NoReturn

import yaml
from pydantic import BaseModel, Field

from desktop_app.core.chat import ChatMessage, ChatOptions
from desktop_app.core.errors import SuiteError
from desktop_app.core.tool_checks import (
    CheckError,
    ToolCallCheck,
    parse_suite_tools,
    parse_tool_call_check,
    tool_call_check_to_dict,
)

__all__ = [
    "BUILTIN_EVALUATORS",
    "MAX_SUITE_NODES",
    "SUITE_SUFFIXES",
    "Choice",
    "EmbeddingCheck",
    "EvaluatorKind",
    "EvaluatorSpec",
    "JsonCheck",
    "LlmJudge",
    "ModelParameters",
    "RegexCheck",
    "StringCheck",
    "Suite",
    "SuiteMessage",
    "dump_suite",
    "format_value",
    "parse_suite",
    "placeholders",
    "render_template",
]

SUITE_SUFFIXES = (".prompt.yml", ".prompt.yaml")
BUILTIN_EVALUATORS = ("similarity", "coherence", "fluency", "relevance", "groundedness")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
ROLES = ("system", "user", "assistant")


# --------------------------------------------------------------------------------------------- templating
def _go_float(value: float) -> str:
    """A float as Go's ``fmt.Sprintf("%v", f)`` prints it (shortest digits; %e when the exponent is
    below -4 or at least 6), which is what gh puts into a template."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # position of the decimal point in the digit string
    x = point - 1
    neg = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{neg}{digits}{'0' * (point - len(digits))}"
    return f"{neg}{digits[:point]}.{digits[point:]}"


def format_value(value: Any) -> str:
    """A test-data value as text for a template. Strings as they are; numbers and booleans as gh
    prints them; null as empty text; lists and maps as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@lru_cache(maxsize=256)
def _placeholder_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so that a key that is a prefix of another never steals its match.
    ordered = sorted(keys, key=len, reverse=True)
    return re.compile("|".join(re.escape("{{" + k + "}}") for k in ordered))


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """gh's templating: each ``{{key}}`` (exactly, no spaces) becomes the value of ``key``.

    Unknown placeholders stay as they are. Unlike gh (which replaces key by key in map order) this is
    one pass, so a value that itself contains ``{{other}}`` is never expanded: the result does not
    depend on the order of the keys.
    """
    if not variables or "{{" not in template:
        return template
    keys = tuple(str(k) for k in variables)
    values = {"{{" + str(k) + "}}": v for k, v in variables.items()}
    return _placeholder_pattern(keys).sub(lambda m: format_value(values[m.group(0)]), template)


_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def placeholders(template: str) -> list[str]:
    """Names of the ``{{...}}`` placeholders in a template, in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


# --------------------------------------------------------------------------------------------- the model
class ModelParameters(BaseModel):
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None

    def to_options(self) -> ChatOptions:
        return ChatOptions(max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p)

    def is_empty(self) -> bool:
        return self.max_tokens is None and self.temperature is None and self.top_p is None


class SuiteMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = ""


class Choice(BaseModel):
    choice: str
    score: float


class StringCheck(BaseModel):
    """gh's string evaluator. Only the first non-empty of equals, contains, startsWith, endsWith is
    used (in that order); equals is exact, the others ignore case."""

    equals: str = ""
    contains: str = ""
    starts_with: str = ""
    ends_with: str = ""

    @property
    def criterion(self) -> tuple[Literal["equals", "contains", "startsWith", "endsWith"], str]:
        if self.equals:
            return "equals", self.equals
        if self.contains:
            return "contains", self.contains
        if self.starts_with:
            return "startsWith", self.starts_with
        return "endsWith", self.ends_with


class LlmJudge(BaseModel):
    """gh's llm evaluator. ``prompt`` sees the test row's variables plus ``{{completion}}``."""

    model_id: str = ""
    prompt: str
    system_prompt: str = ""
    choices: list[Choice]


class RegexCheck(BaseModel):
    """ModelDesk: passes when ``pattern`` is found in the output (``full``: the whole output matches;
    ``negate``: passes when it is *not* found). ``flags`` letters: i (ignore case), m, s, x."""

    pattern: str
    flags: str = ""
    full: bool = False
    negate: bool = False

    def compiled(self) -> re.Pattern[str]:
        return _compile_regex(self.pattern, self.flags)


@lru_cache(maxsize=256)
def _compile_regex(pattern: str, flags: str) -> re.Pattern[str]:
    value = 0
    for letter in flags:
        value |= _REGEX_FLAGS[letter]
    return re.compile(pattern, value)


_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class JsonCheck(BaseModel):
    """ModelDesk: the output is valid JSON and, when ``json_schema`` is given, matches it. A reply
    wrapped in one markdown code fence is accepted unless ``strict``."""

    json_schema: dict[str, Any] | None = None
    strict: bool = False


class EmbeddingCheck(BaseModel):
    """ModelDesk: cosine similarity between the output and ``expected`` (a template, by default the
    test row's ``{{expected}}``) under an embedding model; passes at or above ``threshold``."""

    model_id: str = ""
    expected: str = "{{expected}}"
    threshold: float = 0.8


class EvaluatorKind(StrEnum):
    STRING = "string"
    LLM = "llm"
    USES = "uses"
    REGEX = "regex"
    JSON = "json"
    EMBEDDING = "embedding_similarity"
    TOOL_CALL = "tool_call"
    INVALID = "invalid"  # gh runs it and fails it on every case (e.g. an unknown `uses:`)


class EvaluatorSpec(BaseModel):
    name: str
    kind: EvaluatorKind
    string: StringCheck | None = None
    llm: LlmJudge | None = None
    uses: str | None = None
    regex: RegexCheck | None = None
    json_check: JsonCheck | None = None
    embedding: EmbeddingCheck | None = None
    tool_call: ToolCallCheck | None = None
    problem: str = Field(default="", description="INVALID: why it fails (gh's message)")
    raw: dict[str, Any] | None = Field(default=None, description="INVALID: the evaluator as written")

    @property
    def builtin(self) -> str | None:
        """``similarity`` for ``uses: github/similarity``."""
        if self.kind is EvaluatorKind.USES and self.uses:
            return self.uses.removeprefix("github/")
        return None

    @property
    def needs_judge(self) -> bool:
        return self.kind in (EvaluatorKind.LLM, EvaluatorKind.USES)


class Suite(BaseModel):
    name: str = ""
    description: str = ""
    model: str = ""
    models: list[str] = Field(default_factory=list)
    model_parameters: ModelParameters = Field(default_factory=ModelParameters)
    response_format: Literal["text", "json_object", "json_schema"] | None = None
    json_schema: str | None = Field(default=None, description="gh's jsonSchema: a JSON string")
    messages: list[SuiteMessage] = Field(default_factory=list)
    test_data: list[dict[str, Any]] = Field(default_factory=list)
    evaluators: list[EvaluatorSpec] = Field(default_factory=list)
    tools: list[str | dict[str, Any]] = Field(
        default_factory=list, description="ModelDesk: registry tool names and inline functions to offer"
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="unknown top-level keys, kept as they were"
    )
    path: str | None = Field(default=None, exclude=True)
    warnings: list[str] = Field(default_factory=list, exclude=True)

    # -- running
    def render_messages(self, variables: Mapping[str, Any]) -> list[ChatMessage]:
        return [
            ChatMessage(role=m.role, content=render_template(m.content, variables)) for m in self.messages
        ]

    def model_ids(self) -> list[str]:
        """The models the suite asks for: its ``models:`` list, else its ``model``."""
        if self.models:
            return list(self.models)
        return [self.model] if self.model else []

    def response_format_arg(self) -> str | dict[str, Any] | None:
        """The ``response_format`` to pass to a backend: ``"json"`` for json_object, the schema
        (a dict with ``name`` and ``schema``) for json_schema, None for text."""
        if self.response_format == "json_object":
            return "json"
        if self.response_format == "json_schema" and self.json_schema:
            parsed = json.loads(self.json_schema)
            return parsed if isinstance(parsed, dict) else None
        return None

    # -- identity
    def to_dict(self) -> dict[str, Any]:
        """The suite in file form (gh's key names, then ModelDesk's, then unknown keys)."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.model:
            out["model"] = self.model
        if self.models:
            out["models"] = list(self.models)
        if not self.model_parameters.is_empty():
            mp: dict[str, Any] = {}
            if self.model_parameters.max_tokens is not None:
                mp["maxTokens"] = self.model_parameters.max_tokens
            if self.model_parameters.temperature is not None:
                mp["temperature"] = self.model_parameters.temperature
            if self.model_parameters.top_p is not None:
                mp["topP"] = self.model_parameters.top_p
            out["modelParameters"] = mp
        if self.response_format is not None:
            out["responseFormat"] = self.response_format
        if self.json_schema is not None:
            out["jsonSchema"] = self.json_schema
        out["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.test_data:
            out["testData"] = [dict(row) for row in self.test_data]
        if self.evaluators:
            out["evaluators"] = [_evaluator_to_dict(e) for e in self.evaluators]
        if self.tools:
            out["tools"] = list(self.tools)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def content_hash(self) -> str:
        """Stable hash of what the suite does (not of its formatting or comments)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _evaluator_to_dict(e: EvaluatorSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": e.name}
    if e.kind is EvaluatorKind.STRING and e.string is not None:
        s: dict[str, str] = {}
        for key, value in (
            ("equals", e.string.equals),
            ("contains", e.string.contains),
            ("startsWith", e.string.starts_with),
            ("endsWith", e.string.ends_with),
        ):
            if value:
                s[key] = value
        out["string"] = s
    elif e.kind is EvaluatorKind.LLM and e.llm is not None:
        llm: dict[str, Any] = {}
        if e.llm.model_id:
            llm["modelId"] = e.llm.model_id
        llm["prompt"] = e.llm.prompt
        if e.llm.system_prompt:
            llm["systemPrompt"] = e.llm.system_prompt
        llm["choices"] = [{"choice": c.choice, "score": c.score} for c in e.llm.choices]
        out["llm"] = llm
    elif e.kind is EvaluatorKind.USES:
        out["uses"] = e.uses
    elif e.kind is EvaluatorKind.REGEX and e.regex is not None:
        r: dict[str, Any] = {"pattern": e.regex.pattern}
        if e.regex.flags:
            r["flags"] = e.regex.flags
        if e.regex.full:
            r["full"] = True
        if e.regex.negate:
            r["negate"] = True
        out["regex"] = r
    elif e.kind is EvaluatorKind.JSON and e.json_check is not None:
        j: dict[str, Any] = {}
        if e.json_check.json_schema is not None:
            j["schema"] = e.json_check.json_schema
        if e.json_check.strict:
            j["strict"] = True
        out["json"] = j or True
    elif e.kind is EvaluatorKind.INVALID and e.raw is not None:
        out.update({k: v for k, v in e.raw.items() if k != "name"})
    elif e.kind is EvaluatorKind.EMBEDDING and e.embedding is not None:
        emb: dict[str, Any] = {}
        if e.embedding.model_id:
            emb["modelId"] = e.embedding.model_id
        if e.embedding.expected != "{{expected}}":
            emb["expected"] = e.embedding.expected
        emb["threshold"] = e.embedding.threshold
        out["embedding_similarity"] = emb
    elif e.kind is EvaluatorKind.TOOL_CALL and e.tool_call is not None:
        out["tool_call"] = tool_call_check_to_dict(e.tool_call)
    return out


# --------------------------------------------------------------------------------------------- YAML reading
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

Path = tuple[str | int, ...]


def _fmt_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Reader:
    """Keeps each key's line and each scalar's text as written, so errors can point at the line."""

    def __init__(self, file: str, *, strict: bool = False) -> None:
        self.file = file
        self.strict = strict
        self.lines: dict[Path, int] = {}
        self.scalars: dict[Path, yaml.ScalarNode] = {}
        self.warnings: list[str] = []

        self.nodes = 0

    def index(self, node: yaml.Node, path: Path = (), depth: int = 0) -> None:
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
                        key=_fmt_path((*path, key)),
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

    def _index_pairs(self, node: yaml.MappingNode, path: Path, depth: int) -> None:
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

    def line(self, path: Path) -> int | None:
        for n in range(len(path), 0, -1):
            found = self.lines.get(path[:n])
            if found is not None:
                return found
        return None

    def fail(self, path: Path, message: str) -> NoReturn:
        raise SuiteError(message, file=self.file, line=self.line(path), key=_fmt_path(path))

    def gh_runs(self, path: Path, message: str, outcome: str) -> None:
        """Something gh accepts and runs: refused when strict, else run as gh does with a warning."""
        if self.strict:
            self.fail(path, f"{message} (gh runs this file anyway; without --strict ModelDesk does too)")
        self.warn(path, f"{message}; {outcome}")

    def warn(self, path: Path, message: str) -> None:
        line = self.line(path)
        where = f"line {line}: " if line else ""
        self.warnings.append(f"{where}{_fmt_path(path)}: {message}")

    # -- typed getters
    def text(self, path: Path, value: Any, *, what: str = "text") -> str:
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

    def number(self, path: Path, value: Any, *, integer: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            want = "a whole number" if integer else "a number"
            self.fail(path, f"must be {want}, not {_describe(value)}")
        if integer and isinstance(value, float):
            self.fail(path, f"must be a whole number, not {_describe(value)}")
        return float(value)

    def flag(self, path: Path, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, not {_describe(value)}")
        return value

    def mapping(self, path: Path, value: Any, *, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be {what}, not {_describe(value)}")
        return {str(k): v for k, v in value.items()}

    def unknown_keys(self, path: Path, data: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in data:
            if key not in known:
                hint = _close_match(key, known)
                self.warn((*path, key), f"unknown key is ignored{hint}")


def _describe(value: Any) -> str:
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


TOP_KEYS = (
    "name",
    "description",
    "model",
    "models",
    "modelParameters",
    "responseFormat",
    "jsonSchema",
    "messages",
    "testData",
    "evaluators",
    "tools",
)
EVALUATOR_METHODS = ("string", "llm", "uses", "regex", "json", "embedding_similarity", "tool_call")


def parse_suite(text: str, *, file: str = "", strict: bool = False) -> Suite:
    """Parse a ``.prompt.yml`` document; ``file`` is only used in messages. ``strict`` refuses what
    gh runs but is likely a mistake (see the module docstring) instead of warning about it."""
    loader = _Loader(text)
    r = _Reader(file, strict=strict)
    try:
        node = loader.get_single_node()
        if node is not None:
            r.index(node)  # before constructing: counts nodes, finds duplicates, keeps lines
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
            f"not {_describe(data)}",
            file=file,
            line=1,
        )
    data = {str(k): v for k, v in data.items()}
    r.unknown_keys((), data, TOP_KEYS)

    suite = Suite(
        name=r.text(("name",), data.get("name")),
        description=r.text(("description",), data.get("description")),
        model=r.text(("model",), data.get("model")).strip(),
        models=_parse_models(r, data.get("models")),
        model_parameters=_parse_parameters(r, data.get("modelParameters")),
        messages=_parse_messages(r, data.get("messages")),
        test_data=_parse_test_data(r, data.get("testData")),
        extra={k: v for k, v in data.items() if k not in TOP_KEYS},
        path=file or None,
    )
    suite.response_format, suite.json_schema = _parse_response_format(
        r, data.get("responseFormat"), data.get("jsonSchema"), "jsonSchema" in data
    )
    suite.evaluators = _parse_evaluators(r, data.get("evaluators"))
    try:
        suite.tools = parse_suite_tools(data.get("tools"))
    except CheckError as exc:
        r.fail(("tools", *exc.path), exc.message)
    _check_variables(r, suite)
    suite.warnings = r.warnings
    return suite


def _parse_models(r: _Reader, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        r.fail(("models",), f"must be a list of model ids, not {_describe(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        text = r.text(("models", i), item, what="a model id").strip()
        if not text:
            r.fail(("models", i), "a model id cannot be empty")
        out.append(text)
    return list(dict.fromkeys(out))


def _parse_parameters(r: _Reader, value: Any) -> ModelParameters:
    if value is None:
        return ModelParameters()
    path: Path = ("modelParameters",)
    data = r.mapping(path, value, what="a mapping of maxTokens, temperature, topP")
    r.unknown_keys(path, data, ("maxTokens", "temperature", "topP"))
    params = ModelParameters()
    if data.get("maxTokens") is not None:
        n = int(r.number((*path, "maxTokens"), data["maxTokens"], integer=True))
        if n < 1:
            r.fail((*path, "maxTokens"), f"must be at least 1, not {n}")
        params.max_tokens = n
    if data.get("temperature") is not None:
        t = r.number((*path, "temperature"), data["temperature"])
        if t < 0:
            r.fail((*path, "temperature"), f"must be 0 or more, not {data['temperature']}")
        params.temperature = t
    if data.get("topP") is not None:
        p = r.number((*path, "topP"), data["topP"])
        if not 0 <= p <= 1:
            r.fail((*path, "topP"), f"must be between 0 and 1, not {data['topP']}")
        params.top_p = p
    return params


def _parse_messages(r: _Reader, value: Any) -> list[SuiteMessage]:
    path: Path = ("messages",)
    if value is None:
        r.fail(path, "is missing: a suite needs at least one message (e.g. a user message with {{input}})")
    if not isinstance(value, list):
        r.fail(path, f"must be a list of messages (role and content), not {_describe(value)}")
    if not value:
        r.fail(path, "is empty: a suite needs at least one message")
    out: list[SuiteMessage] = []
    for i, item in enumerate(value):
        mpath: Path = (*path, i)
        msg = r.mapping(mpath, item, what="a message with role and content")
        r.unknown_keys(mpath, msg, ("role", "content"))
        role = r.text((*mpath, "role"), msg.get("role")).strip().lower()
        if not role:
            r.fail((*mpath, "role"), "is missing: use system, user or assistant")
        if role not in ROLES:
            r.fail((*mpath, "role"), f"unknown message role {role!r}: use system, user or assistant")
        content = r.text((*mpath, "content"), msg.get("content"))
        out.append(SuiteMessage(role=role, content=content))
    return out


def _parse_test_data(r: _Reader, value: Any) -> list[dict[str, Any]]:
    path: Path = ("testData",)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(path, f"must be a list of test cases (each a mapping of variables), not {_describe(value)}")
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            r.fail(
                (*path, i),
                f"each test case must be a mapping of variable names to values, not {_describe(item)}",
            )
        rows.append({str(k): v for k, v in item.items()})
    return rows


def _parse_response_format(
    r: _Reader, fmt: Any, schema: Any, schema_given: bool
) -> tuple[Literal["text", "json_object", "json_schema"] | None, str | None]:
    raw_schema: str | None = None
    if schema_given and schema is not None:
        if isinstance(schema, dict | list):
            r.fail(
                ("jsonSchema",),
                "jsonSchema must be a JSON string (write the schema as JSON text, e.g. with |)",
            )
        raw_schema = r.text(("jsonSchema",), schema)
        try:
            parsed = json.loads(raw_schema)
        except ValueError as exc:
            r.fail(("jsonSchema",), f"invalid JSON in jsonSchema: {exc}")
        if not isinstance(parsed, dict):
            r.fail(("jsonSchema",), "jsonSchema must be a JSON object with 'name' and 'schema'")
    if fmt is None:
        return None, raw_schema
    text = r.text(("responseFormat",), fmt).strip()
    if text not in RESPONSE_FORMATS:
        r.fail(
            ("responseFormat",),
            f"invalid responseFormat {text!r}: must be 'text', 'json_object', or 'json_schema'",
        )
    if text == "json_schema":
        if raw_schema is None:
            r.fail(("responseFormat",), "jsonSchema is required when responseFormat is 'json_schema'")
        parsed = json.loads(raw_schema)
        for key in ("name", "schema"):
            if key not in parsed:
                r.fail(("jsonSchema",), f"jsonSchema must contain a {key!r} field")
    return text, raw_schema  # type: ignore[return-value]


def _parse_evaluators(r: _Reader, value: Any) -> list[EvaluatorSpec]:
    path: Path = ("evaluators",)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(path, f"must be a list of evaluators, not {_describe(value)}")
    out: list[EvaluatorSpec] = []
    names: dict[str, int] = {}
    for i, item in enumerate(value):
        epath: Path = (*path, i)
        ev = r.mapping(
            epath,
            item,
            what="an evaluator (name plus one of string, llm, uses, regex, json, embedding_similarity)",
        )
        name = r.text((*epath, "name"), ev.get("name")).strip()
        if not name:
            name = _free_name(f"evaluator {i + 1}", names)
            r.gh_runs((*epath, "name"), "this evaluator has no name", f"it is reported as {name!r}")
        elif name in names:
            given, name = name, _free_name(f"{name} ({i + 1})", names)
            r.gh_runs(
                (*epath, "name"),
                f"evaluator name {given!r} is used twice (first at evaluators[{names[given]}])",
                f"this one is reported as {name!r}",
            )
        names[name] = i
        r.unknown_keys(epath, ev, ("name", *EVALUATOR_METHODS))
        present = [m for m in EVALUATOR_METHODS if ev.get(m) not in (None, "")]
        if not present:
            r.fail(
                epath,
                f"evaluator {name!r} has nothing to check: give one of string, llm, uses "
                "(GitHub) or regex, json, embedding_similarity, tool_call (ModelDesk)",
            )
        if len(present) > 1:
            r.gh_runs(
                (*epath, present[1]),
                f"evaluator {name!r} has both {present[0]!r} and {present[1]!r}",
                f"only {present[0]!r} is used, as gh does",
            )
        method = present[0]
        mpath: Path = (*epath, method)
        raw = ev[method]
        if method == "string":
            out.append(
                EvaluatorSpec(name=name, kind=EvaluatorKind.STRING, string=_parse_string(r, mpath, raw))
            )
        elif method == "llm":
            out.append(EvaluatorSpec(name=name, kind=EvaluatorKind.LLM, llm=_parse_llm(r, mpath, raw)))
        elif method == "uses":
            uses = r.text(mpath, raw).strip()
            builtin = uses.removeprefix("github/")
            if not uses.startswith("github/") or builtin not in BUILTIN_EVALUATORS:
                known = ", ".join(f"github/{b}" for b in BUILTIN_EVALUATORS)
                r.gh_runs(
                    mpath,
                    f"unknown evaluator {uses!r} (the built-ins are {known})",
                    "it fails on every case, as in gh",
                )
                out.append(
                    EvaluatorSpec(
                        name=name,
                        kind=EvaluatorKind.INVALID,
                        uses=uses,
                        problem=f"unknown built-in evaluator: {uses}",
                        raw={"uses": raw},
                    )
                )
                continue
            out.append(EvaluatorSpec(name=name, kind=EvaluatorKind.USES, uses=uses))
        elif method == "regex":
            out.append(EvaluatorSpec(name=name, kind=EvaluatorKind.REGEX, regex=_parse_regex(r, mpath, raw)))
        elif method == "json":
            out.append(
                EvaluatorSpec(name=name, kind=EvaluatorKind.JSON, json_check=_parse_json(r, mpath, raw))
            )
        elif method == "tool_call":
            try:
                check = parse_tool_call_check(raw)
            except CheckError as exc:
                r.fail((*mpath, *exc.path), exc.message)
            out.append(EvaluatorSpec(name=name, kind=EvaluatorKind.TOOL_CALL, tool_call=check))
        else:
            out.append(
                EvaluatorSpec(
                    name=name, kind=EvaluatorKind.EMBEDDING, embedding=_parse_embedding(r, mpath, raw)
                )
            )
    return out


def _free_name(wanted: str, taken: Mapping[str, int]) -> str:
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted} #{n}", n + 1
    return name


def _parse_string(r: _Reader, path: Path, raw: Any) -> StringCheck:
    keys = ("equals", "contains", "startsWith", "endsWith")
    data = r.mapping(path, raw, what="a mapping with one of equals, contains, startsWith, endsWith")
    r.unknown_keys(path, data, keys)
    values = {k: r.text((*path, k), data.get(k)) for k in keys}
    given = [k for k in keys if values[k]]
    if not given:
        r.fail(path, "give one of equals, contains, startsWith, endsWith (with a non-empty value)")
    if len(given) > 1:
        r.warn((*path, given[1]), f"only {given[0]!r} is used (gh checks one criterion per string evaluator)")
    return StringCheck(
        equals=values["equals"],
        contains=values["contains"],
        starts_with=values["startsWith"],
        ends_with=values["endsWith"],
    )


def _parse_llm(r: _Reader, path: Path, raw: Any) -> LlmJudge:
    data = r.mapping(path, raw, what="a mapping with modelId, prompt, systemPrompt and choices")
    r.unknown_keys(path, data, ("modelId", "prompt", "systemPrompt", "choices"))
    prompt = r.text((*path, "prompt"), data.get("prompt"))
    if not prompt.strip():
        r.fail(
            (*path, "prompt"), "the judge needs a prompt (it can use {{completion}} and the test variables)"
        )
    if "{{completion}}" not in prompt:
        r.warn((*path, "prompt"), "does not use {{completion}}, so the judge never sees the model's reply")
    choices_raw = data.get("choices")
    cpath: Path = (*path, "choices")
    if not isinstance(choices_raw, list) or not choices_raw:
        r.fail(cpath, "the judge needs a non-empty list of choices, each with choice and score")
    choices: list[Choice] = []
    for i, item in enumerate(choices_raw):
        ipath: Path = (*cpath, i)
        c = r.mapping(ipath, item, what="a choice with choice and score")
        r.unknown_keys(ipath, c, ("choice", "score"))
        text = r.text((*ipath, "choice"), c.get("choice")).strip()
        if not text:
            r.fail((*ipath, "choice"), "every choice needs a non-empty choice text")
        if c.get("score") is None:
            r.warn((*ipath, "score"), "no score given; gh counts it as 0")
            score = 0.0
        else:
            score = r.number((*ipath, "score"), c["score"])
        choices.append(Choice(choice=text, score=score))
    return LlmJudge(
        model_id=r.text((*path, "modelId"), data.get("modelId")).strip(),
        prompt=prompt,
        system_prompt=r.text((*path, "systemPrompt"), data.get("systemPrompt")),
        choices=choices,
    )


def _parse_regex(r: _Reader, path: Path, raw: Any) -> RegexCheck:
    if isinstance(raw, str):
        data: dict[str, Any] = {"pattern": raw}
        ppath: Path = path
    else:
        data = r.mapping(path, raw, what="a pattern, or a mapping with pattern, flags, full, negate")
        r.unknown_keys(path, data, ("pattern", "flags", "full", "negate"))
        ppath = (*path, "pattern")
    pattern = r.text(ppath, data.get("pattern"))
    if not pattern:
        r.fail(ppath, "the regex evaluator needs a pattern")
    flags = r.text((*path, "flags"), data.get("flags")).strip().lower()
    bad = sorted(set(flags) - set(_REGEX_FLAGS))
    if bad:
        r.fail((*path, "flags"), f"unknown regex flag(s) {''.join(bad)!r}: use i, m, s, x")
    check = RegexCheck(
        pattern=pattern,
        flags="".join(sorted(set(flags))),
        full=r.flag((*path, "full"), data["full"]) if data.get("full") is not None else False,
        negate=r.flag((*path, "negate"), data["negate"]) if data.get("negate") is not None else False,
    )
    try:
        check.compiled()
    except re.error as exc:
        r.fail(ppath, f"invalid regular expression: {exc}")
    return check


def _parse_json(r: _Reader, path: Path, raw: Any) -> JsonCheck:
    if raw is True:
        return JsonCheck()
    if raw is False:
        r.fail(
            path,
            "use `json: true` (or a mapping with schema) to check for JSON; remove the evaluator to skip it",
        )
    data = r.mapping(path, raw, what="true, or a mapping with schema and strict")
    r.unknown_keys(path, data, ("schema", "strict"))
    schema = data.get("schema")
    spath: Path = (*path, "schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            r.fail(spath, f"the schema is neither a mapping nor valid JSON text: {exc}")
    if schema is not None and not isinstance(schema, dict):
        r.fail(spath, f"the schema must be a JSON Schema object, not {_describe(schema)}")
    if schema is not None:
        import jsonschema

        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            r.fail(spath, f"invalid JSON Schema: {exc.message}")
    strict = r.flag((*path, "strict"), data["strict"]) if data.get("strict") is not None else False
    return JsonCheck(json_schema=schema, strict=strict)


def _parse_embedding(r: _Reader, path: Path, raw: Any) -> EmbeddingCheck:
    if raw is True:
        return EmbeddingCheck()
    data = r.mapping(path, raw, what="a mapping with modelId, threshold and expected")
    r.unknown_keys(path, data, ("modelId", "threshold", "expected"))
    check = EmbeddingCheck(model_id=r.text((*path, "modelId"), data.get("modelId")).strip())
    if data.get("threshold") is not None:
        t = r.number((*path, "threshold"), data["threshold"])
        if not -1 <= t <= 1:
            r.fail((*path, "threshold"), f"a cosine threshold is between -1 and 1, not {data['threshold']}")
        check.threshold = t
    if data.get("expected") is not None:
        check.expected = r.text((*path, "expected"), data["expected"])
        if not check.expected.strip():
            r.fail((*path, "expected"), "cannot be empty (default: {{expected}})")
    return check


def _check_variables(r: _Reader, suite: Suite) -> None:
    """Warn about placeholders no test case defines (gh leaves them in the text as they are)."""
    if not suite.test_data:
        return
    defined = set.intersection(*(set(row) for row in suite.test_data))
    templates: list[tuple[Path, str, set[str]]] = []
    for i, m in enumerate(suite.messages):
        templates.append((("messages", i, "content"), m.content, set()))
    for i, e in enumerate(suite.evaluators):
        base: Path = ("evaluators", i)
        if e.string is not None:
            kind, value = e.string.criterion
            templates.append(((*base, "string", kind), value, set()))
        if e.llm is not None:
            templates.append(((*base, "llm", "prompt"), e.llm.prompt, {"completion"}))
        if e.embedding is not None:
            templates.append(((*base, "embedding_similarity"), e.embedding.expected, set()))
        if e.builtin is not None:
            from desktop_app.core.evaluators import builtin_judge

            templates.append(((*base, "uses"), builtin_judge(e.builtin).prompt, {"completion"}))
    for path, text, extra in templates:
        for name in placeholders(text):
            if name != name.strip() and name.strip() in defined | extra:
                r.warn(
                    path,
                    f"{{{{{name}}}}} has spaces inside the braces; gh only replaces {{{{{name.strip()}}}}}",
                )
            elif name not in defined and name not in extra:
                missing = [str(i) for i, row in enumerate(suite.test_data) if name not in row]
                which = (
                    "no test case defines it"
                    if len(missing) == len(suite.test_data)
                    else (f"test case(s) {', '.join(missing[:5])} do not define it")
                )
                r.warn(path, f"uses {{{{{name}}}}} but {which}; it stays in the text as written")


# --------------------------------------------------------------------------------------------- writing
# libyaml's emitter when PyYAML has it: the same text ten times faster (a 600-case suite's run-file
# header took ~80 ms of the run's wall time with the pure-Python one).
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_representer)


def dump_suite(suite: Suite) -> str:
    """The suite as ``.prompt.yml`` text (gh's key order; ModelDesk keys where gh ignores them)."""
    text = yaml.dump(suite.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return str(text)
