"""Reading a ``.prompt.yml`` document into a :class:`~desktop_app.core.suite.Suite`.

Pure: :func:`parse_suite` takes text (the caller reads the file) and raises
:class:`~desktop_app.core.errors.SuiteError` naming the file, line and key at fault. Unknown keys are
kept (and dumped back) but reported in ``Suite.warnings`` so a typo such as ``evalutors`` is seen. Each
evaluator entry is read by its kind's ``parse`` from the ``EVALUATORS`` table; this module names none.

Files gh runs are run here too: an evaluator with two methods uses the first (gh's order), a missing
or repeated name is given a name of its own, an unknown ``uses:`` fails that evaluator on every case;
each gets a warning, and ``strict=True`` refuses them instead. Hostile YAML is refused by the reader
(``core/suite_reader.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from desktop_app.core.evaluators import EVALUATORS, file_keys
from desktop_app.core.suite import EvaluatorSpec, ModelParameters, Suite, SuiteMessage
from desktop_app.core.suite_reader import CheckError, KeyPath, SuiteReader, describe
from desktop_app.core.suite_tools import parse_suite_tools
from desktop_app.core.templating import placeholders

__all__ = ["TOP_KEYS", "parse_suite"]

RESPONSE_FORMATS = ("text", "json_object", "json_schema")
ROLES = ("system", "user", "assistant")
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


def parse_suite(text: str, *, file: str = "", strict: bool = False) -> Suite:
    """Parse a ``.prompt.yml`` document; ``file`` is only used in messages. ``strict`` refuses what
    gh runs but is likely a mistake (see the module docstring) instead of warning about it."""
    r = SuiteReader(file, strict=strict)
    data = r.read(text)
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


def _parse_models(r: SuiteReader, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        r.fail(("models",), f"must be a list of model ids, not {describe(value)}")
    out: list[str] = []
    for i, item in enumerate(value):
        text = r.text(("models", i), item, what="a model id").strip()
        if not text:
            r.fail(("models", i), "a model id cannot be empty")
        out.append(text)
    return list(dict.fromkeys(out))


def _parse_parameters(r: SuiteReader, value: Any) -> ModelParameters:
    if value is None:
        return ModelParameters()
    path: KeyPath = ("modelParameters",)
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


def _parse_messages(r: SuiteReader, value: Any) -> list[SuiteMessage]:
    path: KeyPath = ("messages",)
    if value is None:
        r.fail(path, "is missing: a suite needs at least one message (e.g. a user message with {{input}})")
    if not isinstance(value, list):
        r.fail(path, f"must be a list of messages (role and content), not {describe(value)}")
    if not value:
        r.fail(path, "is empty: a suite needs at least one message")
    out: list[SuiteMessage] = []
    for i, item in enumerate(value):
        mpath: KeyPath = (*path, i)
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


def _parse_test_data(r: SuiteReader, value: Any) -> list[dict[str, Any]]:
    path: KeyPath = ("testData",)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(path, f"must be a list of test cases (each a mapping of variables), not {describe(value)}")
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            r.fail(
                (*path, i),
                f"each test case must be a mapping of variable names to values, not {describe(item)}",
            )
        rows.append({str(k): v for k, v in item.items()})
    return rows


def _parse_response_format(
    r: SuiteReader, fmt: Any, schema: Any, schema_given: bool
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


def _parse_evaluators(r: SuiteReader, value: Any) -> list[EvaluatorSpec]:
    path: KeyPath = ("evaluators",)
    if value is None:
        return []
    if not isinstance(value, list):
        r.fail(path, f"must be a list of evaluators, not {describe(value)}")
    keys = file_keys()
    gh_keys = [k for k in keys if EVALUATORS[k].gh]
    own_keys = [k for k in keys if not EVALUATORS[k].gh]
    out: list[EvaluatorSpec] = []
    names: dict[str, int] = {}
    for i, item in enumerate(value):
        epath: KeyPath = (*path, i)
        ev = r.mapping(epath, item, what=f"an evaluator (name plus one of {', '.join(keys)})")
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
        r.unknown_keys(epath, ev, ("name", *keys))
        present = [m for m in keys if ev.get(m) not in (None, "")]
        if not present:
            r.fail(
                epath,
                f"evaluator {name!r} has nothing to check: give one of {', '.join(gh_keys)} "
                f"(GitHub) or {', '.join(own_keys)} (ModelDesk)",
            )
        if len(present) > 1:
            r.gh_runs(
                (*epath, present[1]),
                f"evaluator {name!r} has both {present[0]!r} and {present[1]!r}",
                f"only {present[0]!r} is used, as gh does",
            )
        method = present[0]
        check = EVALUATORS[method].parse(r, (*epath, method), ev[method])
        out.append(EvaluatorSpec(name=name, check=check))
    return out


def _free_name(wanted: str, taken: Mapping[str, int]) -> str:
    name, n = wanted, 2
    while name in taken:
        name, n = f"{wanted} #{n}", n + 1
    return name


def _check_variables(r: SuiteReader, suite: Suite) -> None:
    """Warn about placeholders no test case defines (gh leaves them in the text as they are)."""
    if not suite.test_data:
        return
    defined = set.intersection(*(set(row) for row in suite.test_data))
    templates: list[tuple[KeyPath, str, frozenset[str]]] = []
    for i, m in enumerate(suite.messages):
        templates.append((("messages", i, "content"), m.content, frozenset()))
    for i, e in enumerate(suite.evaluators):
        for t in e.evaluator.templates(e.check):
            templates.append((("evaluators", i, *t.path), t.text, t.extra))
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
