"""A new evaluator kind is one module and one ``EVALUATORS`` entry: two made-up kinds, registered by a
fixture and nowhere else, are read from a suite, written back, and run end to end by the real runner
against the fake Ollama (one scored from the output alone, one that asks a judge model)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, ClassVar

import pytest

from desktop_app.core.errors import SuiteError
from desktop_app.core.evaluators import (
    EVALUATORS,
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
from desktop_app.core.evaluators.base import bool_result
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.suite_dump import dump_suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.core.suite_reader import KeyPath, SuiteReader
from desktop_app.core.templating import render_template
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvaluationRunner
from desktop_app.services.run_files import load_run
from desktop_app.services.sync import sync_source
from tests.fakes.ollama import FakeOllama

LLAMA = "ollama/llama3.2:latest"


# ------------------------------------------------------------------------------------------ the new kinds
class MaxWordsCheck(Check):
    kind: ClassVar[str] = "max_words"
    limit: int


class MaxWords(Evaluator[MaxWordsCheck]):
    """Passes when the output has at most ``limit`` words (scored from the output alone)."""

    kind = "max_words"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> MaxWordsCheck:
        limit = int(r.number(path, raw, integer=True))
        if limit < 1:
            r.fail(path, "give at least 1 word")
        return MaxWordsCheck(limit=limit)

    def dump(self, check: MaxWordsCheck) -> dict[str, Any]:
        return {"max_words": check.limit}

    def score(
        self, name: str, check: MaxWordsCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        words = len(case.output.split())
        return bool_result(name, words <= check.limit, f"{words} words (at most {check.limit})")


class JudgeSaysCheck(Check):
    kind: ClassVar[str] = "judge_says"
    model_id: str
    question: str
    word: str


class JudgeSays(Evaluator[JudgeSaysCheck]):
    """Asks a judge model ``question`` (a template that sees ``{{completion}}``); passes when its reply
    contains ``word``. It declares the helper it needs; the runner provides it."""

    kind = "judge_says"

    def parse(self, r: SuiteReader, path: KeyPath, raw: Any) -> JudgeSaysCheck:
        data = r.mapping(path, raw, what="a mapping with modelId, question and word")
        return JudgeSaysCheck(
            model_id=r.text((*path, "modelId"), data.get("modelId")),
            question=r.text((*path, "question"), data.get("question")),
            word=r.text((*path, "word"), data.get("word")),
        )

    def dump(self, check: JudgeSaysCheck) -> dict[str, Any]:
        return {"judge_says": {"modelId": check.model_id, "question": check.question, "word": check.word}}

    def templates(self, check: JudgeSaysCheck) -> Sequence[Template]:
        return (Template(("judge_says", "question"), check.question, frozenset({"completion"})),)

    def helper(self, check: JudgeSaysCheck) -> Helper:
        return Helper(HelperRole.JUDGE, check.model_id)

    def request(self, check: JudgeSaysCheck, case: CaseOutput) -> HelperRequest:
        from desktop_app.core.chat import ChatMessage

        text = render_template(check.question, {**case.variables, "completion": case.output})
        return HelperRequest(messages=(ChatMessage(role="user", content=text),))

    def score(
        self, name: str, check: JudgeSaysCheck, case: CaseOutput, answer: HelperAnswer | None
    ) -> EvaluatorResult:
        assert answer is not None
        said = check.word.lower() in answer.text.lower()
        return bool_result(name, said, f"{answer.model_id} said {answer.text[:30]!r}")


@pytest.fixture
def new_kinds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The one line per kind that registers it."""
    monkeypatch.setitem(EVALUATORS, "max_words", MaxWords())
    monkeypatch.setitem(EVALUATORS, "judge_says", JudgeSays())
    yield


SUITE = textwrap.dedent(
    """\
    name: New kinds
    messages:
      - role: user
        content: "Q: {{input}}"
    testData:
      - input: one
      - input: two
    evaluators:
      - name: short
        max_words: 12
      - name: terse
        max_words: 3
      - name: judged
        judge_says:
          modelId: ollama/llama3.2:latest
          question: "Is this a summary of {{input}}? {{completion}}"
          word: summary
      - name: gh's own still works
        string: {startsWith: "Summary -"}
    """
)


def test_a_registered_kind_is_read_and_written_back(new_kinds: None) -> None:
    suite = parse_suite(SUITE, file="new.prompt.yml")
    assert [e.kind for e in suite.evaluators] == ["max_words", "max_words", "judge_says", "string"]
    assert suite.warnings == []  # neither an unknown key nor an undefined variable
    again = parse_suite(dump_suite(suite))
    assert again.evaluators == suite.evaluators and again.content_hash() == suite.content_hash()
    with pytest.raises(SuiteError, match=r"evaluators\[0\]\.max_words: give at least 1 word"):
        parse_suite(SUITE.replace("max_words: 12", "max_words: 0"), file="new.prompt.yml")
    with pytest.raises(SuiteError, match=r"tool_call, max_words, judge_says \(ModelDesk\)"):
        parse_suite(SUITE.replace("max_words: 12", "nothing: here"), file="new.prompt.yml")
    warned = parse_suite(SUITE.replace("{{input}}?", "{{topic}}?"), file="new.prompt.yml")
    assert any("evaluators[2].judge_says.question: uses {{topic}}" in w for w in warned.warnings)


def test_without_registration_the_key_is_unknown() -> None:
    with pytest.raises(SuiteError, match="has nothing to check"):
        parse_suite(SUITE, file="new.prompt.yml")


@pytest.fixture
async def ctx(fake_ollama: FakeOllama) -> AsyncIterator[AppContext]:
    context = AppContext.open()
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url)
    context.settings.sources = [config]
    context.save_settings()
    assert (await sync_source(context, config)).ok
    fake_ollama.reset_counters()
    yield context
    await context.aclose()
    context.close()


async def test_a_registered_kind_runs_end_to_end(
    new_kinds: None, ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    fake_ollama.reply_text = "Summary - a short answer"
    suite = parse_suite(SUITE, file="new.prompt.yml")
    runner = EvaluationRunner(ctx, suite, [LLAMA])
    run = await runner.run()
    assert run.done == 2 and not any(c.error for c in run.cases)
    for case in run.cases:
        assert [(e.evaluator_name, e.passed, e.details) for e in case.evaluations] == [
            ("short", True, "5 words (at most 12)"),
            ("terse", False, "5 words (at most 3)"),
            ("judged", True, f"{LLAMA} said 'Summary - a short answer'"),
            ("gh's own still works", True, "Expected to start with: 'Summary -'"),
        ]
    assert fake_ollama.requests["/api/chat"] == 4  # two cases, and the judge once for each
    assert load_run(runner.run_path).cases[0].evaluations == run.cases[0].evaluations
