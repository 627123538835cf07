"""gh's ``string`` evaluator: the output equals, contains, starts or ends with a templated text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    HelperAnswer,
    Template,
    bool_result,
)
from desktop_app.core.suite_reader import KeyPath, SuiteReader
from desktop_app.core.templating import render_template

__all__ = ["StringCheck", "StringEvaluator", "check_string"]

KEYS = ("equals", "contains", "startsWith", "endsWith")


class StringCheck(Check):
    """gh's string evaluator. Only the first non-empty of equals, contains, startsWith, endsWith is
    used (in that order); equals is exact, the others ignore case."""

    kind: ClassVar[str] = "string"
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


def check_string(name: str, check: StringCheck, output: str, variables: Mapping[str, Any]) -> EvaluatorResult:
    """gh's rules: the expected value is templated with the test row; ``equals`` is exact, the
    others ignore case; the details text is gh's."""
    kind, raw = check.criterion
    expected = render_template(raw, variables)
    if kind == "equals":
        return bool_result(name, output == expected, f"Expected exact match: '{expected}'")
    low_out, low_exp = output.lower(), expected.lower()
    if kind == "contains":
        return bool_result(name, low_exp in low_out, f"Expected to contain: '{expected}'")
    if kind == "startsWith":
        return bool_result(name, low_out.startswith(low_exp), f"Expected to start with: '{expected}'")
    return bool_result(name, low_out.endswith(low_exp), f"Expected to end with: '{expected}'")


class StringEvaluator(Evaluator[StringCheck]):
    kind = "string"
    gh = True

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> StringCheck:
        data = r.mapping(path, raw, what="a mapping with one of equals, contains, startsWith, endsWith")
        r.unknown_keys(path, data, KEYS)
        values = {k: r.text((*path, k), data.get(k)) for k in KEYS}
        given = [k for k in KEYS if values[k]]
        if not given:
            r.fail(path, "give one of equals, contains, startsWith, endsWith (with a non-empty value)")
        if len(given) > 1:
            r.warn(
                (*path, given[1]), f"only {given[0]!r} is used (gh checks one criterion per string evaluator)"
            )
        return StringCheck(
            equals=values["equals"],
            contains=values["contains"],
            starts_with=values["startsWith"],
            ends_with=values["endsWith"],
        )

    def dump(self, check: StringCheck) -> dict[str, Any]:
        values = (check.equals, check.contains, check.starts_with, check.ends_with)
        return {"string": {k: v for k, v in zip(KEYS, values, strict=True) if v}}

    def templates(self, check: StringCheck) -> Sequence[Template]:
        kind, value = check.criterion
        return (Template(("string", kind), value),)

    def score(
        self, name: str, check: StringCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        return check_string(name, check, case.output, case.variables)
