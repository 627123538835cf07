"""gh's ``llm`` evaluator: a judge model reads the output (``{{completion}}``) and picks one of the
suite's choices, whose score is the result.

Pure halves only: rendering the judge's conversation (``request``) and reading its reply (``score``,
tolerant of extra words, markdown and numbers in text). The call itself is made by services for the
:data:`~.base.HelperRole.JUDGE` helper this evaluator declares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from desktop_app.core.chat import ChatMessage
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
)
from desktop_app.core.suite_reader import KeyPath, SuiteReader
from desktop_app.core.templating import render_template

__all__ = [
    "DEFAULT_JUDGE_MODEL",
    "UNPARSEABLE",
    "Choice",
    "JudgeEvaluator",
    "LlmEvaluator",
    "LlmJudge",
    "judge_messages",
    "judge_result",
    "parse_judgement",
]

UNPARSEABLE = "unparseable judgement"
# gh's built-in evaluators name this judge; it is looked up in the registry like any other model id.
DEFAULT_JUDGE_MODEL = "openai/gpt-4o"


class Choice(BaseModel):
    choice: str
    score: float


class LlmJudge(Check):
    """gh's llm evaluator. ``prompt`` sees the test row's variables plus ``{{completion}}``."""

    kind: ClassVar[str] = "llm"
    model_id: str = ""
    prompt: str
    system_prompt: str = ""
    choices: list[Choice]


def judge_messages(judge: LlmJudge, variables: Mapping[str, Any], output: str) -> list[ChatMessage]:
    """The judge's conversation as gh builds it: optional system prompt, then the prompt templated
    with the test row plus ``completion``."""
    data = {**variables, "completion": output}
    messages: list[ChatMessage] = []
    if judge.system_prompt:
        messages.append(ChatMessage(role="system", content=judge.system_prompt))
    messages.append(ChatMessage(role="user", content=render_template(judge.prompt, data)))
    return messages


_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_LABEL = re.compile(
    r"\b(?:score|rating|rated|grade|stars?|verdict|answer|judge?ment|choice|result)\b"
    r"(?:\s+(?:is|of|was|would\s+be))?[\s*_:=\-]*[\"'`(\[]?\s*([^\s\"'`)\].,;*]+)",
    re.IGNORECASE,
)
_OUT_OF = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:/|out\s+of)\s*\d+(?:\.\d+)?", re.IGNORECASE)
_RANGE = re.compile(r"\b\d+\s*(?:-|–|to)\s*\d+\b|\bbetween\s+\d+\s+and\s+\d+\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w]|\.\d)")


def _norm(text: str) -> str:
    text = text.strip().lower()
    text = re.sub(r"^[#>*_`\"'\s\-]+|[*_`\"'\s.!,;:)\]]+$", "", text)
    return text.strip()


def _as_number(text: str) -> float | None:
    text = _NUMBER_WORDS.get(text, text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _ChoiceIndex:
    def __init__(self, choices: Sequence[Choice]) -> None:
        self.choices = list(choices)
        self.by_text = {c.choice.strip().lower(): c for c in reversed(self.choices)}
        numbers = [_as_number(c.choice.strip().lower()) for c in self.choices]
        self.numeric = all(n is not None for n in numbers)
        self.number_index = {n: i for i, n in reversed(list(enumerate(numbers))) if n is not None}
        self.by_number = {n: self.choices[i] for n, i in self.number_index.items()}

    def exact(self, text: str) -> Choice | None:
        key = _norm(text)
        if not key:
            return None
        found = self.by_text.get(key)
        if found is None and self.numeric:
            n = _as_number(key)
            if n is not None:
                found = self.by_number.get(n)
        return found

    def mentioned(self, text: str) -> list[Choice]:
        """Distinct choices mentioned as whole words (numbers as whole numbers), in order of appearance.
        A mention inside a longer one ("correct" inside "partially correct") does not count."""
        hits: list[tuple[int, int, int]] = []  # (start, end, choice index)
        if self.numeric:
            cleaned = _RANGE.sub(" ", _OUT_OF.sub(lambda m: m.group(1), text))
            hits = self._numbers(cleaned)
            if not hits:
                for word, digit in _NUMBER_WORDS.items():
                    cleaned = re.sub(rf"\b{word}\b", digit, cleaned, flags=re.IGNORECASE)
                hits = self._numbers(cleaned)
        else:
            for i, c in enumerate(self.choices):
                word = c.choice.strip()
                flags = 0 if len(word) == 1 and word.isalpha() else re.IGNORECASE
                for m in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags):
                    hits.append((m.start(), m.end(), i))
            hits = [
                h
                for h in hits
                if not any(o[0] <= h[0] and h[1] <= o[1] and (o[1] - o[0]) > (h[1] - h[0]) for o in hits)
            ]
        hits.sort()
        order = list(dict.fromkeys(i for _, _, i in hits))
        return [self.choices[i] for i in order]

    def _numbers(self, text: str) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        for m in _NUMBER.finditer(text):
            n = _as_number(m.group(0))
            if n is not None and n in self.number_index:
                out.append((m.start(), m.end(), self.number_index[n]))
        return out


def parse_judgement(reply: str, choices: Sequence[Choice]) -> tuple[Choice | None, str]:
    """Read a judge's reply, tolerating extra words, case, markdown and numbers in text.

    Tries, in order: the whole reply is a choice; its last line is a choice; a labelled answer
    ("Score: 4", "Rating - **4**", "Verdict: yes"), the last one wins; exactly one distinct choice on the
    last line; exactly one distinct choice anywhere. ``"4/5"`` and ``"4 out of 5"`` count as 4 and
    ranges such as ``1-5`` are ignored. Returns ``(None, reason)`` when the reply cannot be read.
    """
    index = _ChoiceIndex(choices)
    text = reply.strip()
    if not text:
        return None, "the judge's reply was empty"
    found = index.exact(text)
    if found is not None:
        return found, "whole reply"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    found = index.exact(lines[-1])
    if found is not None:
        return found, "last line"
    labelled = [index.exact(m.group(1)) for m in _LABEL.finditer(text)]
    labelled_hits = [c for c in labelled if c is not None]
    if labelled_hits:
        return labelled_hits[-1], "labelled answer"
    last_line = index.mentioned(lines[-1])
    if len(last_line) == 1:
        return last_line[0], "last line"
    anywhere = index.mentioned(text)
    if len(anywhere) == 1:
        return anywhere[0], "mentioned"
    if len(anywhere) > 1:
        listed = ", ".join(repr(c.choice) for c in anywhere)
        return None, f"the reply mentions several choices ({listed})"
    return None, "the reply names none of the choices"


def judge_result(name: str, judge: LlmJudge, reply: str, judge_model: str = "") -> EvaluatorResult:
    """Turn a judge's reply into a result; a reply that cannot be read becomes a clear
    ``unparseable judgement`` result (score 0, not passed, ``error`` set), never an exception."""
    choice, reason = parse_judgement(reply, judge.choices)
    by = f" (judge {judge_model})" if judge_model else ""
    if choice is None:
        snippet = " ".join(reply.split())
        if len(snippet) > 120:
            snippet = snippet[:117] + "..."
        options = ", ".join(c.choice for c in judge.choices)
        return EvaluatorResult(
            evaluator_name=name,
            score=0.0,
            passed=False,
            details=f"{UNPARSEABLE}: {reason}; expected one of {options}; reply was {snippet!r}{by}",
            error=UNPARSEABLE,
        )
    return EvaluatorResult(
        evaluator_name=name,
        score=choice.score,
        passed=choice.score > 0,
        details=f"LLM evaluation matched choice: '{choice.choice}'{by}",
    )


class JudgeEvaluator(Evaluator[Any]):
    """What every judged evaluator shares: ask the judge, read its reply. Subclasses say which
    :class:`LlmJudge` a check stands for (``judge``)."""

    def judge(self, check: Any) -> LlmJudge:
        raise NotImplementedError

    def helper(self, check: Any) -> Helper:
        return Helper(HelperRole.JUDGE, self.judge(check).model_id)

    def request(self, check: Any, case: CaseOutput) -> HelperRequest:
        return HelperRequest(messages=tuple(judge_messages(self.judge(check), case.variables, case.output)))

    def score(self, name: str, check: Any, case: CaseOutput, answer: HelperAnswer | None) -> EvaluatorResult:
        assert answer is not None, "scored with the judge's reply"
        return judge_result(name, self.judge(check), answer.text, answer.model_id)


class LlmEvaluator(JudgeEvaluator):
    kind = "llm"
    gh = True

    def judge(self, check: LlmJudge) -> LlmJudge:
        return check

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> LlmJudge:
        data = r.mapping(path, raw, what="a mapping with modelId, prompt, systemPrompt and choices")
        r.unknown_keys(path, data, ("modelId", "prompt", "systemPrompt", "choices"))
        prompt = r.text((*path, "prompt"), data.get("prompt"))
        if not prompt.strip():
            r.fail(
                (*path, "prompt"),
                "the judge needs a prompt (it can use {{completion}} and the test variables)",
            )
        if "{{completion}}" not in prompt:
            r.warn(
                (*path, "prompt"), "does not use {{completion}}, so the judge never sees the model's reply"
            )
        choices_raw = data.get("choices")
        cpath: KeyPath = (*path, "choices")
        if not isinstance(choices_raw, list) or not choices_raw:
            r.fail(cpath, "the judge needs a non-empty list of choices, each with choice and score")
        choices: list[Choice] = []
        for i, item in enumerate(choices_raw):
            ipath: KeyPath = (*cpath, i)
            c = r.mapping(ipath, item, what="a choice with choice and score")
            r.unknown_keys(ipath, c, ("choice", "score"))
            text = r.text((*ipath, "choice"), c.get("choice")).strip()
            if not text:
                r.fail((*ipath, "choice"), "every choice needs a non-empty choice text")
            if c.get("score") is None:
                r.warn((*ipath, "score"), "no score given; gh counts it as 0")
                score = 0.0
            else:
                score = r.number((*ipath, "score"), c["score"])
            choices.append(Choice(choice=text, score=score))
        return LlmJudge(
            model_id=r.text((*path, "modelId"), data.get("modelId")).strip(),
            prompt=prompt,
            system_prompt=r.text((*path, "systemPrompt"), data.get("systemPrompt")),
            choices=choices,
        )

    def dump(self, check: LlmJudge) -> dict[str, Any]:
        llm: dict[str, Any] = {}
        if check.model_id:
            llm["modelId"] = check.model_id
        llm["prompt"] = check.prompt
        if check.system_prompt:
            llm["systemPrompt"] = check.system_prompt
        llm["choices"] = [{"choice": c.choice, "score": c.score} for c in check.choices]
        return {"llm": llm}

    def templates(self, check: LlmJudge) -> Sequence[Template]:
        return (Template(("llm", "prompt"), check.prompt, frozenset({"completion"})),)
