"""The evaluation workspace's state, without Qt: the suite being edited, the models picked, a run's
progress per model, the results matrix, past runs and their comparison, recent suite files.

The window binds widgets to an :class:`EvalSession`; the CLI or the Gradio app can drive the same
object. It never touches widgets: events (:class:`Event`) announce what is rare (a run started or
ended, the suite or the picks changed), and what is frequent (a case finished, hundreds per second on
a fast host) is only recorded; a view asks :meth:`EvalSession.take_changes` on a timer and repaints
the cells and models that changed since its last look. That keeps a 4,000-case run from costing a
repaint per case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, ParamSpec

from desktop_app.core.errors import InvalidInput, SuiteError
from desktop_app.core.evaluation import (
    CaseResult,
    EvaluationRun,
    ModelStats,
    RunStatus,
    aggregate,
    percentile,
)
from desktop_app.core.evaluators import HelperRole
from desktop_app.core.models import Category, UnifiedModel
from desktop_app.core.suite import Suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress, EvaluationRunner
from desktop_app.services.run_files import RunInfo, load_run, past_runs
from desktop_app.services.suite_files import load_suite

__all__ = [
    "CellState",
    "Changes",
    "EvalSession",
    "Event",
    "ModelPicks",
    "ModelProgress",
    "RecentSuites",
    "RunComparison",
    "SuiteCheck",
    "bundled_suites",
    "cell_state",
    "check_suite_text",
    "compare_runs",
    "evaluable",
]

P = ParamSpec("P")


class Event(Generic[P]):
    """A list of callbacks, called in order by :meth:`emit` (a Qt-free signal)."""

    def __init__(self) -> None:
        self._handlers: list[Callable[P, Any]] = []

    def connect(self, handler: Callable[P, Any]) -> None:
        self._handlers.append(handler)

    def disconnect(self, handler: Callable[P, Any]) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for handler in list(self._handlers):
            handler(*args, **kwargs)


# --------------------------------------------------------------------------------------------- suites
@dataclass(frozen=True)
class SuiteCheck:
    """What the parser (the CLI's own) says of a suite's text: the suite, or the error and its line."""

    suite: Suite | None
    error: str = ""
    line: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.suite is not None


def check_suite_text(text: str, file: str = "") -> SuiteCheck:
    """Parse ``text`` as ``modeldesk eval`` would; an error keeps its line (1-based) for the editor."""
    try:
        suite = parse_suite(text, file=file)
    except SuiteError as exc:
        return SuiteCheck(None, exc.reason + (f" ({exc.hint})" if exc.hint else ""), exc.line)
    except InvalidInput as exc:
        return SuiteCheck(None, str(exc))
    return SuiteCheck(suite, warnings=tuple(str(w) for w in suite.warnings))


def bundled_suites() -> list[Path]:
    """The example suites shipped in ``resources/suites`` (from the bundle or the source tree)."""
    import sys

    candidates = []
    if os.environ.get("MODELDESK_RESOURCES"):
        candidates.append(Path(os.environ["MODELDESK_RESOURCES"]) / "suites")
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "suites")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "suites")
    for folder in candidates:
        if folder.is_dir():
            return sorted(folder.glob("*.prompt.yml"))
    return []


class RecentSuites:
    """The suite files opened last (newest first), kept in ``<data dir>/eval-recent.json``."""

    LIMIT = 10

    def __init__(self, home: Path) -> None:
        self.path = home / "eval-recent.json"

    def load(self) -> list[Path]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [Path(p) for p in data if isinstance(p, str) and Path(p).is_file()][: self.LIMIT]

    def add(self, path: str | Path) -> list[Path]:
        item = Path(path).resolve()
        items = [item, *(p for p in self.load() if p.resolve() != item)][: self.LIMIT]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps([str(p) for p in items], indent=1), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            pass  # a list of recent files is a convenience: never an error in the user's way
        return items


def _plain_text_file(path: Path) -> bool:
    """A regular UTF-8 file within the suite size cap (what the editor can open)."""
    from desktop_app.services.suite_files import MAX_SUITE_BYTES

    try:
        if not path.is_file() or path.stat().st_size > MAX_SUITE_BYTES:
            return False
        path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return True


# --------------------------------------------------------------------------------------------- picks
def evaluable(model: UnifiedModel) -> bool:
    """Whether a model can answer a suite (usable, and chats: not an embedder or an image generator)."""
    from desktop_app.services.serving import chat_refusal

    return model.usable and chat_refusal(model) is None


class ModelPicks:
    """The models an evaluation runs on, in the order they were picked."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}
        self.version = 0  # bumped on every change (views cache what they derive from the picks)
        self.changed: Event[[]] = Event()

    def _changed(self) -> None:
        self.version += 1
        self.changed.emit()

    def ids(self) -> list[str]:
        return list(self._ids)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def set(self, model_id: str, picked: bool) -> None:
        if picked == (model_id in self._ids):
            return
        if picked:
            self._ids[model_id] = None
        else:
            del self._ids[model_id]
        self._changed()

    def toggle(self, model_id: str) -> None:
        self.set(model_id, model_id not in self._ids)

    def set_many(self, model_ids: Iterable[str], picked: bool) -> None:
        before = len(self._ids)
        ids = list(model_ids)
        for m in ids:
            if picked:
                self._ids[m] = None
            else:
                self._ids.pop(m, None)
        if len(self._ids) != before:
            self._changed()

    def replace(self, model_ids: Iterable[str]) -> None:
        new = dict.fromkeys(model_ids)
        if list(new) != list(self._ids):
            self._ids = new
            self._changed()

    def pick_category(self, models: Iterable[UnifiedModel], category: Category) -> int:
        """Pick every evaluable model of ``category``; returns how many were added."""
        wanted = [m.id for m in models if category in (m.categories or [m.category]) and evaluable(m)]
        before = len(self._ids)
        self.set_many(wanted, True)
        return len(self._ids) - before


# --------------------------------------------------------------------------------------------- progress
@dataclass
class ModelProgress:
    """One model's bar: cases done of total, how many passed, failed (a verdict) or errored."""

    model_id: str
    total: int
    done: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    waiting: str = ""  # the last rate-limit message, until the next case finishes

    def count(self, case: CaseResult, sign: int = 1) -> None:
        self.done += sign
        if case.error is not None:
            self.errors += sign
        elif case.passed:
            self.passed += sign
        else:
            self.failed += sign

    @property
    def text(self) -> str:
        parts = [f"{self.done}/{self.total}", f"{self.passed} passed", f"{self.failed} failed"]
        if self.errors:
            parts.append(f"{self.errors} error{'s' if self.errors != 1 else ''}")
        return " · ".join(parts)


CellState = Literal["empty", "pass", "fail", "error"]


def cell_state(case: CaseResult | None) -> CellState:
    if case is None:
        return "empty"
    if case.error is not None:
        return "error"
    return "pass" if case.passed else "fail"


def mean_score(case: CaseResult) -> float | None:
    """The mean of a case's evaluator scores (None without a scored evaluator)."""
    scores = [e.score for e in case.evaluations if e.error is None]
    return sum(scores) / len(scores) if scores else None


@dataclass
class Changes:
    """What changed since the last :meth:`EvalSession.take_changes`."""

    cells: set[tuple[str, int]] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    reset: bool = False  # a new run or another run opened: redraw everything

    def __bool__(self) -> bool:
        return self.reset or bool(self.cells) or bool(self.models)


@dataclass(frozen=True)
class CaseChange:
    model_id: str
    case_index: int
    before: CellState
    after: CellState


@dataclass
class RunComparison:
    """Two runs of one suite side by side: which cases got better or worse, per model."""

    old_id: str
    new_id: str
    same_suite: bool
    better: list[CaseChange] = field(default_factory=list)
    worse: list[CaseChange] = field(default_factory=list)
    unchanged: int = 0
    pass_rates: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{len(self.better)} better, {len(self.worse)} worse, {self.unchanged} unchanged"
        if not self.same_suite:
            text += " (the suite changed between the runs)"
        return text


_RANK: dict[CellState, int] = {"error": 0, "fail": 1, "pass": 2, "empty": -1}


def compare_runs(old: EvaluationRun, new: EvaluationRun) -> RunComparison:
    """Cases run in both (same model, same case number): better when the new state ranks higher
    (error < fail < pass), worse when lower. Pass rates for every model of either run."""
    out = RunComparison(old.run_id, new.run_id, same_suite=old.suite_hash == new.suite_hash)
    for case in new.cases:
        before = old.result(case.model_id, case.case_index)
        if before is None:
            continue
        a, b = cell_state(before), cell_state(case)
        change = CaseChange(case.model_id, case.case_index, a, b)
        if _RANK[b] > _RANK[a]:
            out.better.append(change)
        elif _RANK[b] < _RANK[a]:
            out.worse.append(change)
        else:
            out.unchanged += 1
    for lst in (out.better, out.worse):
        lst.sort(key=lambda c: (c.model_id, c.case_index))
    for model in dict.fromkeys([*old.model_ids, *new.model_ids]):
        rates = []
        for run in (old, new):
            cases = run.results_for(model) if model in run.model_ids else []
            rates.append(aggregate(model, cases).pass_rate if cases else None)
        out.pass_rates[model] = (rates[0], rates[1])
    return out


# --------------------------------------------------------------------------------------------- the session
class EvalSession:
    """One workspace: a suite, picked models and a judge, and the run on screen (live or reopened)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.recent = RecentSuites(ctx.home)
        self.picks = ModelPicks()
        self.judge: str | None = None
        self.suite_path: Path | None = None
        self.suite_text = ""
        self.saved_text = ""  # the file's text as last read or written (edits differ from it)
        self.draft_path = ctx.home / "eval-draft.json"  # unsaved edits survive a crash or a close
        self.check = SuiteCheck(None, "No suite yet: open a .prompt.yml file or pick an example.")
        self.run: EvaluationRun | None = None
        self.run_path: Path | None = None
        self.progress: dict[str, ModelProgress] = {}
        self.runner: EvaluationRunner | None = None
        self._by_model: dict[str, dict[int, CaseResult]] = {}
        self._latency: dict[str, dict[int, float]] = {}  # model -> case -> latency (cases without error)
        # model -> evaluator -> [sum of scores, scored, passed, errors]
        self._scores: dict[str, dict[str, list[Any]]] = {}
        self._changes = Changes()
        self._task: asyncio.Task[Any] | None = None
        self._hash_check: tuple[Any, bool] = (None, False)
        # Events (rare ones only; cases are polled with take_changes).
        self.suite_changed: Event[[]] = Event()
        self.run_started: Event[[]] = Event()
        self.run_finished: Event[[RunStatus]] = Event()
        self.run_loaded: Event[[]] = Event()
        self.waiting: Event[[str]] = Event()  # a rate-limit wait, with its message

    # ------------------------------------------------------------------ suite
    @property
    def suite(self) -> Suite | None:
        return self.check.suite

    def open_suite(self, path: str | Path) -> SuiteCheck:
        """Read a suite file into the editor and remember it. A file that cannot be read as a suite
        (a folder, a device, not UTF-8, too big) is refused as the CLI refuses it; a readable file
        with mistakes opens, its error at its line, to be fixed."""
        p = Path(path)
        try:
            load_suite(p)  # the CLI's file checks (and a first parse)
        except SuiteError as exc:
            if not _plain_text_file(p):
                raise InvalidInput(str(exc)) from None
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"Cannot read {p}: {getattr(exc, 'strerror', None) or exc}") from None
        self.suite_path = p
        self.saved_text = text
        self.recent.add(p)
        self._forget_draft()
        return self.set_text(text)

    def set_text(self, text: str) -> SuiteCheck:
        """The editor's text changed (the view debounces keystrokes before calling this). Unsaved
        edits are kept in a draft file at once, so that neither a crash nor a closed window loses them."""
        self.suite_text = text
        self.check = check_suite_text(text, str(self.suite_path) if self.suite_path else "")
        if self.edited:
            self._write_draft()
        else:
            self._forget_draft()
        self.suite_changed.emit()
        return self.check

    @property
    def edited(self) -> bool:
        """The editor holds changes that are not in the suite's file."""
        return self.suite_text != self.saved_text

    def _write_draft(self) -> None:
        data = {"path": str(self.suite_path) if self.suite_path else None, "text": self.suite_text}
        try:
            tmp = self.draft_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            tmp.replace(self.draft_path)
        except OSError:
            pass  # best effort: the text is still in the editor

    def _forget_draft(self) -> None:
        with contextlib.suppress(OSError):
            self.draft_path.unlink(missing_ok=True)

    def restore_draft(self) -> bool:
        """Put back the unsaved edits of the last session (True when there were some)."""
        try:
            data = json.loads(self.draft_path.read_text(encoding="utf-8"))
            text, path = data["text"], data.get("path")
        except (OSError, ValueError, KeyError, TypeError):
            return False
        if not isinstance(text, str):
            return False
        self.suite_path = Path(path) if isinstance(path, str) else None
        try:
            self.saved_text = self.suite_path.read_text(encoding="utf-8") if self.suite_path else ""
        except (OSError, UnicodeDecodeError):
            self.saved_text = ""
        self.set_text(text)
        return True

    def save_suite(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.suite_path
        if target is None:
            raise InvalidInput("The suite has no file yet; choose where to save it.")
        try:
            target.write_text(self.suite_text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"Cannot write {target}: {exc.strerror or exc}") from None
        self.suite_path = target
        self.saved_text = self.suite_text
        self.recent.add(target)
        self._forget_draft()
        return target

    def needs_judge(self) -> bool:
        suite = self.suite
        return suite is not None and any(
            (need := e.helper()) is not None and need.role is HelperRole.JUDGE for e in suite.evaluators
        )

    # ------------------------------------------------------------------ results
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def model_ids(self) -> list[str]:
        return list(self.run.model_ids) if self.run is not None else []

    def case_count(self) -> int:
        return self.run.case_count if self.run is not None else 0

    def result(self, model_id: str, case_index: int) -> CaseResult | None:
        return self._by_model.get(model_id, {}).get(case_index)

    def test_case(self, case_index: int) -> dict[str, Any]:
        """The variables of a case: from the suite when it is the run's, else from any result."""
        suite = self.suite
        if suite is not None and 0 <= case_index < len(suite.test_data) and self.suite_is_runs():
            return dict(suite.test_data[case_index])
        for cases in self._by_model.values():
            case = cases.get(case_index)
            if case is not None:
                return dict(case.test_case)
        return {}

    def suite_is_runs(self) -> bool:
        """Whether the suite in the editor is the one the run on screen ran."""
        suite, run = self.suite, self.run
        if suite is None or run is None:
            return False
        key = (id(suite), run.suite_hash)
        if self._hash_check[0] != key:
            self._hash_check = (key, suite.content_hash() == run.suite_hash)
        return self._hash_check[1]

    def stats(self, model_id: str) -> ModelStats:
        """A model's statistics so far, from running totals (cheap: called on every refresh of a big
        run). Pass counts, errors, mean scores and latency percentiles are those of
        :func:`~desktop_app.core.evaluation.aggregate`; token totals are left out (see ``full_stats``)."""
        p = self.progress.get(model_id)
        if p is None:
            return self.full_stats(model_id)
        stats = ModelStats(
            model_id=model_id,
            total=p.done,
            passed=p.passed,
            failed=p.done - p.passed,
            errors=p.errors,
            pass_rate=100.0 if not p.done else p.passed / p.done * 100,
        )
        for name, (total, count, passed, errors) in self._scores.get(model_id, {}).items():
            if count:
                stats.mean_scores[name] = total / count
            stats.pass_counts[name] = passed
            if errors:
                stats.evaluator_errors[name] = errors
        latencies = list(self._latency.get(model_id, {}).values())
        stats.latency_p50_s = percentile(latencies, 0.5)
        stats.latency_p95_s = percentile(latencies, 0.95)
        stats.mean_latency_s = sum(latencies) / len(latencies) if latencies else None
        return stats

    def full_stats(self, model_id: str) -> ModelStats:
        """Everything :func:`aggregate` computes (a pass over the model's cases)."""
        names = self.run.evaluator_names if self.run is not None else []
        return aggregate(model_id, self._by_model.get(model_id, {}).values(), names)

    def all_stats(self) -> list[ModelStats]:
        return [self.stats(m) for m in self.model_ids()]

    def take_changes(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        return changes

    def _show(self, run: EvaluationRun, path: Path | None) -> None:
        self.run, self.run_path = run, path
        self._by_model = {m: {} for m in run.model_ids}
        self._latency = {m: {} for m in run.model_ids}
        self._scores = {m: {n: [0.0, 0, 0, 0] for n in run.evaluator_names} for m in run.model_ids}
        self.progress = {m: ModelProgress(m, run.case_count) for m in run.model_ids}
        for case in run.cases:
            self._record(case)
        self._changes = Changes(reset=True)

    def _record(self, case: CaseResult) -> None:
        cases = self._by_model.setdefault(case.model_id, {})
        progress = self.progress.get(case.model_id)
        old = cases.get(case.case_index)
        if progress is not None:
            if old is not None:
                progress.count(old, -1)
            progress.count(case)
            progress.waiting = ""
        if old is not None:
            self._count_scores(old, -1)
        self._count_scores(case, 1)
        latency = self._latency.setdefault(case.model_id, {})
        if case.error is None and case.latency_s is not None:
            latency[case.case_index] = case.latency_s
        else:
            latency.pop(case.case_index, None)
        cases[case.case_index] = case
        self._changes.cells.add(case.key)
        self._changes.models.add(case.model_id)

    def _count_scores(self, case: CaseResult, sign: int) -> None:
        scores = self._scores.setdefault(case.model_id, {})
        for e in case.evaluations:
            entry = scores.setdefault(e.evaluator_name, [0.0, 0, 0, 0])
            if e.error is None:
                entry[0] += sign * e.score
                entry[1] += sign
            else:
                entry[3] += sign
            if e.passed:
                entry[2] += sign

    def open_run(self, path: str | Path) -> EvaluationRun:
        """Show a past run (complete or not)."""
        if self.running:
            raise InvalidInput("A run is in progress; cancel it before opening another.")
        run = load_run(path)
        self._show(run, Path(path))
        self.run_loaded.emit()
        return run

    # ------------------------------------------------------------------ running
    def start(
        self, models: Sequence[str] | None = None, *, judge: str | None = None, concurrency: int | None = None
    ) -> asyncio.Task[EvaluationRun]:
        """Start a run of the current suite on ``models`` (the picks when None). Raises InvalidInput at
        once for what can be told before running (no suite, no model, unknown judge)."""
        if self.running:
            raise InvalidInput("A run is already in progress.")
        suite = self.suite
        if suite is None:
            raise InvalidInput(f"The suite cannot run: {self.check.error}")
        ids = list(models) if models is not None else self.picks.ids()
        if not ids:
            raise InvalidInput(
                "No model picked: check models in the tree (or use “Add category”) before running."
            )
        runner = EvaluationRunner(
            self.ctx,
            suite,
            ids,
            judge=judge if judge is not None else self.judge,
            concurrency=concurrency,
            on_progress=self._on_progress,
        )
        return self._launch(runner)

    def resume(self, run_ref: str | Path, *, concurrency: int | None = None) -> asyncio.Task[EvaluationRun]:
        """Finish an interrupted or cancelled run (cases that failed on a host that was down run again)."""
        if self.running:
            raise InvalidInput("A run is already in progress.")
        runner = EvaluationRunner.resume(
            self.ctx, str(run_ref), concurrency=concurrency, on_progress=self._on_progress
        )
        return self._launch(runner)

    def _launch(self, runner: EvaluationRunner) -> asyncio.Task[EvaluationRun]:
        self.runner = runner
        self._show(runner.results, runner.run_path)
        task = asyncio.ensure_future(self._drive(runner))
        self._task = task
        self.run_started.emit()
        return task

    async def _drive(self, runner: EvaluationRunner) -> EvaluationRun:
        try:
            return await runner.run()
        except asyncio.CancelledError:
            return runner.results  # the runner kept every finished case and wrote "cancelled"
        finally:
            self._task = None
            self.run_finished.emit(runner.results.status)

    def cancel(self) -> None:
        """Stop the run: cases in flight are dropped, finished ones kept (resumable)."""
        if self.runner is not None and self.running:
            self.runner.cancel()

    async def shutdown(self) -> None:
        """The window closes: stop cleanly so that the run file says where to resume."""
        task = self._task
        if task is not None and not task.done():
            self.cancel()
            await asyncio.wait([task], timeout=5)

    def _on_progress(self, event: EvalProgress) -> None:
        if event.event == "case" and event.case is not None:
            self._record(event.case)
        elif event.event == "wait" and event.model_id:
            progress = self.progress.get(event.model_id)
            if progress is not None:
                progress.waiting = event.message
                self._changes.models.add(event.model_id)
            self.waiting.emit(event.message)

    # ------------------------------------------------------------------ runs
    def resumable(self) -> list[RunInfo]:
        """Past runs that stopped before their end (a crash, a closed window, Cancel)."""
        return [r for r in past_runs(self.ctx) if r.resumable]

    def export(self, path: str | Path, fmt: str | None = None) -> Path:
        from desktop_app.services.report import write_report

        if self.run is None:
            raise InvalidInput("Nothing to export yet: run a suite or open a past run.")
        return write_report(self.run, path, fmt)
