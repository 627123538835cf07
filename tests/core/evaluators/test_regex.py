"""The regex evaluator against hand-worked cases."""

from __future__ import annotations

from desktop_app.core.evaluators.regex import RegexCheck, check_regex


def test_regex_search_full_negate_and_flags() -> None:
    assert check_regex("r", RegexCheck(pattern=r"\d{4}-\d{2}-\d{2}"), "due 2026-11-27 ok").passed
    assert not check_regex("r", RegexCheck(pattern=r"\d{4}-\d{2}-\d{2}"), "due soon").passed
    assert not check_regex("r", RegexCheck(pattern=r"\d+", full=True), "42 apples").passed
    assert check_regex("r", RegexCheck(pattern=r"\d+", full=True), "42").passed
    assert not check_regex("r", RegexCheck(pattern="sorry"), "SORRY!").passed
    assert check_regex("r", RegexCheck(pattern="sorry", flags="i"), "SORRY!").passed
    negated = check_regex("r", RegexCheck(pattern="sorry", flags="i", negate=True), "Sorry, I can't.")
    assert not negated.passed
    assert negated.details == "Expected not to match /sorry/, but found 'Sorry'"
    assert check_regex("r", RegexCheck(pattern="sorry", negate=True), "Here you go.").passed
    multi = RegexCheck(pattern="^b$", flags="m")
    assert check_regex("r", multi, "a\nb\nc").passed
