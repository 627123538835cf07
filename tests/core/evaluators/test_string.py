"""gh's string evaluator against hand-worked cases."""

from __future__ import annotations

import pytest

from desktop_app.core.evaluators.string import StringCheck, check_string


@pytest.mark.parametrize(
    ("check", "output", "passed", "details"),
    [
        (StringCheck(equals="Paris"), "Paris", True, "Expected exact match: 'Paris'"),
        (StringCheck(equals="Paris"), "paris", False, "Expected exact match: 'Paris'"),  # equals is exact
        (StringCheck(equals="Paris"), "Paris.", False, "Expected exact match: 'Paris'"),
        (StringCheck(contains="PARIS"), "It is paris.", True, "Expected to contain: 'PARIS'"),
        (StringCheck(contains="Lyon"), "It is Paris.", False, "Expected to contain: 'Lyon'"),
        (
            StringCheck(starts_with="summary -"),
            "Summary - a fox",
            True,
            "Expected to start with: 'summary -'",
        ),
        (
            StringCheck(starts_with="Summary -"),
            " Summary - a fox",
            False,
            "Expected to start with: 'Summary -'",
        ),
        (
            StringCheck(ends_with="THE END"),
            "...and that was the end",
            True,
            "Expected to end with: 'THE END'",
        ),
        (StringCheck(ends_with="end"), "the end.", False, "Expected to end with: 'end'"),
        # only the first non-empty criterion counts, in gh's order
        (StringCheck(contains="zzz", starts_with="a"), "abc", False, "Expected to contain: 'zzz'"),
    ],
)
def test_string_checks(check: StringCheck, output: str, passed: bool, details: str) -> None:
    result = check_string("s", check, output, {})
    assert (result.passed, result.score, result.details) == (passed, 1.0 if passed else 0.0, details)
    assert result.error is None


def test_string_value_is_templated_with_the_test_row() -> None:
    result = check_string(
        "s", StringCheck(contains="{{capital}}"), "The capital is Ottawa.", {"capital": "Ottawa"}
    )
    assert result.passed and result.details == "Expected to contain: 'Ottawa'"
    assert result.to_gh() == {
        "evaluatorName": "s",
        "score": 1.0,
        "passed": True,
        "details": "Expected to contain: 'Ottawa'",
    }
