"""The LLM judge: its conversation, the judge-reply reader against messy replies, gh's built-ins."""

from __future__ import annotations

import pytest

from desktop_app.core.evaluators.llm import (
    DEFAULT_JUDGE_MODEL,
    UNPARSEABLE,
    Choice,
    LlmJudge,
    judge_messages,
    judge_result,
    parse_judgement,
)
from desktop_app.core.evaluators.uses import BUILTIN_EVALUATORS, builtin_judge

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
