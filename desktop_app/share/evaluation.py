"""Evaluations started from the browser: the same suite parser and ``EvaluationRunner`` as
``modeldesk eval`` (so runs land in the same ``runs/`` folder and are logged the way every evaluation
is), with progress as plain lines and the reports written where the page can offer them for download.

An uploaded suite is size-limited before it is read and parsed by the one parser, so its errors name
its line exactly as the CLI's do. No gradio here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from desktop_app.core.errors import InvalidInput, ModelDeskError, SuiteError
from desktop_app.core.evaluation import (
    EvaluationRun,
    RunStatus,
    comparison_table,
    render_csv,
    render_json,
)
from desktop_app.core.suite import Suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress, EvaluationRunner
from desktop_app.services.report import render_html
from desktop_app.services.suite_files import load_suite

log = logging.getLogger(__name__)

__all__ = [
    "MAX_SUITE_BYTES",
    "EvalUpdate",
    "bundled_suites",
    "read_uploaded_suite",
    "run_evaluation",
]

MAX_SUITE_BYTES = (
    256 * 1024
)  # a suite is a small text file; this keeps a shared page from being fed a huge one


@cache
def _suites_dir() -> Path:
    """``$MODELDESK_RESOURCES/suites``, the PyInstaller bundle's, or the source tree's."""
    candidates = []
    if os.environ.get("MODELDESK_RESOURCES"):
        candidates.append(Path(os.environ["MODELDESK_RESOURCES"]) / "suites")
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "resources" / "suites")
    candidates.append(Path(__file__).resolve().parents[2] / "resources" / "suites")
    return next((p for p in candidates if p.is_dir()), candidates[-1])


def bundled_suites() -> dict[str, Path]:
    """The example suites shipped with ModelDesk, by file name."""
    folder = _suites_dir()
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.glob("*.prompt.y*ml"))}


def read_uploaded_suite(path: str | Path, name: str | None = None) -> Suite:
    """Parse an uploaded file; errors name the file as the user called it, with the line."""
    p = Path(path)
    shown = name or p.name
    try:
        size = p.stat().st_size
    except OSError:
        raise SuiteError("the upload could not be read; upload it again", file=shown) from None
    if size > MAX_SUITE_BYTES:
        raise SuiteError(
            f"is {size // 1024} KB; a suite here may be at most {MAX_SUITE_BYTES // 1024} KB", file=shown
        )
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SuiteError("is not UTF-8 text", file=shown) from None
    return parse_suite(text, file=shown)


def load_bundled(name: str) -> Suite:
    suites = bundled_suites()
    if name not in suites:
        raise InvalidInput(f"There is no bundled suite {name!r}; pick one from the list or upload yours.")
    return load_suite(suites[name])


@dataclass
class EvalUpdate:
    """What the page shows as a run goes: a status line, and at the end the table and report files."""

    status: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    run: EvaluationRun | None = None


def _status(run: EvaluationRun, done: dict[str, int], note: str = "") -> str:
    lines = [f"**{run.suite_name or 'Suite'}** · {run.done} of {run.planned} cases"]
    lines += [f"- `{m}`: {done.get(m, 0)}/{run.case_count}" for m in run.model_ids]
    if note:
        lines.append(f"\n{note}")
    return "\n".join(lines)


def write_reports(run: EvaluationRun, folder: Path | None = None) -> list[str]:
    """JSON (gh's shape), CSV and the HTML report, in a fresh folder the page may serve from."""
    out = Path(folder or tempfile.mkdtemp(prefix="modeldesk-share-"))
    out.mkdir(parents=True, exist_ok=True)
    base = out / run.run_id
    paths = {
        ".json": json.dumps(render_json(run), indent=2, ensure_ascii=False, default=str),
        ".csv": render_csv(run),
        ".html": render_html(run),
    }
    written = []
    for suffix, text in paths.items():
        target = base.with_suffix(suffix)
        target.write_text(text, encoding="utf-8")
        written.append(str(target))
    return written


async def run_evaluation(
    ctx: AppContext,
    suite: Suite,
    models: Sequence[str],
    *,
    judge: str | None = None,
    report_dir: Path | None = None,
) -> AsyncIterator[EvalUpdate]:
    """Run ``suite`` over ``models``, yielding an update per finished case (and per rate-limit wait),
    then one with the comparison table and the report files. Cancelling the consumer cancels the run;
    finished cases stay in the run file, as with ``modeldesk eval``."""
    if not models:
        raise InvalidInput("Pick at least one model to evaluate.")
    runner = EvaluationRunner(ctx, suite, list(models), judge=judge or None)
    events: asyncio.Queue[EvalProgress] = asyncio.Queue()
    runner.on_progress = events.put_nowait
    done: dict[str, int] = {}
    task = asyncio.ensure_future(runner.run())
    yield EvalUpdate(_status(runner.results, done))
    try:
        while not task.done() or not events.empty():
            getter = asyncio.ensure_future(events.get())
            finished, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in finished:
                getter.cancel()
                continue
            event = getter.result()
            if event.event == "case" and event.model_id:
                done[event.model_id] = event.done
                yield EvalUpdate(_status(runner.results, done))
            elif event.event == "wait":
                yield EvalUpdate(_status(runner.results, done, event.message))
        run = task.result()
    finally:
        if not task.done():
            runner.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    _to_mlflow(ctx, run)
    header, rows = comparison_table(run, mark="★")
    winner = run.winner() if len(run.model_ids) > 1 else None
    note = f"★ winner: `{winner}` (best pass rate, then mean score, then median latency)" if winner else ""
    yield EvalUpdate(
        _status(run, {m: len(run.results_for(m)) for m in run.model_ids}, note),
        header,
        rows,
        write_reports(run, report_dir),
        run,
    )


def _to_mlflow(ctx: AppContext, run: EvaluationRun) -> None:
    """Logged as every evaluation is (the share process stays free to serve; see tracking.hand_off)."""
    from desktop_app.services import tracking

    try:
        tracking.hand_off(ctx, run.run_id, finished=run.status is RunStatus.COMPLETE)
    except (OSError, ModelDeskError) as exc:  # the run is saved; only its logging waits
        log.warning("could not queue run %s for MLflow: %s", run.run_id, exc)
