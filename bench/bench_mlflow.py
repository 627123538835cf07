"""Benchmark of logging a finished evaluation to MLflow's embedded SQLite store.

A 20-model × 200-case run (4,000 cases, two evaluators each) is written as a run file, then logged
by ModelDesk (``services.tracking.log_run``: parent run, 20 child runs with params/metrics/tags, the
per-case tables, the suite and HTML report, 4,000 traces and 8,000 feedback records) and, separately,
by a bare script that makes the same MLflow calls in the most direct way (same entities, no
ModelDesk code: the floor). Each measurement runs in a fresh process with mlflow already imported and
the store's tables already made (both cost the same for either: reported apart).

    .venv/bin/python bench/bench_mlflow.py [--models 20] [--cases 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVALUATORS = ("contains-answer", "judge")
SUITE_YAML = "name: Bench\nmessages:\n  - role: user\n    content: '{{q}}'\ntestData:\n  - q: a\n"


def write_run(home: Path, models: int, cases: int) -> str:
    from desktop_app.core.chat import ChatMessage
    from desktop_app.core.evaluation import CaseResult, EvaluationRun
    from desktop_app.core.evaluators import EvaluatorResult
    from desktop_app.core.models import utcnow

    run_id = "bench-run"
    ids = [f"bench/model-{i:02d}" for i in range(models)]
    run = EvaluationRun(
        run_id=run_id,
        suite_name="Bench",
        suite_hash="b" * 16,
        model_ids=ids,
        evaluator_names=list(EVALUATORS),
        case_count=cases,
    )
    header = {
        "type": "header",
        "version": 1,
        "run": run.model_dump(mode="json", exclude={"cases"}),
        "suite_yaml": SUITE_YAML,
        "options": {},
    }
    lines = [json.dumps(header)]
    for i in range(cases):
        for m in ids:
            case = CaseResult(
                model_id=m,
                case_index=i,
                test_case={"q": f"question number {i}", "expected": f"answer {i}"},
                messages=[
                    ChatMessage(role="system", content="Answer briefly."),
                    ChatMessage(role="user", content=f"question number {i}"),
                ],
                output=f"The answer to question {i} is answer {i}. " * 3,
                latency_s=0.3 + (i % 17) / 100,
                ttft_s=0.05,
                prompt_tokens=21,
                completion_tokens=30,
                tokens_per_s=55.0,
                evaluations=[
                    EvaluatorResult(evaluator_name=EVALUATORS[0], score=1.0, passed=True, details="found"),
                    EvaluatorResult(
                        evaluator_name=EVALUATORS[1], score=0.75, passed=i % 4 != 0, details="judge: mostly"
                    ),
                ],
            )
            lines.append('{"type":"case","case":' + case.model_dump_json() + "}")
    lines.append(json.dumps({"type": "end", "status": "complete", "finished_at": utcnow().isoformat()}))
    runs = home / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{run_id}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_id


# --------------------------------------------------------------------------------------------- workers
def make_tables(home: Path) -> float:
    """Make the store's tables (in a process of its own, before the measured one starts)."""
    import mlflow  # noqa: F401
    from mlflow import MlflowClient

    t0 = time.perf_counter()
    MlflowClient(f"sqlite:///{home / 'mlflow.db'}").search_experiments()
    return time.perf_counter() - t0


def _prepare(home: Path) -> float:
    """Import mlflow (the same fixed cost for every way; not counted)."""
    t0 = time.perf_counter()
    import mlflow  # noqa: F401

    return time.perf_counter() - t0


def _wal_normal() -> None:
    """The SQLite settings ModelDesk gives the embedded store (WAL, synchronous=NORMAL), inlined."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(conn: object, _record: object) -> None:
        if isinstance(conn, sqlite3.Connection):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")

    event.listen(Engine, "connect", on_connect)


def worker_modeldesk(home: Path, run_id: str) -> dict[str, float]:
    os.environ["MODELDESK_HOME"] = str(home)
    imp = _prepare(home)
    from desktop_app.services import tracking
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    t0 = time.perf_counter()
    logged = tracking.log_run(ctx, run_id)
    seconds = time.perf_counter() - t0
    assert logged.traces_logged > 0
    return {"seconds": seconds, "import": imp}


def worker_bare(home: Path, run_id: str, *, tuned: bool = False) -> dict[str, float]:
    """The same MLflow calls, made directly: what logging this run cannot go below."""
    imp = _prepare(home)
    if tuned:
        _wal_normal()
    import base64
    import hashlib

    from mlflow import MlflowClient
    from mlflow.entities import AssessmentSource, Feedback, Metric, Param, RunTag, Span
    from mlflow.tracing.client import TracingClient

    from desktop_app.core.evaluation import aggregate
    from desktop_app.services.report import render_html
    from desktop_app.services.run_files import load_run

    uri = f"sqlite:///{home / 'mlflow.db'}"
    t0 = time.perf_counter()
    run = load_run(home / "runs" / f"{run_id}.jsonl")
    client = MlflowClient(uri)
    tracing = TracingClient(uri)
    exp = client.create_experiment("Bench", artifact_location=(home / "mlartifacts" / "bench").as_uri())
    start = int(run.started_at.timestamp() * 1000)
    parent = client.create_run(exp, start_time=start, tags={"modeldesk.run_id": run_id}).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(parent, params=[Param("suite_name", "Bench")], metrics=[Metric("cases", 4000.0, now, 0)])
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench.prompt.yml").write_text(SUITE_YAML)
        (Path(tmp) / "report.html").write_text(render_html(run))
        client.log_artifact(parent, str(Path(tmp) / "bench.prompt.yml"))
        client.log_artifact(parent, str(Path(tmp) / "report.html"))
    children = {}
    for m in run.model_ids:
        rid = client.create_run(
            exp, start_time=start, tags={"mlflow.parentRunId": parent, "modeldesk.model_id": m}
        ).info.run_id
        children[m] = rid
        cases = run.results_for(m)
        s = aggregate(m, cases, run.evaluator_names)
        client.log_batch(
            rid,
            params=[Param("model_id", m), Param("suite_name", "Bench")],
            metrics=[
                Metric("pass_rate", s.pass_rate, now, 0),
                Metric("latency_p50_s", s.latency_p50_s or 0, now, 0),
            ],
            tags=[RunTag("model_type", "base")],
        )
        columns: dict[str, list[object]] = {
            "case": [c.case_index for c in cases],
            "inputs": [json.dumps(c.test_case) for c in cases],
            "output": [c.output for c in cases],
            "passed": [c.passed for c in cases],
            "error": [c.error or "" for c in cases],
            "latency_s": [c.latency_s for c in cases],
            "ttft_s": [c.ttft_s for c in cases],
            "prompt_tokens": [c.prompt_tokens for c in cases],
            "completion_tokens": [c.completion_tokens for c in cases],
            "tokens_per_s": [c.tokens_per_s for c in cases],
        }
        for name in EVALUATORS:
            columns[f"{name}.score"] = [
                next(e.score for e in c.evaluations if e.evaluator_name == name) for c in cases
            ]
            columns[f"{name}.passed"] = [
                next(e.passed for e in c.evaluations if e.evaluator_name == name) for c in cases
            ]
        client.log_table(rid, data=columns, artifact_file="eval_results_table.json")
    spans, links, feedback = [], {}, []
    for c in run.cases:
        digest = hashlib.sha256(f"{run_id}{c.model_id}{c.case_index}".encode()).hexdigest()[:32]
        tid = f"tr-{digest}"
        raw = bytes.fromhex(digest)
        end = int(c.finished_at.timestamp() * 1e9)
        spans.append(
            Span.from_dict(
                {
                    "trace_id": base64.b64encode(raw).decode(),
                    "span_id": base64.b64encode(raw[:8]).decode(),
                    "parent_span_id": None,
                    "name": c.model_id,
                    "start_time_unix_nano": end - int((c.latency_s or 0) * 1e9),
                    "end_time_unix_nano": end,
                    "status": {"code": "STATUS_CODE_OK", "message": ""},
                    "attributes": {
                        "mlflow.traceRequestId": json.dumps(tid),
                        "mlflow.spanType": json.dumps("CHAT_MODEL"),
                        "mlflow.spanInputs": json.dumps(
                            {"messages": [m.model_dump() for m in c.messages], "test_case": c.test_case}
                        ),
                        "mlflow.spanOutputs": json.dumps(c.output),
                        "mlflow.llm.model": json.dumps(c.model_id),
                        "mlflow.chat.tokenUsage": json.dumps(
                            {"input_tokens": 21, "output_tokens": 30, "total_tokens": 51}
                        ),
                    },
                }
            )
        )
        links.setdefault(children[c.model_id], []).append(tid)
        feedback += [
            Feedback(
                name=e.evaluator_name,
                value=e.passed,
                rationale=e.details,
                source=AssessmentSource(source_type="CODE", source_id="bench"),
                trace_id=tid,
                span_id=digest[:16],
                metadata={"score": str(e.score), "mlflow.assessment.sourceRunId": children[c.model_id]},
            )
            for e in c.evaluations
        ]
    for i in range(0, len(spans), 500):
        tracing.log_spans(exp, spans[i : i + 500])
    for rid, ids in links.items():
        for i in range(0, len(ids), 100):
            client.link_traces_to_run(ids[i : i + 100], rid)
    for f in feedback:
        tracing.log_assessment(f.trace_id, f)
    for rid in (*children.values(), parent):
        client.set_terminated(rid)
    return {"seconds": time.perf_counter() - t0, "import": imp}


def _worker(mode: str, home: str, run_id: str) -> None:
    if mode == "tables":
        print(json.dumps({"init": make_tables(Path(home))}))
    elif mode == "modeldesk":
        print(json.dumps(worker_modeldesk(Path(home), run_id)))
    else:
        print(json.dumps(worker_bare(Path(home), run_id, tuned=mode == "bare-wal")))


# --------------------------------------------------------------------------------------------- driver
def measure(mode: str, models: int, cases: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as tmp:
        home = Path(tmp)
        run_id = write_run(home, models, cases)
        env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", MODELDESK_HOME=str(home))
        env.pop("MLFLOW_TRACKING_URI", None)
        result: dict[str, float] = {}
        for step in ("tables", mode):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", step, str(home), run_id],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            result.update(json.loads(out.stdout.strip().splitlines()[-1]))
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--defaults", action="store_true", help="also time the bare script on MLflow's defaults (slow)"
    )
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "HOME", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(*args.worker)
        return 0
    n = args.models * args.cases
    modes = ["bare-wal", "modeldesk"] + (["bare"] if args.defaults else [])
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(args.repeat):
        for mode in modes:  # interleaved, so load on the machine hits every way alike
            results[mode].append(measure(mode, args.models, args.cases))
    every = [r for rs in results.values() for r in rs]
    print(
        f"{args.models} models × {args.cases} cases = {n} cases (a trace and {len(EVALUATORS)} feedbacks each)"
    )
    labels = {
        "modeldesk": "ModelDesk",
        "bare-wal": "bare script (same SQLite settings)",
        "bare": "bare script (MLflow's SQLite defaults)",
    }
    median = {m: statistics.median(r["seconds"] for r in rs) for m, rs in results.items()}
    for mode in modes:
        runs = [round(r["seconds"], 2) for r in results[mode]]
        print(
            f"{labels[mode]:40s} {median[mode]:7.2f} s  ({median[mode] / n * 1000:.2f} ms/case)  runs {runs}"
        )
    print(
        f"ratio ModelDesk / bare (same settings): {median['modeldesk'] / median['bare-wal']:.2f}×  (target ≤ 1.2×, < 10 s)"
    )
    imp = statistics.median(r["import"] for r in every)
    init = statistics.median(r["init"] for r in every)
    print(
        f"not counted (same for every way): import mlflow {imp:.2f} s; making the store's tables {init:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
