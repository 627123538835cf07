"""ModelDesk's ``tool_call`` evaluator: did the model call the expected tool with the expected arguments?

```yaml
evaluators:
  - name: called the calculator
    tool_call:
      name: calculator              # the tool expected (templates allowed: "{{tool}}")
      arguments:                    # each argument: a value (exact), or {equals|regex|schema: …}
        expression: {regex: "2\\s*(\\^|\\*\\*)\\s*31"}
      strict: false                 # true: no arguments beyond those listed
  - name: answered without tools
    tool_call: {none: true}         # passes when the model called no tool
```

It passes when any call the model made in the case matches; a ``name`` whose template renders empty
(``name: "{{tool}}"`` with ``tool: ""`` in a test row) expects no call at all. The tools offered are the
suite's ``tools:`` (``core/suite_tools.py``). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from desktop_app.core.chat import ToolCall
from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    HelperAnswer,
    bool_result,
)
from desktop_app.core.suite_reader import CheckError, KeyPath, SuiteReader
from desktop_app.core.templating import render_template

__all__ = [
    "ArgMatcher",
    "ToolCallCheck",
    "ToolCallEvaluator",
    "check_tool_call",
    "match_tool_calls",
    "parse_tool_call_check",
    "tool_call_check_to_dict",
]


class ArgMatcher(BaseModel):
    kind: Literal["equals", "regex", "schema"]
    value: Any = None

    def to_yaml(self) -> Any:
        if self.kind == "equals" and not isinstance(self.value, dict):
            return self.value
        return {self.kind: self.value}


class ToolCallCheck(Check):
    kind: ClassVar[str] = "tool_call"
    name: str = ""
    arguments: dict[str, ArgMatcher] = Field(default_factory=dict)
    strict: bool = False
    none: bool = False


# ------------------------------------------------------------------------------------------ parsing
def _matcher(path: tuple[str | int, ...], raw: Any) -> ArgMatcher:
    if isinstance(raw, Mapping) and len(raw) == 1 and next(iter(raw)) in ("equals", "regex", "schema"):
        kind, value = next(iter(raw.items()))
        if kind == "regex":
            if not isinstance(value, str):
                raise CheckError((*path, "regex"), "a regex is text")
            try:
                re.compile(value)
            except re.error as exc:
                raise CheckError((*path, "regex"), f"invalid regular expression: {exc}") from None
        if kind == "schema":
            import jsonschema

            if not isinstance(value, Mapping):
                raise CheckError((*path, "schema"), "a schema is a JSON Schema object")
            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as exc:
                raise CheckError((*path, "schema"), f"invalid JSON Schema: {exc.message}") from None
            value = dict(value)
        return ArgMatcher(kind=kind, value=value)
    return ArgMatcher(kind="equals", value=raw)


def parse_tool_call_check(raw: Any) -> ToolCallCheck:
    if not isinstance(raw, Mapping):
        raise CheckError((), "must be a mapping with name (and arguments, strict), or none: true")
    unknown = [k for k in raw if k not in ("name", "arguments", "strict", "none")]
    if unknown:
        raise CheckError((str(unknown[0]),), "unknown key; use name, arguments, strict or none")
    if raw.get("none") is True:
        if raw.get("name") or raw.get("arguments"):
            raise CheckError(("none",), "none: true means no tool call; it takes no name or arguments")
        return ToolCallCheck(none=True)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CheckError(("name",), "give the expected tool's name (or none: true)")
    args = raw.get("arguments") or {}
    if not isinstance(args, Mapping):
        raise CheckError(("arguments",), "must map argument names to expected values")
    strict = raw.get("strict", False)
    if not isinstance(strict, bool):
        raise CheckError(("strict",), "must be true or false")
    return ToolCallCheck(
        name=name.strip(),
        arguments={str(k): _matcher(("arguments", str(k)), v) for k, v in args.items()},
        strict=strict,
    )


def tool_call_check_to_dict(check: ToolCallCheck) -> dict[str, Any]:
    if check.none:
        return {"none": True}
    out: dict[str, Any] = {"name": check.name}
    if check.arguments:
        out["arguments"] = {k: m.to_yaml() for k, m in check.arguments.items()}
    if check.strict:
        out["strict"] = True
    return out


# ------------------------------------------------------------------------------------------ matching
def _render(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render_template(value, variables)
    if isinstance(value, list):
        return [_render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render(v, variables) for k, v in value.items()}
    return value


def _same(expected: Any, actual: Any) -> bool:
    """Exact, except that numbers compare by value (2 == 2.0) and a number written as text in the
    suite (a template renders to text) matches the number the model sent."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or (expected == actual and type(expected) is type(actual))
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, str) and isinstance(actual, int | float):
        try:
            return float(expected) == float(actual)
        except ValueError:
            return False
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            _same(a, b) for a, b in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(_same(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _arg_problem(name: str, matcher: ArgMatcher, actual: Any, variables: Mapping[str, Any]) -> str | None:
    if matcher.kind == "equals":
        expected = _render(matcher.value, variables)
        return (
            None
            if _same(expected, actual)
            else f"{name} is {json.dumps(actual)}, expected {json.dumps(expected)}"
        )
    if matcher.kind == "regex":
        text = actual if isinstance(actual, str) else json.dumps(actual)
        pattern = _render(matcher.value, variables)
        return None if re.search(pattern, text) else f"{name} {json.dumps(actual)} does not match /{pattern}/"
    import jsonschema

    errors = sorted(
        jsonschema.validators.validator_for(matcher.value)(matcher.value).iter_errors(actual), key=str
    )
    return None if not errors else f"{name} {json.dumps(actual)}: {errors[0].message}"


def _problems(check: ToolCallCheck, call: ToolCall, variables: Mapping[str, Any]) -> list[str]:
    args = call.arguments
    problems: list[str] = []
    for name, matcher in check.arguments.items():
        if name not in args:
            problems.append(f"no argument {name}")
            continue
        problem = _arg_problem(name, matcher, args[name], variables)
        if problem:
            problems.append(problem)
    if check.strict:
        extra = sorted(set(args) - set(check.arguments))
        if extra:
            problems.append("unexpected argument(s) " + ", ".join(extra))
    return problems


def _shown(call: ToolCall) -> str:
    return f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})"


def match_tool_calls(
    check: ToolCallCheck, calls: Sequence[ToolCall], variables: Mapping[str, Any]
) -> tuple[bool, str]:
    """(passed, details): does any of ``calls`` match ``check``?"""
    expected = _render(check.name, variables)
    if check.none or not expected.strip():  # none: true, or a name template that renders empty
        if not calls:
            return True, "no tool was called"
        return False, "expected no tool call; called " + ", ".join(_shown(c) for c in calls)
    if not calls:
        return False, f"no tool was called (expected {expected})"
    named = [c for c in calls if c.name == expected]
    if not named:
        return False, f"expected {expected}; called " + ", ".join(_shown(c) for c in calls)
    reports: list[str] = []
    for call in named:
        problems = _problems(check, call, variables)
        if not problems:
            return True, f"called {_shown(call)}"
        reports.append("; ".join(problems))
    return False, f"{expected} was called, but " + " | ".join(reports)


def check_tool_call(
    name: str, check: ToolCallCheck, calls: Sequence[ToolCall], variables: Mapping[str, Any]
) -> EvaluatorResult:
    passed, details = match_tool_calls(check, calls, variables)
    return bool_result(name, passed, details)


class ToolCallEvaluator(Evaluator[ToolCallCheck]):
    kind = "tool_call"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> ToolCallCheck:
        try:
            return parse_tool_call_check(raw)
        except CheckError as exc:
            r.fail((*path, *exc.path), exc.message)

    def dump(self, check: ToolCallCheck) -> dict[str, Any]:
        return {"tool_call": tool_call_check_to_dict(check)}

    def score(
        self, name: str, check: ToolCallCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        return check_tool_call(name, check, case.tool_calls, case.variables)
