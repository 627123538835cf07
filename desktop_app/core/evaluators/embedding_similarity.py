"""ModelDesk's ``embedding_similarity`` evaluator: cosine similarity between the output and an
expected text under an embedding model. Pure: it asks for an :data:`~.base.HelperRole.EMBEDDING`
helper and scores the vectors services bring back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

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
from desktop_app.core.suite_reader import KeyPath, SuiteReader
from desktop_app.core.templating import render_template

__all__ = ["EmbeddingCheck", "EmbeddingEvaluator", "cosine_similarity", "embedding_result"]

DEFAULT_EXPECTED = "{{expected}}"


class EmbeddingCheck(Check):
    """Cosine similarity between the output and ``expected`` (a template, by default the test row's
    ``{{expected}}``) under an embedding model; passes at or above ``threshold``."""

    kind: ClassVar[str] = "embedding_similarity"
    model_id: str = ""
    expected: str = DEFAULT_EXPECTED
    threshold: float = 0.8


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of the angle between two vectors; 0.0 when either is all zeros."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length ({len(a)} and {len(b)})")
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(math.fsum(x * x for x in a))
    nb = math.sqrt(math.fsum(y * y for y in b))
    if na == 0 or nb == 0:
        return 0.0
    return max(-1.0, min(1.0, dot / (na * nb)))


def embedding_result(name: str, check: EmbeddingCheck, similarity: float, model_id: str) -> EvaluatorResult:
    passed = similarity >= check.threshold
    sign = "≥" if passed else "<"
    return EvaluatorResult(
        evaluator_name=name,
        score=round(max(0.0, similarity), 6),
        passed=passed,
        details=f"Cosine similarity {similarity:.3f} {sign} threshold {check.threshold:g} ({model_id})",
    )


class EmbeddingEvaluator(Evaluator[EmbeddingCheck]):
    kind = "embedding_similarity"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> EmbeddingCheck:
        if raw is True:
            return EmbeddingCheck()
        data = r.mapping(path, raw, what="a mapping with modelId, threshold and expected")
        r.unknown_keys(path, data, ("modelId", "threshold", "expected"))
        check = EmbeddingCheck(model_id=r.text((*path, "modelId"), data.get("modelId")).strip())
        if data.get("threshold") is not None:
            t = r.number((*path, "threshold"), data["threshold"])
            if not -1 <= t <= 1:
                r.fail(
                    (*path, "threshold"), f"a cosine threshold is between -1 and 1, not {data['threshold']}"
                )
            check.threshold = t
        if data.get("expected") is not None:
            check.expected = r.text((*path, "expected"), data["expected"])
            if not check.expected.strip():
                r.fail((*path, "expected"), "cannot be empty (default: {{expected}})")
        return check

    def dump(self, check: EmbeddingCheck) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if check.model_id:
            out["modelId"] = check.model_id
        if check.expected != DEFAULT_EXPECTED:
            out["expected"] = check.expected
        out["threshold"] = check.threshold
        return {"embedding_similarity": out}

    def templates(self, check: EmbeddingCheck) -> Sequence[Template]:
        return (Template(("embedding_similarity",), check.expected),)

    def helper(self, check: EmbeddingCheck) -> Helper:
        return Helper(HelperRole.EMBEDDING, check.model_id)

    def request(self, check: EmbeddingCheck, case: CaseOutput) -> HelperRequest:
        return HelperRequest(texts=(render_template(check.expected, case.variables), case.output))

    def score(
        self, name: str, check: EmbeddingCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        assert answer is not None, "scored with the embedding model's vectors"
        try:
            expected, output = answer.vectors
            similarity = cosine_similarity(expected, output)
        except ValueError as exc:
            return error_result(name, f"embedding with {answer.model_id} failed: {exc}")
        return embedding_result(name, check, similarity, answer.model_id)
