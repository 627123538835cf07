"""Cosine similarity and the embedding evaluator's result."""

from __future__ import annotations

import math

import pytest

from desktop_app.core.evaluators.embedding_similarity import (
    EmbeddingCheck,
    cosine_similarity,
    embedding_result,
)


def test_cosine_similarity_hand_worked() -> None:
    assert cosine_similarity([1, 0], [1, 0]) == 1.0
    assert cosine_similarity([1, 0], [0, 1]) == 0.0
    assert cosine_similarity([1, 0], [-1, 0]) == -1.0
    assert math.isclose(cosine_similarity([1, 1], [1, 0]), 1 / math.sqrt(2))
    assert math.isclose(cosine_similarity([3, 4], [4, 3]), 24 / 25)
    assert cosine_similarity([0, 0], [1, 2]) == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        cosine_similarity([1, 2], [1, 2, 3])


def test_embedding_result_threshold() -> None:
    check = EmbeddingCheck(threshold=0.8)
    above = embedding_result("e", check, 0.96, "ollama/nomic")
    assert above.passed and above.score == 0.96
    assert above.details == "Cosine similarity 0.960 ≥ threshold 0.8 (ollama/nomic)"
    below = embedding_result("e", check, 0.5, "ollama/nomic")
    assert not below.passed and below.details.startswith("Cosine similarity 0.500 < threshold 0.8")
    negative = embedding_result("e", check, -0.3, "m")
    assert negative.score == 0.0 and not negative.passed
