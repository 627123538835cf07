"""Results of evaluating a suite over models: per case, per model, and for the whole run.

:class:`EvaluationRun` is the results object every consumer reads (the CLI table, ``--json``/``--csv``,
the HTML report, and later MLflow and the window): it knows the suite, the models, every finished
case, and computes each model's statistics and the winner. Pure: rendering here returns text; the
callers write files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from desktop_app.core.chat import ChatMessage, ToolCall
from desktop_app.core.evaluators import EvaluatorResult
from desktop_app.core.models import utcnow

__all__ = [
    "CaseResult",
    "EvaluationRun",
    "ModelStats",
    "RunStatus",
    "aggregate",
    "comparison_table",
    "gh_block",
    "percentile",
    "render_csv",
    "render_json",
    "select_winner",
]


class CaseResult(BaseModel):
    """One test case run on one model."""

    model_id: str
    case_index: int
    test_case: dict[str, Any] = Field(default_factory=dict)
    messages: list[ChatMessage] = Field(default_factory=list)
    output: str = ""
    thinking: str = ""
    evaluations: list[EvaluatorResult] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list, description="every tool call the model made")
    latency_s: float | None = None
    ttft_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    error: str | None = None
    error_kind: str | None = None
    retryable: bool = Field(default=False, description="the error may go away (host down, stream cut)")
    rate_limit_wait_s: float = 0.0
    finished_at: datetime = Field(default_factory=utcnow)
    host: str | None = Field(default=None, description="a pool's case: the host entry that answered it")

    @property
    def passed(self) -> bool:
        """gh's rule (every evaluator passed), and no error."""
        return self.error is None and all(e.passed for e in self.evaluations)

    @property
    def key(self) -> tuple[str, int]:
        return self.model_id, self.case_index


class ModelStats(BaseModel):
    model_id: str
    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    pass_rate: float = 100.0  # 0–100, as gh reports it (100 when there are no tests)
    mean_scores: dict[str, float] = Field(default_factory=dict)
    pass_counts: dict[str, int] = Field(default_factory=dict)
    evaluator_errors: dict[str, int] = Field(default_factory=dict)
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    mean_latency_s: float | None = None
    mean_ttft_s: float | None = None
    mean_tokens_per_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def overall_score(self) -> float | None:
        """Mean of the per-evaluator mean scores (None without any)."""
        if not self.mean_scores:
            return None
        return sum(self.mean_scores.values()) / len(self.mean_scores)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process died; resumable


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); ``q`` in [0, 1]."""
    if not values:
        return None
    if not 0 <= q <= 1:
        raise ValueError("q must be between 0 and 1")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    frac = pos - low
    return ordered[low] + (ordered[high] - ordered[low]) * frac


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def aggregate(model_id: str, cases: Iterable[CaseResult], evaluator_names: Sequence[str] = ()) -> ModelStats:
    rows = list(cases)
    stats = ModelStats(model_id=model_id, total=len(rows))
    stats.passed = sum(1 for c in rows if c.passed)
    stats.failed = stats.total - stats.passed
    stats.errors = sum(1 for c in rows if c.error is not None)
    stats.pass_rate = 100.0 if not rows else stats.passed / stats.total * 100
    names = list(dict.fromkeys([*evaluator_names, *(e.evaluator_name for c in rows for e in c.evaluations)]))
    for name in names:
        results = [e for c in rows for e in c.evaluations if e.evaluator_name == name]
        scored = [e.score for e in results if e.error is None]
        mean = _mean(scored)
        if mean is not None:
            stats.mean_scores[name] = mean
        stats.pass_counts[name] = sum(1 for e in results if e.passed)
        errs = sum(1 for e in results if e.error is not None)
        if errs:
            stats.evaluator_errors[name] = errs
    ok = [c for c in rows if c.error is None]
    latencies = [c.latency_s for c in ok if c.latency_s is not None]
    stats.latency_p50_s = percentile(latencies, 0.5)
    stats.latency_p95_s = percentile(latencies, 0.95)
    stats.mean_latency_s = _mean(latencies)
    stats.mean_ttft_s = _mean([c.ttft_s for c in ok if c.ttft_s is not None])
    stats.mean_tokens_per_s = _mean([c.tokens_per_s for c in ok if c.tokens_per_s is not None])
    stats.prompt_tokens = sum(c.prompt_tokens or 0 for c in rows)
    stats.completion_tokens = sum(c.completion_tokens or 0 for c in rows)
    return stats


def select_winner(stats: Sequence[ModelStats]) -> str | None:
    """Best pass rate; ties go to the higher overall score, then the lower median latency, then the
    first listed. None when no model finished a case without an error."""
    candidates = [s for s in stats if s.total > s.errors]
    if not candidates:
        return None

    def key(item: tuple[int, ModelStats]) -> tuple[float, float, float, int]:
        i, s = item
        score = s.overall_score if s.overall_score is not None else -1.0
        latency = s.latency_p50_s if s.latency_p50_s is not None else math.inf
        return (-s.pass_rate, -score, latency, i)

    return min(enumerate(candidates), key=key)[1].model_id


class EvaluationRun(BaseModel):
    """A suite run over models; filled in as cases finish. Consumers: CLI, report, MLflow, window."""

    run_id: str
    suite_name: str = ""
    suite_description: str = ""
    suite_model: str = ""
    suite_path: str | None = None
    suite_hash: str = ""
    model_ids: list[str] = Field(default_factory=list)
    evaluator_names: list[str] = Field(default_factory=list)
    case_count: int = 0
    judge: str | None = None
    status: RunStatus = RunStatus.RUNNING
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    cases: list[CaseResult] = Field(default_factory=list)

    _index: dict[tuple[str, int], int] = PrivateAttr(default_factory=dict)

    def _positions(self) -> dict[tuple[str, int], int]:
        if len(self._index) != len(self.cases):
            self._index = {c.key: i for i, c in enumerate(self.cases)}
        return self._index

    def add(self, case: CaseResult) -> None:
        """Record a finished case (replacing an earlier result for the same model and case)."""
        positions = self._positions()
        at = positions.get(case.key)
        if at is None:
            positions[case.key] = len(self.cases)
            self.cases.append(case)
        else:
            self.cases[at] = case

    def discard(self, keys: Iterable[tuple[str, int]]) -> None:
        """Forget results (e.g. errors that a resume runs again)."""
        drop = set(keys)
        self.cases = [c for c in self.cases if c.key not in drop]
        self._index = {}

    def done_keys(self) -> set[tuple[str, int]]:
        return set(self._positions())

    @property
    def planned(self) -> int:
        return len(self.model_ids) * self.case_count

    @property
    def done(self) -> int:
        return len(self.cases)

    def results_for(self, model_id: str) -> list[CaseResult]:
        return sorted((c for c in self.cases if c.model_id == model_id), key=lambda c: c.case_index)

    def result(self, model_id: str, case_index: int) -> CaseResult | None:
        at = self._positions().get((model_id, case_index))
        return None if at is None else self.cases[at]

    def stats(self, model_id: str) -> ModelStats:
        return aggregate(model_id, self.results_for(model_id), self.evaluator_names)

    def all_stats(self) -> list[ModelStats]:
        return [self.stats(m) for m in self.model_ids]

    def winner(self) -> str | None:
        return select_winner(self.all_stats())

    @property
    def any_failed(self) -> bool:
        return any(not c.passed for c in self.cases)

    @property
    def complete(self) -> bool:
        return self.done >= self.planned


# --------------------------------------------------------------------------------------------- rendering
def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def _test_result(c: CaseResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "testCase": c.test_case,
        "modelResponse": c.output,
        "evaluationResults": [e.to_gh() for e in c.evaluations],
        # ModelDesk additions (gh's readers ignore them)
        "passed": c.passed,
        "caseIndex": c.case_index,
        "messages": [{"role": m.role, "content": m.content} for m in c.messages],
        "latencyMs": _ms(c.latency_s),
        "timeToFirstTokenMs": _ms(c.ttft_s),
        "promptTokens": c.prompt_tokens,
        "completionTokens": c.completion_tokens,
        "tokensPerSecond": c.tokens_per_s,
    }
    if c.thinking:
        out["thinking"] = c.thinking
    if c.error is not None:
        out["error"] = c.error
    return out


def gh_block(run: EvaluationRun, model_id: str, *, winner: str | None = None) -> dict[str, Any]:
    """One model's results in ``gh models eval --json`` form, with ModelDesk's additions."""
    results = run.results_for(model_id)
    s = aggregate(model_id, results, run.evaluator_names)
    return {
        "name": run.suite_name,
        "description": run.suite_description,
        "model": model_id,
        "testResults": [_test_result(c) for c in results],
        "summary": {
            "totalTests": s.total,
            "passedTests": s.passed,
            "failedTests": s.failed,
            "passRate": s.pass_rate,
            # ModelDesk additions
            "plannedTests": run.case_count,
            "errors": s.errors,
            "meanScores": s.mean_scores,
            "latencyP50Ms": _ms(s.latency_p50_s),
            "latencyP95Ms": _ms(s.latency_p95_s),
            "meanTimeToFirstTokenMs": _ms(s.mean_ttft_s),
            "meanTokensPerSecond": s.mean_tokens_per_s,
            "promptTokens": s.prompt_tokens,
            "completionTokens": s.completion_tokens,
        },
        "runId": run.run_id,
        "suiteModel": run.suite_model,
        "status": run.status.value,
        "winner": winner is not None and winner == model_id,
    }


def render_json(run: EvaluationRun) -> Any:
    """One gh-shaped block for a single model; a list of blocks (one per model) for several."""
    winner = run.winner() if len(run.model_ids) > 1 else None
    blocks = [gh_block(run, m, winner=winner) for m in run.model_ids]
    return blocks[0] if len(blocks) == 1 else blocks


def render_csv(run: EvaluationRun) -> str:
    """One row per model and case: measurements, each evaluator's score and verdict, the output."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = run.evaluator_names
    header = [
        "model",
        "case",
        "passed",
        "latency_s",
        "ttft_s",
        "prompt_tokens",
        "completion_tokens",
        "tokens_per_s",
        "error",
    ]
    for n in names:
        header += [f"{n}.score", f"{n}.passed"]
    header += ["test_case", "output"]
    writer.writerow(header)
    for model in run.model_ids:
        for c in run.results_for(model):
            by_name = {e.evaluator_name: e for e in c.evaluations}
            row: list[Any] = [
                model,
                c.case_index,
                c.passed,
                _round(c.latency_s),
                _round(c.ttft_s),
                c.prompt_tokens if c.prompt_tokens is not None else "",
                c.completion_tokens if c.completion_tokens is not None else "",
                _round(c.tokens_per_s),
                c.error or "",
            ]
            for n in names:
                e = by_name.get(n)
                row += ["", ""] if e is None else [e.score, e.passed]
            row += [json.dumps(c.test_case, ensure_ascii=False, default=str), c.output]
            writer.writerow(row)
    return buf.getvalue()


def _round(value: float | None, digits: int = 4) -> Any:
    return "" if value is None else round(value, digits)


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def comparison_table(run: EvaluationRun, *, mark: str = "★") -> tuple[list[str], list[list[str]]]:
    """Models as columns (the winner marked), evaluators and summary measures as rows."""
    stats = run.all_stats()
    winner = select_winner(stats) if len(stats) > 1 else None
    header = [""] + [f"{mark} {s.model_id}" if s.model_id == winner else s.model_id for s in stats]
    rows: list[list[str]] = []
    for name in run.evaluator_names:
        row = [name]
        for s in stats:
            mean = s.mean_scores.get(name)
            cell = "—" if mean is None else f"{mean:.2f}"
            counted = s.total - s.errors
            cell += f" ({s.pass_counts.get(name, 0)}/{counted})"
            if s.evaluator_errors.get(name):
                cell += f" !{s.evaluator_errors[name]}"
            row.append(cell)
        rows.append(row)
    rows.append(
        ["pass rate"]
        + [f"{s.pass_rate:.1f}% ({s.passed}/{s.total})" if s.total else "no case finished" for s in stats]
    )
    rows.append(["errors"] + [str(s.errors) for s in stats])
    rows.append(["latency p50"] + [_fmt_s(s.latency_p50_s) for s in stats])
    rows.append(["latency p95"] + [_fmt_s(s.latency_p95_s) for s in stats])
    rows.append(
        ["tokens/s"] + ["—" if s.mean_tokens_per_s is None else f"{s.mean_tokens_per_s:.1f}" for s in stats]
    )
    return header, rows
