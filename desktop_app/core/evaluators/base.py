"""The evaluator protocol: what every evaluator kind declares, and the result it gives.

An evaluator kind is one module in this package with one :class:`Evaluator` subclass and one entry in
``EVALUATORS`` (``core/evaluators/__init__.py``), keyed by its key in ``.prompt.yml``. Each says how to
read its settings (``parse``), write them back (``dump``), which of its texts are templates (for the
warnings about undefined variables) and how to score one case (``score``).

A kind that needs a model to score (an LLM judge, an embedding model) stays pure too: it declares the
:class:`Helper` it needs (``helper``) and what to ask it for one case (``request``); the runner in
services resolves the helper model, makes the call, and hands the :class:`HelperAnswer` to ``score``.

Each result is shaped like gh's ``evaluationResults`` entries (``evaluatorName``, ``score``, ``passed``,
``details``) plus an ``error`` for checks that could not be made (a judge that cannot be read, an
embedding call that failed) so that they are never mistaken for a model's failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from desktop_app.core.chat import ChatMessage, ToolCall
from desktop_app.core.suite_reader import KeyPath, SuiteReader

__all__ = [
    "CaseOutput",
    "Check",
    "Evaluator",
    "EvaluatorResult",
    "Helper",
    "HelperAnswer",
    "HelperRequest",
    "HelperRole",
    "Template",
    "bool_result",
    "error_result",
]


class EvaluatorResult(BaseModel):
    evaluator_name: str
    score: float
    passed: bool
    details: str = ""
    error: str | None = None

    def to_gh(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "evaluatorName": self.evaluator_name,
            "score": self.score,
            "passed": self.passed,
        }
        if self.details:
            out["details"] = self.details
        if self.error:
            out["error"] = self.error
        return out


def error_result(name: str, message: str) -> EvaluatorResult:
    """A check that could not be made (not a verdict on the output)."""
    return EvaluatorResult(evaluator_name=name, score=0.0, passed=False, details=message, error=message)


def bool_result(name: str, passed: bool, details: str) -> EvaluatorResult:
    return EvaluatorResult(evaluator_name=name, score=1.0 if passed else 0.0, passed=passed, details=details)


class Check(BaseModel):
    """An evaluator's settings as read from the file. ``kind`` names the evaluator (its table key)."""

    kind: ClassVar[str]


@dataclass(frozen=True)
class CaseOutput:
    """What a model produced for one test case, with the case's variables."""

    output: str
    variables: Mapping[str, Any]
    tool_calls: Sequence[ToolCall] = ()


class HelperRole(StrEnum):
    """The kinds of model an evaluator can ask for; services has one provider per role."""

    JUDGE = "judge"  # a chat model that reads ``HelperRequest.messages`` and answers in text
    EMBEDDING = "embedding"  # an embedding model that turns ``HelperRequest.texts`` into vectors


@dataclass(frozen=True)
class Helper:
    """The model an evaluator needs. ``model_ref`` empty: the run's choice (``--judge``, or a default)."""

    role: HelperRole
    model_ref: str = ""


@dataclass(frozen=True)
class HelperRequest:
    messages: tuple[ChatMessage, ...] = ()
    texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelperAnswer:
    model_id: str
    text: str = ""
    vectors: tuple[Sequence[float], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Template:
    """A text of the evaluator's that is templated with the test row: ``path`` is relative to the
    evaluator's entry; ``extra`` names variables it gets besides the row's (``completion``)."""

    path: KeyPath
    text: str
    extra: frozenset[str] = frozenset()


C = TypeVar("C", bound=Check)


class Evaluator(Generic[C]):
    """One evaluator kind. Subclasses set ``kind`` and implement ``parse``, ``dump`` and ``score``;
    one that needs a model also implements ``helper`` and ``request``."""

    kind: ClassVar[str]  # its key in .prompt.yml (and EVALUATORS)
    gh: ClassVar[bool] = False  # one of gh's own (listed first in messages)
    in_files: ClassVar[bool] = True  # read from its key in a file (INVALID is only made by others)

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> Check:
        """Read the value under the evaluator's key; errors go through ``r.fail`` / ``r.warn``."""
        raise NotImplementedError

    def dump(self, check: C) -> dict[str, Any]:
        """The evaluator's keys in file form (besides ``name``), e.g. ``{"regex": {...}}``."""
        raise NotImplementedError

    def templates(self, check: C) -> Sequence[Template]:
        return ()

    def helper(self, check: C) -> Helper | None:
        """The model this evaluator needs to score, or None (scored from the output alone)."""
        return None

    def request(self, check: C, case: CaseOutput) -> HelperRequest:
        """What to ask the helper for one case (only called when ``helper`` is not None)."""
        raise NotImplementedError(f"the {self.kind} evaluator needs no helper")

    def score(self, name: str, check: C, case: CaseOutput, answer: HelperAnswer | None) -> EvaluatorResult:
        raise NotImplementedError
