"""The evaluation runner against the fake servers, over the real adapters and the real registry:
end to end on gh's quickstart, concurrency limits per source (the fakes count in-flight requests), a
429 storm, cancel and resume, judges and embeddings from the registry, variants."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput, ModelNotFound
from desktop_app.core.evaluation import RunStatus, render_json
from desktop_app.core.evaluators.llm import UNPARSEABLE
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.suite import Suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.core.variants import VariantSpec
from desktop_app.services import evaluate, serving
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress, EvaluationRunner
from desktop_app.services.model_refs import resolve_model_ref
from desktop_app.services.run_files import find_run, load_run
from desktop_app.services.suite_files import load_suite
from desktop_app.services.sync import sync_source
from desktop_app.services.variants import create_variant
from tests.fakes.github_models import FakeGitHubModels
from tests.fakes.ollama import FakeOllama, make_model
from tests.fakes.openai_compat import FakeOpenAIServer

SUITES = Path(__file__).resolve().parents[2] / "resources" / "suites"
LLAMA, QWEN, EMBED = "ollama/llama3.2:latest", "ollama/qwen3:8b", "ollama/nomic-embed-text:latest"


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


async def add_source(ctx: AppContext, config: SourceConfig) -> None:
    ctx.settings.sources = [s for s in ctx.settings.sources if s.name != config.name] + [config]
    ctx.save_settings()
    report = await sync_source(ctx, config)
    assert report.ok, report.message


async def use_ollama(ctx: AppContext, fake: FakeOllama, name: str = "ollama") -> None:
    if name == "ollama":
        ctx.settings.sources = []
    await add_source(ctx, SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=fake.url))
    fake.reset_counters()


async def use_github(ctx: AppContext, fake: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fake.api_key
    monkeypatch.setenv("GITHUB_TOKEN", fake.api_key)
    await add_source(ctx, SourceConfig(name="gh", kind=SourceKind.GITHUB_MODELS, base_url=fake.url))
    fake.requests.clear()


def suite_of(cases: int, evaluators: str = "", *, extra: str = "") -> Suite:
    rows = "\n".join(f"  - input: question {i}\n    expected: answer {i}" for i in range(cases))
    text = textwrap.dedent(
        """\
        name: Small
        model: ollama/llama3.2:latest
        messages:
          - role: system
            content: Be brief.
          - role: user
            content: "Q: {{input}}"
        """
    )
    text += extra + f"testData:\n{rows}\n"
    if evaluators:
        text += "evaluators:\n" + textwrap.indent(textwrap.dedent(evaluators), "  ")
    return parse_suite(text, file="small.prompt.yml")


# ------------------------------------------------------------------------------------------ end to end
async def test_quickstart_suite_runs_end_to_end_over_ollama(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.reply_text = "Summary - A fox jumped over a tired dog. Score: 4"  # the judge reads "4"
    suite = load_suite(SUITES / "text-summarizer.prompt.yml")
    events: list[EvalProgress] = []
    runner = EvaluationRunner(ctx, suite, [LLAMA, "qwen3:8b"], judge="llama3.2", on_progress=events.append)
    run = await runner.run()

    assert run.status is RunStatus.COMPLETE and run.model_ids == [LLAMA, QWEN]
    assert run.done == run.planned == 4 and not run.any_failed
    for model in (LLAMA, QWEN):
        stats = run.stats(model)
        assert (stats.total, stats.passed, stats.pass_rate) == (2, 2, 100.0)
        assert stats.mean_scores == {"Output should start with 'Summary -'": 1.0, "Similarity": 0.75}
        for case in run.results_for(model):
            assert case.output == "Summary - A fox jumped over a tired dog. Score: 4"
            assert [(e.evaluator_name, e.passed) for e in case.evaluations] == [
                ("Output should start with 'Summary -'", True),
                ("Similarity", True),
            ]
            assert case.evaluations[1].details == f"LLM evaluation matched choice: '4' (judge {LLAMA})"
            assert case.latency_s is not None and case.latency_s > 0
            # qwen3 thinks by default (think omitted), as a real thinking model does: its thinking is
            # kept beside the output and its tokens count.
            thought = fake_ollama.thinking_text if model == QWEN else ""
            assert case.thinking == thought
            assert case.ttft_s is not None and case.completion_tokens == 11 + len(thought.split())
            assert case.tokens_per_s == pytest.approx(40.0)  # the fake's 25 ms per token
            assert case.messages[0].content.startswith("You are a text summarizer")
    first = run.result(LLAMA, 0)
    assert first is not None and "The quick brown fox" in first.messages[1].content
    # 4 model calls + 4 judge calls, with the suite's temperature
    assert fake_ollama.requests["/api/chat"] == 8
    # progress: start, one event per case, finished
    assert [e.event for e in events].count("case") == 4
    assert events[0].event == "start" and events[-1].event == "finished"
    assert events[-1].overall_done == events[-1].overall_total == 4

    # gh-compatible JSON, one block per model
    blocks = render_json(run)
    assert [b["model"] for b in blocks] == [LLAMA, QWEN]
    assert blocks[0]["summary"]["totalTests"] == 2 and blocks[0]["summary"]["passRate"] == 100.0
    result = blocks[0]["testResults"][0]
    assert set(result) >= {"testCase", "modelResponse", "evaluationResults"}
    assert result["evaluationResults"][0] == {
        "evaluatorName": "Output should start with 'Summary -'",
        "score": 1.0,
        "passed": True,
        "details": "Expected to start with: 'Summary -'",
    }

    # saved as it went: header, 4 cases, end
    lines = [json.loads(x) for x in runner.run_path.read_text().splitlines()]
    assert [x["type"] for x in lines] == ["header", "case", "case", "case", "case", "end"]
    assert runner.run_path.parent == ctx.home / "runs"
    again = load_run(find_run(ctx, run.run_id))
    assert again.status is RunStatus.COMPLETE and again.done == 4
    assert again.stats(LLAMA) == run.stats(LLAMA)


async def test_suite_parameters_and_json_schema_reach_ollama(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    suite = suite_of(
        1,
        """\
        - name: schema
          json:
            schema: {type: object, required: [answer]}
        """,
        extra="modelParameters: {temperature: 0.3, maxTokens: 50}\nresponseFormat: json_schema\n"
        'jsonSchema: \'{"name": "a", "schema": {"type": "object", "properties": {"answer": {"type": "string"}},'
        ' "required": ["answer"]}}\'\n',
    )
    run = await EvaluationRunner(ctx, suite, [LLAMA]).run()
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["options"] == {"temperature": 0.3, "num_predict": 50}
    assert body["format"] == {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    }
    case = run.result(LLAMA, 0)
    assert case is not None and json.loads(case.output) == {"answer": fake_ollama.reply_text}
    assert case.passed


# ------------------------------------------------------------------------------------------ concurrency
@pytest.mark.parametrize(("concurrency", "expected"), [(None, 2), (3, 3), (1, 1)])
async def test_an_ollama_host_runs_at_most_its_limit(
    ctx: AppContext, fake_ollama: FakeOllama, concurrency: int | None, expected: int
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.delays = {"/api/chat": 0.05}  # long enough that every free slot is in use at once
    runner = EvaluationRunner(ctx, suite_of(4), [LLAMA, QWEN, "gemma3:4b"], concurrency=concurrency)
    run = await runner.run()
    assert run.done == 12 and not run.any_failed
    assert fake_ollama.max_in_flight_by_path["/api/chat"] == expected
    (limiter,) = runner.limiters.values()
    assert (limiter.limit, limiter.max_in_flight, limiter.requests) == (expected, expected, 12)


async def test_two_hosts_each_keep_their_own_limit(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    with FakeOllama([make_model("mistral:7b", ["completion"])]) as gpu:
        await use_ollama(ctx, gpu, "gpu")
        for fake in (fake_ollama, gpu):
            fake.delays = {"/api/chat": 0.05}
        runner = EvaluationRunner(ctx, suite_of(4), [LLAMA, QWEN, "gpu/mistral:7b"])
        run = await runner.run()
        assert run.done == 12 and not run.any_failed
        assert fake_ollama.max_in_flight_by_path["/api/chat"] == 2
        assert gpu.max_in_flight_by_path["/api/chat"] == 2
        assert sorted(runner.limiters) == [("gpu", "host"), ("ollama", "host")]


@pytest.mark.parametrize(
    ("model", "tier", "expected"),
    [("openai/gpt-4.1", "high", 2), ("openai/gpt-4.1-mini", "low", 5), ("deepseek/deepseek-r1", "custom", 1)],
)
async def test_remote_limits_follow_the_rate_limit_tier(
    ctx: AppContext,
    fake_github: FakeGitHubModels,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    tier: str,
    expected: int,
) -> None:
    await use_github(ctx, fake_github, monkeypatch)
    fake_github.delay = 0.1  # long enough that every free slot is in use at once
    runner = EvaluationRunner(ctx, suite_of(2 * expected), [model])
    run = await runner.run()
    assert run.done == 2 * expected and not run.any_failed, [c.error for c in run.cases]
    assert runner.limiters[("gh", tier)].limit == expected
    assert fake_github.max_in_flight == expected


async def test_a_429_storm_never_fails_a_case(
    ctx: AppContext, fake_github: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    await use_github(ctx, fake_github, monkeypatch)
    fake_github.rate_limit_header = "retry-after"
    fake_github.rate_limit_wait = 0.02
    fake_github.rate_limit_count = 14  # more than serving's own 3 retries per request, for each slot
    events: list[EvalProgress] = []
    runner = EvaluationRunner(ctx, suite_of(4), ["openai/gpt-4.1"], on_progress=events.append)
    run = await runner.run()
    assert run.done == 4 and not run.any_failed
    assert all(c.error is None for c in run.cases)
    assert len(fake_github.calls("/chat/completions")) == 4 + 14
    waits = [e for e in events if e.event == "wait"]
    assert len(waits) >= 14 and all(e.wait_s == pytest.approx(0.02) for e in waits)
    assert sum(c.rate_limit_wait_s for c in run.cases) == pytest.approx(14 * 0.02)
    assert runner.limiters[("gh", "high")].rate_limited >= 14


# ------------------------------------------------------------------------------------------ cancel & resume
async def test_cancel_keeps_finished_cases_and_resume_finishes_the_rest(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.delays = {"/api/chat": 0.02}
    suite = suite_of(10, "- name: s\n  string: {contains: sky}\n")
    runner: EvaluationRunner

    def stop_after_five(event: EvalProgress) -> None:
        if event.event == "case" and event.overall_done == 5:
            runner.cancel()

    runner = EvaluationRunner(ctx, suite, [LLAMA, QWEN], on_progress=stop_after_five)
    run = await runner.run()
    assert run.status is RunStatus.CANCELLED
    kept = run.done
    assert kept == 5
    saved = load_run(runner.run_path)
    assert saved.status is RunStatus.CANCELLED and saved.done_keys() == run.done_keys()

    fake_ollama.reset_counters()
    resumed = EvaluationRunner.resume(ctx, run.run_id)
    assert resumed.results.done == 5 and len(resumed.pending()) == 15
    final = await resumed.run()
    assert final.status is RunStatus.COMPLETE and final.done == 20 and not final.any_failed
    assert fake_ollama.requests["/api/chat"] == 15  # finished cases were not run again
    assert load_run(runner.run_path).done == 20


async def test_cancelling_the_task_like_ctrl_c_keeps_finished_cases(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.delays = {"/api/chat": 0.02}
    runner = EvaluationRunner(ctx, suite_of(20), [LLAMA])
    task = asyncio.create_task(runner.run())
    while runner.results.done < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runner.results.status is RunStatus.CANCELLED
    done = runner.results.done
    assert 3 <= done < 20
    saved = load_run(runner.run_path)
    assert saved.status is RunStatus.CANCELLED and saved.done == done
    lines = runner.run_path.read_text().splitlines()
    assert json.loads(lines[-1]) == {
        "type": "end",
        "status": "cancelled",
        "finished_at": json.loads(lines[-1])["finished_at"],
    }


async def test_a_crash_loses_only_the_case_in_flight(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    runner = EvaluationRunner(ctx, suite_of(6), [LLAMA])
    await runner.run()
    # As if the process died while writing the 5th case: no end line, the last line cut in half.
    lines = runner.run_path.read_text().splitlines()
    runner.run_path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:40])
    crashed = load_run(runner.run_path)
    assert crashed.status is RunStatus.INTERRUPTED and crashed.done == 4
    fake_ollama.reset_counters()
    final = await EvaluationRunner.resume(ctx, str(runner.run_path)).run()
    assert final.done == 6 and final.status is RunStatus.COMPLETE
    assert fake_ollama.requests["/api/chat"] == 2


async def test_cases_that_failed_on_a_down_host_run_again_on_resume(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.stop()
    run = await EvaluationRunner(ctx, suite_of(3), [LLAMA]).run()
    assert run.status is RunStatus.COMPLETE and run.any_failed
    assert all(c.error_kind == "SourceUnavailable" and c.retryable for c in run.cases)
    assert "cannot connect" in (run.cases[0].error or "")
    fake_ollama.start()
    final = await EvaluationRunner.resume(ctx, run.run_id).run()
    assert final.done == 3 and not final.any_failed


async def test_a_reply_cut_midstream_keeps_the_partial_text(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.error_midstream = "/api/chat"
    run = await EvaluationRunner(ctx, suite_of(1), [LLAMA]).run()
    case = run.result(LLAMA, 0)
    assert case is not None and case.error_kind == "StreamInterrupted" and case.retryable
    assert case.output == "The sky"  # the two tokens that came before the error line
    assert not case.passed and case.evaluations == []


async def test_resume_refuses_unknown_runs(ctx: AppContext) -> None:
    with pytest.raises(InvalidInput, match="No run 'nope' in"):
        EvaluationRunner.resume(ctx, "nope")


# ------------------------------------------------------------------------------------------ judges, embeddings
async def test_an_unreadable_judge_reply_is_a_clear_result(
    ctx: AppContext, fake_ollama: FakeOllama, fake_openai: FakeOpenAIServer
) -> None:
    await use_ollama(ctx, fake_ollama)
    assert fake_openai.api_key
    ctx.keys.set("oa", fake_openai.api_key)
    await add_source(ctx, SourceConfig(name="oa", kind=SourceKind.OPENAI_COMPAT, base_url=fake_openai.url))
    fake_openai.reply = "Hmm. The response is fine I guess, hard to say really."
    suite = suite_of(
        2, "- name: contains\n  string: {contains: sky}\n- name: rel\n  uses: github/relevance\n"
    )
    run = await EvaluationRunner(ctx, suite, [LLAMA], judge="oa/gpt-4o-mini").run()
    assert run.status is RunStatus.COMPLETE
    for case in run.results_for(LLAMA):
        contains, rel = case.evaluations
        assert contains.passed
        assert (rel.score, rel.passed, rel.error) == (0.0, False, UNPARSEABLE)
        assert rel.details.startswith("unparseable judgement: the reply names none of the choices")
        assert not case.passed
    stats = run.stats(LLAMA)
    assert stats.evaluator_errors == {"rel": 2} and "rel" not in stats.mean_scores
    # the judge saw the completion and the input
    sent = fake_openai.calls("/chat/completions")[-1].json["messages"][-1]["content"]
    assert "RESPONSE: " + fake_ollama.reply_text in sent and "QUERY: question" in sent


async def test_embedding_similarity_uses_a_registry_model_and_caches_vectors(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    same = fake_ollama.reply_text
    text = textwrap.dedent(
        f"""\
        messages: [{{role: user, content: "{{{{input}}}}"}}]
        testData:
          - input: a
            expected: "{same}"
          - input: b
            expected: something else entirely
        evaluators:
          - name: close
            embedding_similarity: {{threshold: 0.9}}
        """
    )
    run = await EvaluationRunner(ctx, parse_suite(text), [LLAMA, QWEN]).run()
    for model in (LLAMA, QWEN):
        first, second = (c.evaluations[0] for c in run.results_for(model))
        assert first.passed and first.score == pytest.approx(1.0)
        assert first.details == f"Cosine similarity 1.000 ≥ threshold 0.9 ({EMBED})"
        assert not second.passed and second.score < 0.9
    # distinct texts: the reply (same for every case) and the second expected
    assert fake_ollama.requests["/api/embed"] == 2


async def test_missing_models_are_reported_before_anything_runs(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    with pytest.raises(ModelNotFound, match="No model 'nope' in the registry"):
        EvaluationRunner(ctx, suite_of(1), ["nope"])
    suite = load_suite(SUITES / "text-summarizer.prompt.yml")  # its judge defaults to openai/gpt-4o
    with pytest.raises(InvalidInput) as info:
        EvaluationRunner(ctx, suite, [LLAMA])
    assert info.value.message == (
        "Evaluator 'Similarity': the judge 'openai/gpt-4o' cannot be used: No model 'openai/gpt-4o' in the registry."
    )
    assert "--judge" in info.value.hint
    with pytest.raises(InvalidInput, match="No model to run"):
        EvaluationRunner(ctx, parse_suite("messages: [{role: user, content: hi}]\n"))
    assert fake_ollama.requests["/api/chat"] == 0


def test_resolve_model_ref_accepts_suite_style_ids(ctx: AppContext) -> None:
    from desktop_app.core.models import ServingType, UnifiedModel

    ctx.registry.upsert(
        [
            UnifiedModel(
                id="gh/openai/gpt-4o",
                name="gpt-4o",
                remote_id="openai/gpt-4o",
                provider="gh",
                serving_type=ServingType.REMOTE,
            ),
            UnifiedModel(
                id="ollama/llama3.2:latest",
                name="llama3.2:latest",
                ollama_name="llama3.2:latest",
                provider="ollama",
            ),
        ]
    )
    assert resolve_model_ref(ctx, "openai/gpt-4o").id == "gh/openai/gpt-4o"
    assert resolve_model_ref(ctx, "llama3.2").id == "ollama/llama3.2:latest"
    assert resolve_model_ref(ctx, "ollama/llama3.2:latest").id == "ollama/llama3.2:latest"


# ------------------------------------------------------------------------------------------ variants
async def test_a_variants_system_prompt_and_parameters_win_over_the_suite(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    variant = create_variant(
        ctx,
        LLAMA,
        VariantSpec(
            name="terse", system_prompt="Answer in one word.", parameters=ChatOptions(temperature=0.1)
        ),
    )
    suite = suite_of(1, extra="modelParameters: {temperature: 0.9, topP: 0.5}\n")
    run = await EvaluationRunner(ctx, suite, [variant.id]).run()
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["model"] == "llama3.2:latest"
    assert body["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["options"] == {"temperature": 0.1, "top_p": 0.5}
    case = run.result("exp/terse", 0)
    assert case is not None and case.messages[0].content == "Answer in one word." and case.passed

    await EvaluationRunner(ctx, suite, [LLAMA]).run()
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["options"] == {"temperature": 0.9, "top_p": 0.5}


async def test_a_429_without_a_wait_uses_the_default_wait(
    ctx: AppContext, fake_github: FakeGitHubModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    await use_github(ctx, fake_github, monkeypatch)
    monkeypatch.setattr(serving, "CHAT_RETRY", replace(serving.CHAT_RETRY, default_wait=0.01))
    monkeypatch.setattr(evaluate, "EVALUATION_RETRY", replace(evaluate.EVALUATION_RETRY, default_wait=0.01))
    fake_github.rate_limit_header = "none"
    fake_github.rate_limit_count = 5
    events: list[EvalProgress] = []
    run = await EvaluationRunner(ctx, suite_of(1), ["openai/gpt-4.1"], on_progress=events.append).run()
    assert run.done == 1 and not run.any_failed
    assert [e.wait_s for e in events if e.event == "wait"] == [0.01] * 5


async def test_a_runner_runs_once_and_callback_bugs_are_not_swallowed(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)

    def broken(event: EvalProgress) -> None:
        if event.event == "case":
            raise RuntimeError("callback bug")

    runner = EvaluationRunner(ctx, suite_of(2), [LLAMA], on_progress=broken)
    with pytest.raises(RuntimeError, match="callback bug"):
        await runner.run()
    assert runner.results.done == 2  # the cases themselves were recorded and saved
    saved = load_run(runner.run_path)
    assert saved.status is RunStatus.INTERRUPTED and saved.done == 2
    with pytest.raises(InvalidInput, match="already been started"):
        await runner.run()


async def test_judging_goes_before_new_generations_so_cases_are_saved_as_they_finish(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    """The judge shares the host with the model; a finished reply's judgement jumps the queue of
    generations waiting for a slot, so every case is scored and saved soon after its reply."""
    await use_ollama(ctx, fake_ollama)
    fake_ollama.reply_text = "yes"
    suite = suite_of(
        6,
        """\
        - name: judge
          llm:
            prompt: "Is {{completion}} fine?"
            choices: [{choice: "yes", score: 1}, {choice: "no", score: 0}]
        """,
    )
    requests_at_record: list[int] = []

    def on_case(event: EvalProgress) -> None:
        if event.event == "case":
            requests_at_record.append(fake_ollama.requests["/api/chat"])

    run = await EvaluationRunner(ctx, suite, [LLAMA], judge=LLAMA, concurrency=1, on_progress=on_case).run()
    assert run.done == 6 and not run.any_failed
    # One slot. Without priority the first case would be saved only after all 6 replies and its
    # judgement (7 requests). Here each case is saved at most one reply after its own judgement.
    assert all(seen <= 2 * (i + 1) + 1 for i, seen in enumerate(requests_at_record)), requests_at_record
    assert requests_at_record[-1] == 12


# ------------------------------------------------------------------------------------------ OpenAI-compatible servers
LLAMA_CPP = "llama/qwen2.5-7b-instruct"


@pytest.fixture
async def llama_cpp(ctx: AppContext) -> AsyncIterator[FakeOpenAIServer]:
    """A llama-cpp-python server (no key): overlapping requests interrupt each other."""
    with FakeOpenAIServer(models=[("qwen2.5-7b-instruct", "me")]) as fake:
        fake.flavor = "llama_cpp"
        await add_source(ctx, SourceConfig(name="llama", kind=SourceKind.OPENAI_COMPAT, base_url=fake.url))
        fake.reset()
        yield fake


async def test_an_openai_compatible_source_runs_one_request_at_a_time(
    ctx: AppContext, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.chunk_delay = 0.002  # generating takes a while, so requests in parallel would overlap
    runner = EvaluationRunner(ctx, suite_of(4, "- name: any\n  regex: '.'\n"), [LLAMA_CPP])
    assert [lim.limit for lim in runner.limiters.values()] == [1]
    run = await runner.run()
    # Overlap shows as a reply cut short (the server's model lock had a waiter); counting open HTTP
    # requests instead races with the server thread that is still closing the previous reply.
    assert llama_cpp.interrupted == 0 and len(llama_cpp.calls("/chat/completions")) == 4
    assert not run.any_failed and all(c.output.startswith("Hello! You said: Q: question") for c in run.cases)


async def test_the_source_setting_and_concurrency_flag_raise_the_limit(
    ctx: AppContext, llama_cpp: FakeOpenAIServer
) -> None:
    config = ctx.settings.source("llama").model_copy(update={"options": {"concurrency": 3}})
    ctx.settings.sources = [config]
    assert [lim.limit for lim in EvaluationRunner(ctx, suite_of(1), [LLAMA_CPP]).limiters.values()] == [3]
    flagged = EvaluationRunner(ctx, suite_of(1), [LLAMA_CPP], concurrency=2)
    assert [lim.limit for lim in flagged.limiters.values()] == [2]


async def test_cut_short_and_empty_replies_are_errors_never_scores(
    ctx: AppContext, llama_cpp: FakeOpenAIServer
) -> None:
    suite = suite_of(2, "- name: not-this\n  regex: {pattern: 'zzz', negate: true}\n")
    llama_cpp.interrupt_next = 1  # the first reply ends with [DONE] and no finish_reason
    llama_cpp.disconnect_after = 0
    run = await EvaluationRunner(ctx, suite, [LLAMA_CPP]).run()
    cut = run.result(LLAMA_CPP, 0)
    assert cut is not None and cut.error_kind == "StreamInterrupted" and cut.retryable
    assert cut.evaluations == [] and not cut.passed
    llama_cpp.reply = ""  # a reply with a finish_reason and no text
    final = await EvaluationRunner.resume(ctx, run.run_id).run()
    empty = final.result(LLAMA_CPP, 0)
    assert empty is not None and empty.error_kind == "EmptyReply" and empty.retryable
    assert "sent an empty reply (the server said it stopped: stop)" in (empty.error or "")
    assert empty.evaluations == [] and final.result(LLAMA_CPP, 1) is not None
    llama_cpp.reply = None
    again = await EvaluationRunner.resume(ctx, run.run_id).run()
    assert again.done == 2 and not again.any_failed


async def test_a_server_killed_mid_request_is_retried_on_resume(
    ctx: AppContext, llama_cpp: FakeOpenAIServer
) -> None:
    llama_cpp.mode = "killed"
    run = await EvaluationRunner(ctx, suite_of(2), [LLAMA_CPP]).run()
    assert all(c.error_kind == "StreamInterrupted" and c.retryable for c in run.cases)
    assert all((c.error or "").startswith("llama stopped answering mid-reply") for c in run.cases)
    llama_cpp.mode = "normal"  # the server is back
    final = await EvaluationRunner.resume(ctx, run.run_id).run()
    assert final.done == 2 and not final.any_failed


async def test_files_gh_runs_are_run_as_gh_does(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    suite = suite_of(1, "- name: a\n  uses: github/vibes\n- name: a\n  regex: '.'\n- regex: 'The'\n")
    run = await EvaluationRunner(ctx, suite, [LLAMA]).run()
    case = run.result(LLAMA, 0)
    assert case is not None and case.error is None
    assert [(e.evaluator_name, e.passed) for e in case.evaluations] == [
        ("a", False),
        ("a (2)", True),
        ("evaluator 3", True),
    ]
    assert case.evaluations[0].details == "Error: unknown built-in evaluator: github/vibes"


def test_a_run_stopped_before_any_case_finished_says_so() -> None:
    from desktop_app.core.evaluation import EvaluationRun, comparison_table

    run = EvaluationRun(
        run_id="r", suite_name="s", model_ids=[LLAMA], evaluator_names=["check"], case_count=3
    )
    _, rows = comparison_table(run)
    assert ["pass rate", "no case finished"] in rows
