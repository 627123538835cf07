"""The evaluation workspace's Qt-free state against the fake Ollama: suite checks with their line,
picks, per-model progress, batched changes, cancel keeps what finished, resume, past runs, comparing
two runs, exports, recent files, and the variant editor's grid count."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.evaluation import CaseResult, EvaluationRun, RunStatus
from desktop_app.core.evaluators import EvaluatorResult
from desktop_app.core.models import Category, SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.eval_session import (
    EvalSession,
    ModelPicks,
    RecentSuites,
    bundled_suites,
    check_suite_text,
    compare_runs,
)
from desktop_app.services.run_files import past_runs
from desktop_app.services.sync import sync_source
from desktop_app.services.variant_draft import VariantDraft, plan_grid_text
from tests.fakes.ollama import FakeOllama

LLAMA, QWEN = "ollama/llama3.2:latest", "ollama/qwen3:8b"

SUITE = textwrap.dedent(
    """\
    name: Echo
    messages:
      - role: user
        content: "Say {{word}}"
    testData:
    {rows}
    evaluators:
      - name: mentions sky
        string:
          contains: sky
    """
)


def suite_text(cases: int) -> str:
    rows = "\n".join(f"  - word: w{i}" for i in range(cases))
    return SUITE.replace("{rows}", rows)


@pytest.fixture
async def ctx(fake_ollama: FakeOllama) -> AsyncIterator[AppContext]:
    context = AppContext.open()
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url)
    context.settings.sources = [config]
    context.save_settings()
    report = await sync_source(context, config)
    assert report.ok, report.message
    yield context
    await context.aclose()
    context.close()


def test_a_malformed_suite_reports_its_line() -> None:
    text = suite_text(2).replace("    string:\n", "    strng:\n")
    check = check_suite_text(text, "x.prompt.yml")
    assert not check.ok
    # the evaluator at fault: its item's line
    assert check.line == text.splitlines().index("  - name: mentions sky") + 1
    assert "nothing to check" in check.error
    broken = "name: x\nmessages:\n  - role: user\n    content: [unclosed\n"
    check = check_suite_text(broken)
    assert not check.ok and check.line == 5 and "YAML" in check.error
    assert check_suite_text(suite_text(1)).ok


def test_bundled_suites_parse() -> None:
    found = bundled_suites()
    assert {p.name for p in found} >= {"text-summarizer.prompt.yml", "capitals-extended.prompt.yml"}
    for path in found:
        assert check_suite_text(path.read_text(encoding="utf-8"), str(path)).ok


def test_recent_suites_newest_first_without_duplicates(tmp_path: Path) -> None:
    recent = RecentSuites(tmp_path)
    files = []
    for name in ("a", "b", "c"):
        f = tmp_path / f"{name}.prompt.yml"
        f.write_text("x")
        files.append(f)
        recent.add(f)
    recent.add(files[0])
    assert [p.name for p in recent.load()] == ["a.prompt.yml", "c.prompt.yml", "b.prompt.yml"]
    files[2].unlink()
    assert [p.name for p in RecentSuites(tmp_path).load()] == ["a.prompt.yml", "b.prompt.yml"]


def test_picks_keep_order_and_announce_changes() -> None:
    from tests.gui.conftest import hand_made_models

    picks = ModelPicks()
    seen: list[list[str]] = []
    picks.changed.connect(lambda: seen.append(picks.ids()))
    picks.set("b", True)
    picks.set("a", True)
    picks.set("a", True)  # no change, no event
    picks.toggle("b")
    assert seen == [["b"], ["b", "a"], ["a"]]
    added = picks.pick_category(hand_made_models(), Category.REASONING)
    # deepseek-r1 (remote) is retired: not usable, not picked
    assert added == 2 and picks.ids() == ["a", "ollama/qwen3:8b", "ollama/deepseek-r1:7b"]


def test_grid_count_as_typed() -> None:
    plan = plan_grid_text({"temperature": "0.2, 0.7", "seed": "1,2,3", "top_p": ""})
    assert plan.ok and plan.count == 6 and plan.axes == {"temperature": (0.2, 0.7), "seed": (1, 2, 3)}
    bad = plan_grid_text({"temperature": "0.2, hot"})
    assert not bad.ok and "hot" in bad.error
    huge = plan_grid_text({"seed": ",".join(str(i) for i in range(300))})
    assert not huge.ok and huge.count == 300


async def test_run_fills_progress_and_batches_changes(ctx: AppContext) -> None:
    session = EvalSession(ctx)
    assert session.set_text(suite_text(3)).ok
    session.picks.set_many([LLAMA, QWEN], True)
    events: list[str] = []
    session.run_started.connect(lambda: events.append("started"))
    session.run_finished.connect(lambda status: events.append(f"finished {status.value}"))
    run = await session.start()
    assert events == ["started", "finished complete"]
    assert run.status is RunStatus.COMPLETE and run.done == 6
    for model in (LLAMA, QWEN):
        progress = session.progress[model]
        assert (progress.done, progress.total, progress.passed, progress.failed, progress.errors) == (
            3,
            3,
            3,
            0,
            0,
        )
        assert session.stats(model).pass_rate == 100.0
    changes = session.take_changes()
    assert changes.reset and changes.cells == {(m, i) for m in (LLAMA, QWEN) for i in range(3)}
    assert not session.take_changes()  # taken once
    assert session.result(LLAMA, 2) is not None and session.test_case(2) == {"word": "w2"}


async def test_cancel_keeps_finished_cases_and_resume_finishes(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    session = EvalSession(ctx)
    session.set_text(suite_text(12))
    session.picks.set(LLAMA, True)
    fake_ollama.chunk_delay = 0.01
    task = session.start(concurrency=1)
    while session.progress[LLAMA].done < 3:
        await asyncio.sleep(0.01)
    session.cancel()
    run = await task
    assert run.status is RunStatus.CANCELLED
    kept = run.done
    assert 3 <= kept < 12 and session.progress[LLAMA].done == kept
    info = next(r for r in past_runs(ctx) if r.run_id == run.run_id)
    assert info.resumable and info.status is RunStatus.CANCELLED

    # A new session (the window reopened) resumes it: finished cases are not asked again.
    fake_ollama.chunk_delay = 0.0
    fake_ollama.reset_counters()
    again = EvalSession(ctx)
    assert [r.run_id for r in again.resumable()] == [run.run_id]
    finished = await again.resume(run.run_id)
    assert finished.status is RunStatus.COMPLETE and finished.done == 12
    assert fake_ollama.requests["/api/chat"] == 12 - kept
    assert again.progress[LLAMA].done == 12 and not again.resumable()


async def test_a_running_session_refuses_a_second_start(ctx: AppContext) -> None:
    session = EvalSession(ctx)
    with pytest.raises(InvalidInput, match="cannot run"):
        session.start([LLAMA])
    session.set_text(suite_text(2))
    with pytest.raises(InvalidInput, match="No model picked"):
        session.start()
    task = session.start([LLAMA])
    with pytest.raises(InvalidInput, match="already in progress"):
        session.start([LLAMA])
    await task


async def test_reopen_export_and_compare(ctx: AppContext, fake_ollama: FakeOllama, tmp_path: Path) -> None:
    session = EvalSession(ctx)
    session.set_text(suite_text(2))
    first = await session.start([LLAMA])
    fake_ollama.reply_text = "Nothing to see here."  # no "sky": every case fails now
    second = await session.start([LLAMA])
    assert [r.run_id for r in past_runs(ctx)][:2] == [second.run_id, first.run_id]

    other = EvalSession(ctx)
    reopened = other.open_run(past_runs(ctx)[1].path)
    assert reopened.run_id == first.run_id and other.progress[LLAMA].passed == 2

    diff = compare_runs(first, second)
    assert diff.same_suite and len(diff.worse) == 2 and not diff.better
    assert diff.pass_rates[LLAMA] == (100.0, 0.0)
    assert diff.summary() == "0 better, 2 worse, 0 unchanged"

    for fmt in ("json", "csv", "html"):
        other.export(tmp_path / f"out.{fmt}")
    blocks = json.loads((tmp_path / "out.json").read_text())
    assert blocks["model"] == LLAMA and blocks["summary"]["passedTests"] == 2
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["case"] for r in rows] == ["0", "1"] and rows[0]["mentions sky.passed"] == "True"
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Echo" in page and "<svg" in page
    with pytest.raises(InvalidInput, match="export"):
        other.export(tmp_path / "out.xlsx")


def test_compare_ranks_error_below_fail_below_pass() -> None:
    def run(states: list[str], run_id: str) -> EvaluationRun:
        r = EvaluationRun(run_id=run_id, model_ids=["m"], case_count=len(states), suite_hash="h")
        for i, s in enumerate(states):
            case = CaseResult(model_id="m", case_index=i, error="boom" if s == "error" else None)
            case.evaluations = [EvaluatorResult(evaluator_name="e", score=1.0, passed=s == "pass")]
            r.add(case)
        return r

    diff = compare_runs(
        run(["error", "fail", "pass", "pass"], "a"), run(["fail", "pass", "error", "pass"], "b")
    )
    assert [(c.case_index, c.before, c.after) for c in diff.better] == [
        (0, "error", "fail"),
        (1, "fail", "pass"),
    ]
    assert [(c.case_index, c.before, c.after) for c in diff.worse] == [(2, "pass", "error")]
    assert diff.unchanged == 1


async def test_variant_draft_preview_chats_before_saving(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    from desktop_app.core.chat import ChatMessage
    from desktop_app.services.serving import chat_once

    draft = VariantDraft(ctx.registry.get(LLAMA), name="terse", system_prompt="Be terse.", temperature=0.2)
    preview = draft.preview(ctx)
    assert ctx.registry.find(preview.id) is None  # not stored
    reply = await chat_once(ctx, preview, [ChatMessage(role="user", content="hi")])
    assert reply.content == fake_ollama.reply_text
    body = fake_ollama.last_bodies["/api/chat"]
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert body["options"]["temperature"] == 0.2


def test_running_stats_match_a_full_aggregate_after_replacements(ctx: AppContext) -> None:
    """The session keeps running totals for the matrix and chart; they must equal ``aggregate``'s,
    also when a resumed case replaces an earlier result."""
    session = EvalSession(ctx)
    run = EvaluationRun(run_id="r", model_ids=["m"], case_count=4, evaluator_names=["a", "b"])
    session._show(run, None)

    def case(
        i: int, *, error: str | None = None, scores: tuple[float, float] = (1.0, 0.5), latency: float = 1.0
    ) -> CaseResult:
        c = CaseResult(model_id="m", case_index=i, error=error, latency_s=latency)
        if error is None:
            c.evaluations = [
                EvaluatorResult(evaluator_name="a", score=scores[0], passed=scores[0] >= 0.5),
                EvaluatorResult(
                    evaluator_name="b", score=scores[1], passed=False, error="judge down" if i == 2 else None
                ),
            ]
        return c

    for c in (
        case(0),
        case(1, error="host down"),
        case(2, scores=(0.2, 0.9), latency=3.0),
        case(3, latency=2.0),
    ):
        session._record(c)
    session._record(case(1, scores=(0.7, 0.1), latency=5.0))  # the resumed case replaces the error
    session._record(case(3, error="cut short"))  # and a case that now fails replaces a success
    fast, full = session.stats("m"), session.full_stats("m")
    for name in ("total", "passed", "failed", "errors", "pass_rate", "pass_counts", "evaluator_errors"):
        assert getattr(fast, name) == getattr(full, name), name
    assert fast.mean_scores == pytest.approx(full.mean_scores)
    assert (fast.latency_p50_s, fast.latency_p95_s) == pytest.approx((full.latency_p50_s, full.latency_p95_s))


def test_open_suite_opens_a_broken_or_empty_file_but_refuses_what_is_not_text(
    ctx: AppContext, tmp_path: Path
) -> None:
    session = EvalSession(ctx)
    empty = tmp_path / "new.prompt.yml"
    empty.write_text("")
    check = session.open_suite(empty)  # an empty file opens, to be written
    assert not check.ok and "empty" in check.error and session.suite_path == empty
    broken = tmp_path / "broken.prompt.yml"
    broken.write_text("name: x\nmessages: [\n")
    assert session.open_suite(broken).line is not None and session.suite_text.startswith("name: x")
    binary = tmp_path / "image.prompt.yml"
    binary.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        session.open_suite(binary)
    with pytest.raises(InvalidInput, match="folder"):
        session.open_suite(tmp_path)
    assert session.suite_path == broken  # a refused file leaves the open suite as it was
    assert [p.name for p in session.recent.load()] == ["broken.prompt.yml", "new.prompt.yml"]


async def test_a_crashed_run_reads_as_interrupted_and_resumes(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    session = EvalSession(ctx)
    session.set_text(suite_text(6))
    run = await session.start([LLAMA])
    assert session.run_path is not None
    # What a crash leaves: no end line, and a last case line cut in the middle.
    lines = session.run_path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["type"] == "end"
    session.run_path.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:40], encoding="utf-8")
    info = past_runs(ctx)[0]
    assert info.run_id == run.run_id and info.status is RunStatus.INTERRUPTED and info.resumable
    fake_ollama.reset_counters()
    finished = await EvalSession(ctx).resume(run.run_id)
    assert finished.status is RunStatus.COMPLETE and finished.done == 6
    assert fake_ollama.requests["/api/chat"] == 1  # only the case whose line was cut


def test_unsaved_edits_survive_a_closed_window(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "echo.prompt.yml"
    path.write_text(suite_text(2), encoding="utf-8")
    session = EvalSession(ctx)
    session.open_suite(path)
    assert not session.edited and not session.draft_path.exists()
    session.set_text(suite_text(3))  # typed, not saved
    assert session.edited and session.draft_path.exists()

    again = EvalSession(ctx)  # the window was closed (or crashed) and opens again
    assert again.restore_draft()
    assert again.suite_path == path and again.suite_text == suite_text(3) and again.edited
    assert again.check.ok and len(again.check.suite.test_data) == 3
    again.save_suite()
    assert path.read_text(encoding="utf-8") == suite_text(3)
    assert not again.edited and not again.draft_path.exists() and not EvalSession(ctx).restore_draft()
