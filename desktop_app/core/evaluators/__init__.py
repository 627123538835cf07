"""Every evaluator kind, in one table: ``EVALUATORS[kind]`` (the kind is the evaluator's key in
``.prompt.yml``). The suite reader, the dumper and the runner only ask this table; none of them names a
kind. Adding an evaluator is one module in this package (an :class:`Evaluator` subclass, see
``base.py``) and one entry here. The order is the order gh looks at an evaluator's keys (its own first).
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.evaluators.base import (
    CaseOutput,
    Check,
    Evaluator,
    EvaluatorResult,
    Helper,
    HelperAnswer,
    HelperRequest,
    HelperRole,
    Template,
    error_result,
)
from desktop_app.core.evaluators.embedding_similarity import EmbeddingEvaluator
from desktop_app.core.evaluators.invalid import InvalidEvaluator
from desktop_app.core.evaluators.json import JsonEvaluator
from desktop_app.core.evaluators.llm import LlmEvaluator
from desktop_app.core.evaluators.regex import RegexEvaluator
from desktop_app.core.evaluators.string import StringEvaluator
from desktop_app.core.evaluators.tool_call import ToolCallEvaluator
from desktop_app.core.evaluators.uses import UsesEvaluator

__all__ = [
    "EVALUATORS",
    "CaseOutput",
    "Check",
    "Evaluator",
    "EvaluatorResult",
    "Helper",
    "HelperAnswer",
    "HelperRequest",
    "HelperRole",
    "Template",
    "error_result",
    "file_keys",
]

EVALUATORS: dict[str, Evaluator[Any]] = {
    e.kind: e
    for e in (
        StringEvaluator(),  # gh
        LlmEvaluator(),  # gh
        UsesEvaluator(),  # gh: github/similarity, coherence, fluency, relevance, groundedness
        RegexEvaluator(),
        JsonEvaluator(),
        EmbeddingEvaluator(),
        ToolCallEvaluator(),
        InvalidEvaluator(),  # no key: what gh runs and fails (an unknown `uses:`)
    )
}


def file_keys() -> list[str]:
    """The keys an evaluator entry can use in a file, in gh's order."""
    return [kind for kind, e in EVALUATORS.items() if e.in_files]
