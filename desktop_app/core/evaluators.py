"""Scoring one model output: gh's string checks, ModelDesk's regex / JSON / embedding checks, and the
pure halves of LLM judging (rendering the judge's prompt, reading its reply).

Every function here is pure; the runner (``services/evaluate.py``) does the calls to models. Each
check returns an :class:`EvaluatorResult` shaped like gh's ``evaluationResults`` entries
(``evaluatorName``, ``score``, ``passed``, ``details``) plus an ``error`` for checks that could not be
made (a judge that cannot be read, an embedding call that failed) so that they are never mistaken
for a model's failure.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from desktop_app.core.chat import ChatMessage
from desktop_app.core.suite import (
    BUILTIN_EVALUATORS,
    Choice,
    EmbeddingCheck,
    JsonCheck,
    LlmJudge,
    RegexCheck,
    StringCheck,
    render_template,
)

__all__ = [
    "DEFAULT_JUDGE_MODEL",
    "UNPARSEABLE",
    "EvaluatorResult",
    "builtin_judge",
    "check_json",
    "check_regex",
    "check_string",
    "cosine_similarity",
    "embedding_result",
    "error_result",
    "judge_messages",
    "judge_result",
    "parse_judgement",
]

UNPARSEABLE = "unparseable judgement"
# gh's built-in evaluators name this judge; it is looked up in the registry like any other model id.
DEFAULT_JUDGE_MODEL = "openai/gpt-4o"


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


def _bool_result(name: str, passed: bool, details: str) -> EvaluatorResult:
    return EvaluatorResult(evaluator_name=name, score=1.0 if passed else 0.0, passed=passed, details=details)


# --------------------------------------------------------------------------------------------- string
def check_string(name: str, check: StringCheck, output: str, variables: Mapping[str, Any]) -> EvaluatorResult:
    """gh's rules: the expected value is templated with the test row; ``equals`` is exact, the
    others ignore case; the details text is gh's."""
    kind, raw = check.criterion
    expected = render_template(raw, variables)
    if kind == "equals":
        return _bool_result(name, output == expected, f"Expected exact match: '{expected}'")
    low_out, low_exp = output.lower(), expected.lower()
    if kind == "contains":
        return _bool_result(name, low_exp in low_out, f"Expected to contain: '{expected}'")
    if kind == "startsWith":
        return _bool_result(name, low_out.startswith(low_exp), f"Expected to start with: '{expected}'")
    return _bool_result(name, low_out.endswith(low_exp), f"Expected to end with: '{expected}'")


# --------------------------------------------------------------------------------------------- regex
def check_regex(name: str, check: RegexCheck, output: str) -> EvaluatorResult:
    pattern = check.compiled()
    match = pattern.fullmatch(output) if check.full else pattern.search(output)
    how = "to fully match" if check.full else "to match"
    if check.negate:
        if match:
            return _bool_result(
                name, False, f"Expected not {how} /{check.pattern}/, but found {match.group(0)[:60]!r}"
            )
        return _bool_result(name, True, f"Expected not {how} /{check.pattern}/")
    if match:
        return _bool_result(name, True, f"Matched /{check.pattern}/: {match.group(0)[:60]!r}")
    return _bool_result(name, False, f"Expected {how} /{check.pattern}/")


# --------------------------------------------------------------------------------------------- json
_FENCE = re.compile(r"\A```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\Z", re.DOTALL)


@lru_cache(maxsize=64)
def _validator(schema_text: str) -> Any:
    import jsonschema

    schema = json.loads(schema_text)
    return jsonschema.validators.validator_for(schema)(schema)


def check_json(name: str, check: JsonCheck, output: str) -> EvaluatorResult:
    text = output.strip()
    fenced = False
    if not check.strict:
        m = _FENCE.match(text)
        if m:
            text, fenced = m.group(1).strip(), True
    try:
        value = json.loads(text)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return _bool_result(name, False, f"Not valid JSON: {reason}{where}")
    note = " (inside a code fence)" if fenced else ""
    if check.json_schema is None:
        return _bool_result(name, True, f"Valid JSON{note}")
    validator = _validator(json.dumps(check.json_schema, sort_keys=True))
    errors = sorted(
        validator.iter_errors(value), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        first = errors[0]
        at = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return _bool_result(
            name, False, f"Valid JSON{note} but not the schema: {first.message} at {at}{more}"
        )
    return _bool_result(name, True, f"Valid JSON{note} matching the schema")


# --------------------------------------------------------------------------------------------- embeddings
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


# --------------------------------------------------------------------------------------------- llm judge
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


# --------------------------------------------------------------------------------------------- built-ins
_FIVE = [
    Choice(choice=str(n), score=s) for n, s in zip(range(1, 6), (0.0, 0.25, 0.5, 0.75, 1.0), strict=True)
]

_SYSTEM = (
    "You grade the output of an AI system against one quality criterion. Read the definition and the "
    "rating scale, judge the data, and reply with a single integer from 1 to 5 and nothing else."
)

_PROMPTS: dict[str, str] = {
    "similarity": """\
Criterion: similarity. How closely does the PREDICTED answer match the meaning of the CORRECT
answer to the QUESTION?

Scale:
1 = not at all similar: different or contradicting information
2 = mostly not similar: shares a little, misses or contradicts most
3 = somewhat similar: the main point overlaps, important parts differ or are missing
4 = mostly similar: same meaning with minor differences or omissions
5 = completely similar: equivalent meaning, possibly worded differently

QUESTION: {{input}}
CORRECT: {{expected}}
PREDICTED: {{completion}}

Reply with one integer from 1 to 5.""",
    "coherence": """\
Criterion: coherence. Are the ideas in the RESPONSE presented in a logical order, with clear
connections, so that it reads as a sensible answer to the QUERY?

Scale:
1 = incoherent: disjointed words or phrases, no meaningful sentences
2 = poorly coherent: fragments with some relevant words but no clear structure
3 = partly coherent: relevant, but the flow is abrupt or out of order
4 = coherent: logically organised, easy to follow
5 = highly coherent: seamless, well-structured and precise

QUERY: {{input}}
RESPONSE: {{completion}}

Reply with one integer from 1 to 5.""",
    "fluency": """\
Criterion: fluency. How well is the RESPONSE written: grammar, vocabulary, sentence structure and
readability? Ignore whether it is correct.

Scale:
1 = barely readable: pervasive errors, fragments
2 = basic: frequent errors, short or awkward sentences
3 = competent: occasional errors, clear and understandable
4 = proficient: good grammar, varied vocabulary, flows smoothly
5 = exceptional: flawless, precise and elegant

RESPONSE: {{completion}}

Reply with one integer from 1 to 5.""",
    "relevance": """\
Criterion: relevance. How well does the RESPONSE answer the QUERY: accurately, completely and on
topic?

Scale:
1 = irrelevant: off topic, does not try to answer
2 = incorrect: tries to answer but gets it wrong
3 = incomplete: answers but leaves out key details
4 = complete: fully and accurately answers
5 = complete with insight: fully answers and adds relevant, useful context

QUERY: {{input}}
RESPONSE: {{completion}}

Reply with one integer from 1 to 5.""",
    "groundedness": """\
Criterion: groundedness. Is the RESPONSE to the QUERY supported by the CONTEXT alone, without
unrelated or invented information?

Scale:
1 = unrelated to the context and the query
2 = on the context's topic but does not answer the query
3 = answers but contains information the context contradicts or does not support
4 = correct according to the context but incomplete
5 = correct and complete according to the context, nothing invented

CONTEXT: {{expected}}
QUERY: {{input}}
RESPONSE: {{completion}}

Reply with one integer from 1 to 5.""",
}


def builtin_judge(name: str) -> LlmJudge:
    """``uses: github/<name>``: a 1–5 rating judge mapped to 0, 0.25, 0.5, 0.75, 1.0."""
    if name not in BUILTIN_EVALUATORS:
        raise KeyError(name)
    return LlmJudge(
        model_id=DEFAULT_JUDGE_MODEL, prompt=_PROMPTS[name], system_prompt=_SYSTEM, choices=list(_FIVE)
    )
