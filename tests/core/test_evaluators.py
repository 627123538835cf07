"""Each evaluator against hand-worked cases, and the judge-reply reader against messy replies."""

from __future__ import annotations

import math

import pytest

from desktop_app.core.evaluators.embedding_similarity import (
    EmbeddingCheck,
    cosine_similarity,
    embedding_result,
)
from desktop_app.core.evaluators.json import JsonCheck, check_json
from desktop_app.core.evaluators.llm import (
    DEFAULT_JUDGE_MODEL,
    UNPARSEABLE,
    Choice,
    LlmJudge,
    judge_messages,
    judge_result,
    parse_judgement,
)
from desktop_app.core.evaluators.regex import RegexCheck, check_regex
from desktop_app.core.evaluators.string import StringCheck, check_string
from desktop_app.core.evaluators.uses import BUILTIN_EVALUATORS, builtin_judge


# ------------------------------------------------------------------------------------------ string (gh rules)
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


# ------------------------------------------------------------------------------------------ regex
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


# ------------------------------------------------------------------------------------------ json
def test_json_valid_and_invalid() -> None:
    ok = check_json("j", JsonCheck(), '{"a": 1}')
    assert ok.passed and ok.details == "Valid JSON"
    bad = check_json("j", JsonCheck(), '{"a": 1,}')
    assert not bad.passed
    assert (
        bad.details == "Not valid JSON: Expecting property name enclosed in double quotes at line 1 column 9"
    )
    assert not check_json("j", JsonCheck(), "Sure! Here it is: {}").passed


def test_json_in_a_code_fence_unless_strict() -> None:
    fenced = '```json\n{"a": [1, 2]}\n```'
    result = check_json("j", JsonCheck(), fenced)
    assert result.passed and result.details == "Valid JSON (inside a code fence)"
    assert not check_json("j", JsonCheck(strict=True), fenced).passed


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["country", "capital"],
        "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
    }
    check = JsonCheck(json_schema=schema)
    assert check_json("j", check, '{"country": "France", "capital": "Paris"}').passed
    missing = check_json("j", check, '{"country": "France"}')
    assert not missing.passed
    assert missing.details == "Valid JSON but not the schema: 'capital' is a required property at $"
    wrong = check_json("j", check, '{"country": "France", "capital": 7}')
    assert wrong.details == "Valid JSON but not the schema: 7 is not of type 'string' at $.capital"


# ------------------------------------------------------------------------------------------ embeddings
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


# ------------------------------------------------------------------------------------------ llm judge
YES_NO = [Choice(choice="yes", score=1.0), Choice(choice="no", score=0.0)]
GRADES = [
    Choice(choice="correct", score=1.0),
    Choice(choice="partially correct", score=0.5),
    Choice(choice="incorrect", score=0.0),
]
FIVE = builtin_judge("similarity").choices


def test_judge_messages_template_completion_and_variables() -> None:
    judge = LlmJudge(
        prompt="Q: {{input}}\nA: {{completion}}\nIs A right?", system_prompt="Be strict.", choices=YES_NO
    )
    messages = judge_messages(judge, {"input": "2+2?"}, "4")
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be strict."),
        ("user", "Q: 2+2?\nA: 4\nIs A right?"),
    ]
    no_system = judge_messages(judge.model_copy(update={"system_prompt": ""}), {}, "x")
    assert [m.role for m in no_system] == ["user"]


@pytest.mark.parametrize(
    ("reply", "choices", "expected"),
    [
        ("4", FIVE, "4"),
        ("  5\n", FIVE, "5"),
        ("**3**", FIVE, "3"),
        ("Score: 2", FIVE, "2"),
        ("**Score**: 4", FIVE, "4"),
        ("Rating - **5**", FIVE, "5"),
        ("I would rate this 4/5.", FIVE, "4"),
        ("4 out of 5", FIVE, "4"),
        ("On a scale of 1-5, I give it a 3.", FIVE, "3"),
        ("four", FIVE, "4"),
        ("Let's think step by step: the answer covers everything.\nExplanation: complete.\n5", FIVE, "5"),
        ("The predicted answer is mostly similar. stars: 4", FIVE, "4"),
        ("4.0", FIVE, "4"),
        ("YES", YES_NO, "yes"),
        ("Yes, the answer is right.", YES_NO, "yes"),
        ("no.", YES_NO, "no"),
        ("Verdict: No", YES_NO, "no"),
        ("The answer is partially correct.", GRADES, "partially correct"),
        ("INCORRECT", GRADES, "incorrect"),
        ("Correct - it names Paris", GRADES, "correct"),
    ],
)
def test_messy_judge_replies_are_read(reply: str, choices: list[Choice], expected: str) -> None:
    choice, _ = parse_judgement(reply, choices)
    assert choice is not None and choice.choice == expected


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "the judge's reply was empty"),
        ("I cannot judge this.", "the reply names none of the choices"),
        ("It is between a 4 and a 5 really", "the reply mentions several choices ('4', '5')"),
        ("banana", "the reply names none of the choices"),
    ],
)
def test_unreadable_replies_say_why(reply: str, reason: str) -> None:
    choice, why = parse_judgement(reply, FIVE)
    assert choice is None and why == reason


def test_judge_result_success_uses_gh_wording_and_score() -> None:
    judge = builtin_judge("coherence")
    result = judge_result("Coherence", judge, "Score: 4", "ollama/llama3.2:latest")
    assert (result.score, result.passed, result.error) == (0.75, True, None)
    assert result.details == "LLM evaluation matched choice: '4' (judge ollama/llama3.2:latest)"
    lowest = judge_result("Coherence", judge, "1")
    assert (lowest.score, lowest.passed) == (0.0, False)  # passes only when the score is above 0


def test_unparseable_judgement_is_a_clear_result_not_a_crash() -> None:
    judge = LlmJudge(prompt="{{completion}}", choices=YES_NO)
    result = judge_result("judge", judge, "As an AI model I must decline to grade this response.", "m")
    assert (result.score, result.passed, result.error) == (0.0, False, UNPARSEABLE)
    assert result.details == (
        "unparseable judgement: the reply names none of the choices; expected one of yes, no; "
        "reply was 'As an AI model I must decline to grade this response.' (judge m)"
    )


@pytest.mark.parametrize("name", BUILTIN_EVALUATORS)
def test_builtins_rate_1_to_5_and_use_gh_variables(name: str) -> None:
    judge = builtin_judge(name)
    assert judge.model_id == DEFAULT_JUDGE_MODEL
    assert [(c.choice, c.score) for c in judge.choices] == [
        ("1", 0.0),
        ("2", 0.25),
        ("3", 0.5),
        ("4", 0.75),
        ("5", 1.0),
    ]
    assert "{{completion}}" in judge.prompt
    if name in ("similarity", "groundedness"):
        assert "{{expected}}" in judge.prompt
    if name != "fluency":
        assert "{{input}}" in judge.prompt
    rendered = judge_messages(judge, {"input": "IN", "expected": "EXP"}, "OUT")[-1].content
    assert "{{" not in rendered and "OUT" in rendered
    with pytest.raises(KeyError):
        builtin_judge("vibes")
