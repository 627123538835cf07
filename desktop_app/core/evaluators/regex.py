"""ModelDesk's ``regex`` evaluator: a pattern is (or is not) found in the output."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar

from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    HelperAnswer,
    bool_result,
)
from desktop_app.core.suite_reader import KeyPath, SuiteReader

__all__ = ["RegexCheck", "RegexEvaluator", "check_regex"]

_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class RegexCheck(Check):
    """Passes when ``pattern`` is found in the output (``full``: the whole output matches;
    ``negate``: passes when it is *not* found). ``flags`` letters: i (ignore case), m, s, x."""

    kind: ClassVar[str] = "regex"
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


def check_regex(name: str, check: RegexCheck, output: str) -> EvaluatorResult:
    pattern = check.compiled()
    match = pattern.fullmatch(output) if check.full else pattern.search(output)
    how = "to fully match" if check.full else "to match"
    if check.negate:
        if match:
            return bool_result(
                name, False, f"Expected not {how} /{check.pattern}/, but found {match.group(0)[:60]!r}"
            )
        return bool_result(name, True, f"Expected not {how} /{check.pattern}/")
    if match:
        return bool_result(name, True, f"Matched /{check.pattern}/: {match.group(0)[:60]!r}")
    return bool_result(name, False, f"Expected {how} /{check.pattern}/")


class RegexEvaluator(Evaluator[RegexCheck]):
    kind = "regex"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> RegexCheck:
        if isinstance(raw, str):
            data: dict[str, Any] = {"pattern": raw}
            ppath: KeyPath = path
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

    def dump(self, check: RegexCheck) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": check.pattern}
        if check.flags:
            out["flags"] = check.flags
        if check.full:
            out["full"] = True
        if check.negate:
            out["negate"] = True
        return {"regex": out}

    def score(
        self, name: str, check: RegexCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        return check_regex(name, check, case.output)
