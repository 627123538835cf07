"""The evaluator gh runs and fails on every case (an unknown ``uses:``). It has no key of its own: other
evaluators' ``parse`` return an :class:`InvalidCheck` for what gh would run anyway; ``strict`` refuses
them instead."""

from __future__ import annotations

from typing import Any, ClassVar

from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    HelperAnswer,
    error_result,
)
from desktop_app.core.suite_reader import KeyPath, SuiteReader

__all__ = ["InvalidCheck", "InvalidEvaluator"]


class InvalidCheck(Check):
    kind: ClassVar[str] = "invalid"
    problem: str  # why it fails (gh's message)
    raw: dict[str, Any]  # the evaluator as written (dumped back as it was)


class InvalidEvaluator(Evaluator[InvalidCheck]):
    kind = "invalid"
    in_files = False

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> InvalidCheck:
        raise NotImplementedError("made by other evaluators' parse, never read from its own key")

    def dump(self, check: InvalidCheck) -> dict[str, Any]:
        return {k: v for k, v in check.raw.items() if k != "name"}

    def score(
        self, name: str, check: InvalidCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        return error_result(name, f"Error: {check.problem}")
