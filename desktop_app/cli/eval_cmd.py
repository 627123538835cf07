"""`eval SUITE.prompt.yml`: run a GitHub-format prompt suite over one or many models side by side.

A live progress bar per model goes to stderr (plain lines when stderr is not a terminal); then a table
with the models as columns and the evaluators as rows, the winner marked. ``--json`` prints gh's
``gh models eval --json`` shape (one block per model), ``--csv``/``--html`` write files. The exit code is
1 when any test failed (like gh), 130 when stopped; a stopped run resumes with ``--resume RUN``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import TextIO

from desktop_app.cli import EXIT_FAIL, EXIT_OK
from desktop_app.cli._common import print_json, run_async, warn
from desktop_app.cli._format import bar, table
from desktop_app.core.errors import InvalidInput
from desktop_app.core.evaluation import EvaluationRun, RunStatus, comparison_table, render_csv, render_json
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvalProgress, EvaluationRunner
from desktop_app.services.suite_files import load_suite

__all__ = ["ProgressDisplay", "register"]

EXIT_STOPPED = 130
MAX_FAILURES_SHOWN = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="evaluate models and variants side by side on a .prompt.yml suite",
        description="Run a .prompt.yml suite (GitHub's format, plus ModelDesk's regex, json, "
        "embedding_similarity and models: keys) over one or many models at once. Results are saved "
        "as they come in the data folder's runs/; exit code 1 if any test failed.",
    )
    p.add_argument("suite", nargs="?", help="the .prompt.yml file (not needed with --resume)")
    p.add_argument(
        "--model",
        "-m",
        action="append",
        default=[],
        metavar="ID",
        help="a model or variant to run (repeat, or comma-separate, for several; "
        "default: the suite's models:/model)",
    )
    p.add_argument(
        "--json", action="store_true", help="print gh models eval --json output (one block per model)"
    )
    p.add_argument("--csv", metavar="FILE", help="also write one CSV row per model and case")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse a suite gh would run but that is likely a mistake (an evaluator with two methods, "
        "a missing or repeated name, an unknown uses:) instead of warning",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="requests at once per source (default: 2 per Ollama host, 1 per OpenAI-compatible server; "
        "GitHub Models: by rate-limit tier; a source's `concurrency` setting overrides the default)",
    )
    p.add_argument("--judge", metavar="ID", help="the model that judges llm and github/* evaluators")
    p.add_argument("--resume", metavar="RUN", help="finish an interrupted run (its id, or its file)")
    p.add_argument(
        "--per-host",
        action="store_true",
        help="for a pool (pool/<model>), also show each host's cases, pass rate and latency",
    )
    p.add_argument(
        "--allow-tools",
        action="store_true",
        help="let the suite run tools of MCP servers (built-in tools always run)",
    )
    p.add_argument("--no-mlflow", action="store_true", help="do not log this run to MLflow")
    p.set_defaults(handler=cmd_eval)


# ------------------------------------------------------------------ progress
class ProgressDisplay:
    """Per-model progress on a stream: redrawn bars at a terminal, plain lines otherwise."""

    def __init__(
        self, models: list[str], total: int, stream: TextIO | None = None, *, tty: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.models = models
        self.total = total
        self.done = {m: 0 for m in models}
        self.failed = {m: 0 for m in models}
        self._drawn = 0
        self._last_draw = 0.0
        self._last_step = {m: -1 for m in models}
        self._note = ""

    def start(self, already: dict[str, int]) -> None:
        self.done.update(already)
        if self.tty:
            self._draw(force=True)
        else:
            resumed = sum(already.values())
            extra = f" ({resumed} already done)" if resumed else ""
            self._line(f"Running {len(self.models)} model(s) × {self.total} case(s){extra}")

    def __call__(self, event: EvalProgress) -> None:
        if event.event == "case" and event.model_id in self.done and event.case is not None:
            self.done[event.model_id] = event.done
            if not event.case.passed:
                self.failed[event.model_id] += 1
            if self.tty:
                self._draw()
            else:
                self._plain(event.model_id)
        elif event.event == "wait":
            if self.tty:
                self._note = event.message
                self._draw(force=True)
            else:
                self._line(event.message)

    def finish(self) -> None:
        if self.tty:
            self._note = ""
            self._draw(force=True)

    def _plain(self, model: str) -> None:
        """A line each time a model passes another tenth of its cases (every case for short suites)."""
        done = self.done[model]
        step = done * 10 // self.total if self.total else 10
        if step > self._last_step[model]:
            self._last_step[model] = step
            fails = f", {self.failed[model]} failed" if self.failed[model] else ""
            self._line(f"{model}: {done}/{self.total} cases{fails}")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1 and any(d < self.total for d in self.done.values()):
            return
        self._last_draw = now
        width = max((len(m) for m in self.models), default=10)
        width = min(width, 40)
        lines = []
        for m in self.models:
            d = self.done[m]
            frac = d / self.total if self.total else 1.0
            name = m if len(m) <= width else m[: width - 1] + "…"
            fails = f"  {self.failed[m]} failed" if self.failed[m] else ""
            lines.append(f"{name.ljust(width)} {bar(frac, 24)} {d}/{self.total}{fails}")
        if self._note:
            lines.append(self._note[:120])
        out = ""
        if self._drawn:
            out += f"\x1b[{self._drawn}F"  # back to the first line drawn last time
        out += "".join(f"\x1b[2K{line}\n" for line in lines)
        if self._drawn > len(lines):
            out += "\x1b[2K\n" * (self._drawn - len(lines)) + f"\x1b[{self._drawn - len(lines)}F"
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(lines)


# ------------------------------------------------------------------ output
def print_table(run: EvaluationRun, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    header, rows = comparison_table(run, mark="★")
    out.write(table(header, rows) + "\n")
    if len(run.model_ids) > 1:
        winner = run.winner()
        if winner:
            out.write(f"\n★ winner: {winner} (best pass rate, then mean score, then median latency)\n")
    failures = [c for c in sorted(run.cases, key=lambda c: (c.case_index, c.model_id)) if not c.passed]
    if not failures:
        return
    lines: list[str] = []
    for c in failures:
        if c.error:
            lines.append(f"  case {c.case_index} · {c.model_id}: error: {c.error}")
            continue
        lines += [
            f"  case {c.case_index} · {c.model_id} · {e.evaluator_name}: {e.details}"
            for e in c.evaluations
            if not e.passed
        ]
    out.write(f"\nFailed cases ({len(failures)}):\n")
    for line in lines[:MAX_FAILURES_SHOWN]:
        out.write(line + "\n")
    if len(lines) > MAX_FAILURES_SHOWN:
        out.write(f"  … and {len(lines) - MAX_FAILURES_SHOWN} more (see --json, --csv or --html)\n")


def _write(path: str, text: str, what: str) -> None:
    try:
        target = Path(path).expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"Cannot write the {what} to {path}: {exc.strerror or exc}") from None
    print(f"Wrote {what} to {path}", file=sys.stderr)


def _models(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for item in args.model:
        out.extend(x.strip() for x in item.split(",") if x.strip())
    return out


# ------------------------------------------------------------------ the command
def cmd_eval(args: argparse.Namespace) -> int:
    if args.concurrency is not None and args.concurrency < 1:
        raise InvalidInput(f"--concurrency must be 1 or more, not {args.concurrency}.")
    if not args.suite and not args.resume:
        raise InvalidInput("Give a suite file (SUITE.prompt.yml), or --resume RUN to finish a run.")
    models = _models(args)
    suite = load_suite(args.suite, strict=args.strict) if args.suite else None
    if suite is not None:
        for text in suite.warnings:
            warn(f"{suite.path}: {text}")

    async def go(ctx: AppContext) -> int:
        if args.resume:
            if models:
                raise InvalidInput("A resumed run keeps its models; drop --model (or start a new run).")
            if args.judge:
                raise InvalidInput("A resumed run keeps its judge; drop --judge (or start a new run).")
            runner = EvaluationRunner.resume(ctx, args.resume, concurrency=args.concurrency)
            if suite is not None and suite.content_hash() != runner.results.suite_hash:
                raise InvalidInput(
                    f"{args.suite} has changed since run {runner.results.run_id} started; "
                    "start a new run with it, or resume without giving the suite."
                )
        else:
            assert suite is not None
            runner = EvaluationRunner(
                ctx,
                suite,
                models or None,
                concurrency=args.concurrency,
                judge=args.judge,
                allow_tools=args.allow_tools,
            )
        run = runner.results
        if run.case_count == 0:
            warn("the suite has no testData, so there is nothing to run (gh counts this as all passed).")
        display = ProgressDisplay(run.model_ids, run.case_count)
        runner.on_progress = display
        already = {m: len(run.results_for(m)) for m in run.model_ids}
        display.start(already)
        stopped = False
        try:
            run = await runner.run()
        except asyncio.CancelledError:  # Ctrl-C: the runner kept every finished case
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            run, stopped = runner.results, True
        display.finish()
        if run.status is RunStatus.CANCELLED:
            stopped = True
        _report(args, run)
        where = runner.run_path
        if stopped:
            print(
                f"Stopped: {run.done} of {run.planned} cases are kept in {where}.\n"
                f"Finish the run with: modeldesk eval --resume {run.run_id}",
                file=sys.stderr,
            )
            _to_mlflow(args, ctx, run.run_id, send=False)
            return EXIT_STOPPED
        print(f"Run {run.run_id} saved to {where}", file=sys.stderr)
        _to_mlflow(args, ctx, run.run_id, send=True)
        return EXIT_FAIL if run.any_failed else EXIT_OK

    return run_async(go)


def _to_mlflow(args: argparse.Namespace, ctx: AppContext, run_id: str, *, send: bool) -> None:
    """Queue the run for MLflow and (unless stopped) send the outbox now; a tracking server that is
    down only leaves the run waiting (the evaluation itself is saved already)."""
    from desktop_app.services import tracking

    if args.no_mlflow or tracking.disabled():
        return
    tracking.queue_run(ctx, run_id)
    if not send:
        return  # sent with the next eval/sync/flush; once resumed, the same MLflow runs are completed
    from desktop_app.cli.mlflow_cmd import print_flush

    print_flush(ctx, tracking.flush(ctx))


def _report(args: argparse.Namespace, run: EvaluationRun) -> None:
    if args.csv:
        _write(args.csv, render_csv(run), "CSV")
    if args.html:
        from desktop_app.services.report import render_html

        _write(args.html, render_html(run), "HTML report")
    if args.json:
        print_json(render_json(run))
    else:
        print_table(run)
        if getattr(args, "per_host", False):
            _print_per_host(run)


def _print_per_host(run: EvaluationRun) -> None:
    from desktop_app.cli._format import table
    from desktop_app.core.pools import per_host

    rows = [
        [
            r.model_id,
            r.host,
            str(r.cases),
            f"{r.pass_rate:.1f}%",
            str(r.errors),
            f"{r.latency_s / r.cases:.2f} s" if r.cases else "-",
        ]
        for r in per_host(run.cases)
    ]
    if rows:
        print()
        print(table(["POOL", "HOST", "CASES", "PASSED", "ERRORS", "MEAN LATENCY"], rows))
    else:
        print("\n(no pooled model in this run: --per-host shows the hosts of pool/<model> runs)")
