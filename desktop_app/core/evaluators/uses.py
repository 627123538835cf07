"""gh's built-in evaluators, ``uses: github/similarity|coherence|fluency|relevance|groundedness``: each a
1–5 rating judge (the ``llm`` evaluator with a fixed prompt). An unknown ``uses:`` becomes the
``invalid`` evaluator, which gh runs and fails on every case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from desktop_app.core.evaluators.base import Check, Template
from desktop_app.core.evaluators.invalid import InvalidCheck
from desktop_app.core.evaluators.llm import DEFAULT_JUDGE_MODEL, Choice, JudgeEvaluator, LlmJudge
from desktop_app.core.suite_reader import KeyPath, SuiteReader

__all__ = ["BUILTIN_EVALUATORS", "UsesCheck", "UsesEvaluator", "builtin_judge"]

BUILTIN_EVALUATORS = ("similarity", "coherence", "fluency", "relevance", "groundedness")


class UsesCheck(Check):
    kind: ClassVar[str] = "uses"
    uses: str  # "github/similarity"

    @property
    def builtin(self) -> str:
        """``similarity`` for ``uses: github/similarity``."""
        return self.uses.removeprefix("github/")


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


class UsesEvaluator(JudgeEvaluator):
    kind = "uses"
    gh = True

    def judge(self, check: UsesCheck) -> LlmJudge:
        return builtin_judge(check.builtin)

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> UsesCheck | InvalidCheck:
        uses = r.text(path, raw).strip()
        builtin = uses.removeprefix("github/")
        if not uses.startswith("github/") or builtin not in BUILTIN_EVALUATORS:
            known = ", ".join(f"github/{b}" for b in BUILTIN_EVALUATORS)
            r.gh_runs(
                path,
                f"unknown evaluator {uses!r} (the built-ins are {known})",
                "it fails on every case, as in gh",
            )
            return InvalidCheck(problem=f"unknown built-in evaluator: {uses}", raw={"uses": raw})
        return UsesCheck(uses=uses)

    def dump(self, check: UsesCheck) -> dict[str, Any]:
        return {"uses": check.uses}

    def templates(self, check: UsesCheck) -> Sequence[Template]:
        return (Template(("uses",), builtin_judge(check.builtin).prompt, frozenset({"completion"})),)
