"""MLflow: the only module that imports ``mlflow`` (lazily, inside functions: it costs ~1.6 s).

What it does, all through MLflow 3's own client APIs:

- :func:`log_evaluation` logs one finished (or stopped) evaluation to an experiment named after its
  suite: a parent run for the evaluation, a child run per model/variant with its params, metrics and
  tags in one ``log_batch`` each, the per-case table (``log_table``), the suite file and the HTML
  report as artifacts, and each case as a trace (one ``log_spans`` call per few hundred traces, linked
  to its child run 100 at a time) with each evaluator's verdict as feedback. It is idempotent by the
  ModelDesk run id (tagged on every run; trace ids are derived from it): logging a resumed run again
  updates the same MLflow runs and adds only the cases not traced yet.
- :func:`register_variant` / :func:`list_variant_prompts` / :func:`delete_variant_prompt` keep
  variants in MLflow's Prompt Registry (system prompt as template, base model and parameters as the
  model config, tag ``modeldesk.variant``).

Errors become core errors: an unreachable server is :class:`SourceUnavailable` (the caller keeps the run
in its outbox), a refused token :class:`AuthError` naming the server. Secrets are never in messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from desktop_app.core.errors import AuthError, ModelDeskError, SourceUnavailable
from desktop_app.core.evaluation import CaseResult, EvaluationRun, ModelStats

__all__ = [
    "MLFLOW_SOURCE",
    "ModelFacts",
    "TrackingTarget",
    "VariantPrompt",
    "check_reachable",
    "delete_variant_prompt",
    "find_evaluation",
    "list_variant_prompts",
    "log_evaluation",
    "register_variant",
    "run_server",
    "trace_id_for",
]

MLFLOW_SOURCE = "mlflow"
TAG_RUN_ID = "modeldesk.run_id"
TAG_MODEL_ID = "modeldesk.model_id"
TAG_VARIANT = "modeldesk.variant"
TAG_CASE_VERSION = "modeldesk.case_version"
TABLE_FILE = "eval_results_table.json"
SPANS_PER_CALL = 500  # traces per log_spans call: one SQL transaction / one OTLP request each
LINKS_PER_CALL = 100  # MLflow's MAX_TRACE_LINKS_PER_REQUEST
T = TypeVar("T")


@dataclass(frozen=True)
class TrackingTarget:
    """Where to log: ``uri`` (``sqlite:///…`` or ``http(s)://…``); for the embedded store, where
    artifacts go; the bearer token of a remote server (from the keyring, never from settings)."""

    uri: str
    artifact_root: Path | None = None
    token: str | None = None

    @property
    def is_remote(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    @property
    def display(self) -> str:
        """The URI without any password, for messages."""
        if not self.is_remote:
            return self.uri
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.uri)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass(frozen=True)
class ModelFacts:
    """What MLflow is told about one evaluated model (filled in from the registry by the service)."""

    model_id: str
    source: str = ""
    serving_type: str = ""
    model_type: str = ""
    categories: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None
    base_model_id: str | None = None


@dataclass(frozen=True)
class LoggedEvaluation:
    experiment_id: str
    parent_run_id: str
    child_run_ids: dict[str, str]
    traces_logged: int
    url: str | None  # the run's page on a tracking server; None for the embedded store


@dataclass(frozen=True)
class VariantPrompt:
    """A variant as the Prompt Registry holds it (latest version unless asked otherwise)."""

    name: str
    version: int
    system_prompt: str
    base_model_id: str
    parameters: dict[str, Any]
    description: str = ""
    versions: tuple[int, ...] = ()


# --------------------------------------------------------------------------------------------- setup
@contextlib.contextmanager
def _client(target: TrackingTarget) -> Iterator[Any]:
    """An ``MlflowClient`` for ``target``, with quiet, quick-failing HTTP and the token in place."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow retries a refused connection 7 times with backoff (minutes); ModelDesk has an outbox.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    old_token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if target.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = target.token
    try:
        import logging

        try:
            import mlflow
            from mlflow import MlflowClient
        except ImportError:
            raise SourceUnavailable(
                "MLflow is not installed with this ModelDesk.",
                source=MLFLOW_SOURCE,
                hint="Install ModelDesk with its dependencies (`pip install modeldesk`) or use the "
                "bundle, which includes MLflow; runs wait in the outbox until then.",
            ) from None

        for name in ("mlflow", "alembic"):  # "Creating initial MLflow database tables..." is noise here
            logging.getLogger(name).setLevel(logging.WARNING)
        if target.uri.startswith("sqlite:"):
            _tune_sqlite()

        mlflow.set_tracking_uri(target.uri)
        mlflow.set_registry_uri(target.uri)
        yield MlflowClient(tracking_uri=target.uri, registry_uri=target.uri)
    finally:
        if target.token:
            if old_token is None:
                os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
            else:
                os.environ["MLFLOW_TRACKING_TOKEN"] = old_token


_TUNED = False


def _tune_sqlite() -> None:
    """The embedded store in WAL mode with ``synchronous=NORMAL``: MLflow commits once per run, batch
    and feedback record, and an fsync for each (20 ms on a busy disk) made logging one evaluation take
    minutes. The store stays consistent after a crash; :func:`_checkpoint` makes a logged evaluation
    durable before the outbox lets go of it."""
    global _TUNED
    if _TUNED:
        return
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    event.listen(Engine, "connect", on_connect)
    _TUNED = True


def _checkpoint(target: TrackingTarget) -> None:
    """Write the embedded store's WAL into the database file and sync it."""
    if not target.uri.startswith("sqlite:///"):
        return
    import sqlite3

    conn = sqlite3.connect(target.uri.removeprefix("sqlite:///"))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _translate(target: TrackingTarget, exc: BaseException) -> ModelDeskError:
    """An MLflow/HTTP failure as a core error that names the server (and never the token)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if target.token:
        text = text.replace(target.token, "***")
    status = getattr(exc, "get_http_status_code", lambda: None)()
    code = getattr(exc, "error_code", "")
    if status in (401, 403) or code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or " 401" in text:
        return AuthError(
            f"The MLflow server {target.display} refused ModelDesk's token ({text[:200]}).",
            source=MLFLOW_SOURCE,
            hint="Store the right token with `modeldesk key set mlflow`.",
        )
    lowered = text.lower()
    if any(
        word in lowered
        for word in ("connection", "max retries", "timed out", "timeout", "refused", "unreachable")
    ):
        return SourceUnavailable(
            f"The MLflow tracking server {target.display} cannot be reached.",
            source=MLFLOW_SOURCE,
            hint="Start it (or check the URI with `modeldesk mlflow status`); "
            "waiting runs are sent by `modeldesk mlflow flush`.",
        )
    if "database" in lowered or "sqlite" in lowered or "malformed" in lowered:
        return SourceUnavailable(
            f"The MLflow store {target.display} cannot be used ({text[:200]}).", source=MLFLOW_SOURCE
        )
    return SourceUnavailable(f"MLflow ({target.display}) failed: {text[:300]}", source=MLFLOW_SOURCE)


def _guard(target: TrackingTarget, fn: Callable[[Any], T]) -> T:
    with _client(target) as client:
        try:
            return fn(client)
        except ModelDeskError:
            raise
        except Exception as exc:  # MLflow raises MlflowException, requests errors, SQLAlchemy errors…
            raise _translate(target, exc) from None


def check_reachable(target: TrackingTarget, timeout: float = 3.0) -> None:
    """Raise :class:`SourceUnavailable`/:class:`AuthError` unless a remote server answers with our
    token. Cheap (plain HTTP, no mlflow import); the embedded store is always reachable."""
    if not target.is_remote:
        return
    import httpx

    headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
    base = target.uri.rstrip("/")
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as http:
            health = http.get(f"{base}/health", headers=headers)
            if health.status_code in (401, 403):
                raise AuthError(
                    f"The MLflow server {target.display} refused ModelDesk's token "
                    f"(HTTP {health.status_code}).",
                    source=MLFLOW_SOURCE,
                    status_code=health.status_code,
                    hint="Store the right token with `modeldesk key set mlflow`.",
                )
            probe = http.get(
                f"{base}/api/2.0/mlflow/experiments/search", params={"max_results": 1}, headers=headers
            )
    except httpx.HTTPError:
        raise SourceUnavailable(
            f"The MLflow tracking server {target.display} cannot be reached.",
            source=MLFLOW_SOURCE,
            hint="Start it (or check the URI with `modeldesk mlflow status`); "
            "waiting runs are sent by `modeldesk mlflow flush`.",
        ) from None
    if probe.status_code in (401, 403):
        raise AuthError(
            f"The MLflow server {target.display} refused ModelDesk's token (HTTP {probe.status_code}).",
            source=MLFLOW_SOURCE,
            status_code=probe.status_code,
            hint="Store the right token with `modeldesk key set mlflow`.",
        )
    if probe.status_code >= 500 or health.status_code >= 500:
        raise SourceUnavailable(
            f"The MLflow tracking server {target.display} answers with errors "
            f"(HTTP {max(probe.status_code, health.status_code)}).",
            source=MLFLOW_SOURCE,
        )


# --------------------------------------------------------------------------------------------- runs
def trace_id_for(run_id: str, model_id: str, case_index: int) -> str:
    """A stable MLflow trace id for one case of one run, so logging twice never doubles a trace."""
    digest = hashlib.sha256(f"{run_id}\x00{model_id}\x00{case_index}".encode()).hexdigest()
    return f"tr-{digest[:32]}"


def _hash(text: str | None) -> str:
    return hashlib.sha256((text or "").encode()).hexdigest()[:16] if text else ""


def _params(run: EvaluationRun, facts: ModelFacts) -> dict[str, str]:
    params = {
        "model_id": facts.model_id,
        "source": facts.source,
        "serving_type": facts.serving_type,
        "suite_name": run.suite_name,
        "judge": run.judge or "",
        "system_prompt_hash": _hash(facts.system_prompt),
    }
    if facts.base_model_id:
        params["base_model_id"] = facts.base_model_id
    for key, value in sorted(facts.parameters.items()):
        params[f"variant.{key}"] = json.dumps(value) if not isinstance(value, str) else value
    return {k: str(v)[:6000] for k, v in params.items()}


def _metric_name(text: str) -> str:
    """MLflow metric names allow letters, digits, ``_-./`` and spaces; others become ``_``."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in text)


def _metrics(stats: ModelStats) -> dict[str, float]:
    out: dict[str, float] = {
        "pass_rate": stats.pass_rate,
        "cases": float(stats.total),
        "passed": float(stats.passed),
        "error_count": float(stats.errors),
        "prompt_tokens": float(stats.prompt_tokens),
        "completion_tokens": float(stats.completion_tokens),
    }
    optional = {
        "latency_p50_s": stats.latency_p50_s,
        "latency_p95_s": stats.latency_p95_s,
        "latency_mean_s": stats.mean_latency_s,
        "ttft_mean_s": stats.mean_ttft_s,
        "tokens_per_s": stats.mean_tokens_per_s,
        "score_mean": stats.overall_score,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    for name, mean in stats.mean_scores.items():
        out[_metric_name(f"score.{name}")] = mean
    return out


def _table(run: EvaluationRun, cases: Sequence[CaseResult]) -> dict[str, list[Any]]:
    """The per-case results as columns (what ``log_table`` takes and MLflow's table view shows)."""
    names = run.evaluator_names
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "case",
            "inputs",
            "output",
            "passed",
            "error",
            "latency_s",
            "ttft_s",
            "prompt_tokens",
            "completion_tokens",
            "tokens_per_s",
            "trace_id",
        )
    }
    for n in names:
        cols[f"{n}.score"] = []
        cols[f"{n}.passed"] = []
    for c in cases:
        cols["case"].append(c.case_index)
        cols["inputs"].append(json.dumps(c.test_case, ensure_ascii=False, default=str))
        cols["output"].append(c.output)
        cols["passed"].append(c.passed)
        cols["error"].append(c.error or "")
        cols["latency_s"].append(c.latency_s)
        cols["ttft_s"].append(c.ttft_s)
        cols["prompt_tokens"].append(c.prompt_tokens)
        cols["completion_tokens"].append(c.completion_tokens)
        cols["tokens_per_s"].append(c.tokens_per_s)
        cols["trace_id"].append(trace_id_for(run.run_id, c.model_id, c.case_index))
        by_name = {e.evaluator_name: e for e in c.evaluations}
        for n in names:
            e = by_name.get(n)
            cols[f"{n}.score"].append(None if e is None else e.score)
            cols[f"{n}.passed"].append(None if e is None else e.passed)
    return cols


def _experiment(client: Any, run: EvaluationRun, target: TrackingTarget) -> str:
    name = run.suite_name or (Path(run.suite_path).name if run.suite_path else "ModelDesk suite")
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        exp_id = str(found.experiment_id)
    else:
        location = None
        if target.artifact_root is not None:
            digest = hashlib.sha256(name.encode()).hexdigest()[:12]
            location = (target.artifact_root / digest).as_uri()
        try:
            exp_id = str(client.create_experiment(name, artifact_location=location))
        except Exception:
            again = client.get_experiment_by_name(name)  # another process made it meanwhile
            if again is None:
                raise
            exp_id = str(again.experiment_id)
    client.set_experiment_tag(exp_id, "modeldesk.suite_hash", run.suite_hash)
    client.set_experiment_tag(exp_id, "modeldesk.suite", "true")
    return exp_id


def find_evaluation(target: TrackingTarget, run_id: str) -> dict[str, str]:
    """The MLflow run ids already logged for a ModelDesk run: ``{"": parent, model_id: child}``."""

    def go(client: Any) -> dict[str, str]:
        return _existing_runs(client, None, run_id)

    return _guard(target, go)


def _existing_runs(client: Any, exp_id: str | None, run_id: str) -> dict[str, str]:
    if exp_id is None:
        exps = [
            e.experiment_id
            for e in client.search_experiments(filter_string="tags.`modeldesk.suite` = 'true'")
        ]
    else:
        exps = [exp_id]
    if not exps:
        return {}
    found: dict[str, str] = {}
    escaped = run_id.replace("'", "")
    for r in client.search_runs(exps, filter_string=f"tags.`{TAG_RUN_ID}` = '{escaped}'", max_results=1000):
        found[r.data.tags.get(TAG_MODEL_ID, "")] = r.info.run_id
    return found


def log_evaluation(
    target: TrackingTarget,
    run: EvaluationRun,
    facts: Mapping[str, ModelFacts],
    *,
    suite_yaml: str,
    report_html: str | None,
    version: str,
    traces: bool = True,
    judges: Mapping[str, str] | None = None,
) -> LoggedEvaluation:
    """Log (or update) one ModelDesk evaluation; see the module docstring. ``judges`` maps each
    LLM-judged evaluator to its judge model (the others are code checks)."""
    logged = _guard(
        target,
        lambda client: _log(
            client, target, run, facts, suite_yaml, report_html, version, traces, judges or {}
        ),
    )
    _checkpoint(target)
    return logged


def _log(
    client: Any,
    target: TrackingTarget,
    run: EvaluationRun,
    facts: Mapping[str, ModelFacts],
    suite_yaml: str,
    report_html: str | None,
    version: str,
    traces: bool,
    judges: Mapping[str, str],
) -> LoggedEvaluation:
    from mlflow.utils.mlflow_tags import (
        MLFLOW_PARENT_RUN_ID,
        MLFLOW_RUN_NAME,
        MLFLOW_RUN_TYPE,
        MLFLOW_RUN_TYPE_GENAI_EVALUATE,
    )

    exp_id = _experiment(client, run, target)
    existing = _existing_runs(client, exp_id, run.run_id)
    start_ms = int(run.started_at.timestamp() * 1000)
    end_ms = int(run.finished_at.timestamp() * 1000) if run.finished_at else None
    status = "FINISHED" if run.status.value == "complete" else "KILLED"
    winner = run.winner() if len(run.model_ids) > 1 else None

    parent_id = existing.get("")
    if parent_id is None:
        parent = client.create_run(
            exp_id,
            start_time=start_ms,
            tags={
                TAG_RUN_ID: run.run_id,
                TAG_MODEL_ID: "",
                "modeldesk.version": version,
                MLFLOW_RUN_TYPE: MLFLOW_RUN_TYPE_GENAI_EVALUATE,
            },
            run_name=run.run_id,
        )
        parent_id = parent.info.run_id
    all_stats = run.all_stats()
    parent_params = {
        "suite_name": run.suite_name,
        "suite_hash": run.suite_hash,
        "judge": run.judge or "",
        "models": ", ".join(run.model_ids)[:6000],
        "cases_per_model": str(run.case_count),
    }
    parent_tags = {
        "modeldesk.status": run.status.value,
        "modeldesk.winner": winner or "",
        "modeldesk.suite_hash": run.suite_hash,
        "mlflow.note.content": run.suite_description or f"ModelDesk evaluation of {run.suite_name}",
    }
    done = [s for s in all_stats if s.total]
    parent_metrics = {
        "pass_rate": (sum(s.passed for s in done) / sum(s.total for s in done) * 100) if done else 100.0,
        "cases": float(run.done),
        "error_count": float(sum(s.errors for s in done)),
    }
    _batch(
        client,
        parent_id,
        parent_params,
        parent_metrics,
        parent_tags,
        existing_params=parent_id in existing.values(),
    )

    children: dict[str, str] = {}
    for stats in all_stats:
        mid = stats.model_id
        f = facts.get(mid) or ModelFacts(model_id=mid)
        child_id = existing.get(mid)
        if child_id is None:
            child = client.create_run(
                exp_id,
                start_time=start_ms,
                tags={
                    TAG_RUN_ID: run.run_id,
                    TAG_MODEL_ID: mid,
                    MLFLOW_PARENT_RUN_ID: parent_id,
                    "modeldesk.version": version,
                    MLFLOW_RUN_TYPE: MLFLOW_RUN_TYPE_GENAI_EVALUATE,
                },
                run_name=mid,
            )
            child_id = child.info.run_id
        children[mid] = child_id
        tags = {
            MLFLOW_RUN_NAME: mid,
            "categories": ",".join(f.categories),
            "model_type": f.model_type,
            "source": f.source,
            "serving_type": f.serving_type,
            "modeldesk.version": version,
            "modeldesk.winner": "true" if winner == mid else "false",
        }
        _batch(client, child_id, _params(run, f), _metrics(stats), tags, existing_params=mid in existing)
        cases = run.results_for(mid)
        _log_table(client, child_id, _table(run, cases), replace=mid in existing)

    # Artifacts on the parent: the suite as it was run, and the report.
    with tempfile.TemporaryDirectory(prefix="modeldesk-mlflow-") as tmp:
        suite_name = Path(run.suite_path).name if run.suite_path else "suite.prompt.yml"
        suite_file = Path(tmp) / suite_name
        suite_file.write_text(suite_yaml, encoding="utf-8")
        client.log_artifact(parent_id, str(suite_file))
        if report_html is not None:
            report_file = Path(tmp) / "report.html"
            report_file.write_text(report_html, encoding="utf-8")
            client.log_artifact(parent_id, str(report_file))

    traced = _log_traces(client, exp_id, run, children, judges) if traces else 0

    # (an evaluation run, as mlflow.genai.evaluate tags it: MLflow prints no "View run" links to stdout)
    with contextlib.redirect_stdout(sys.stderr):
        for rid in (*children.values(), parent_id):
            client.set_terminated(rid, status=status, end_time=end_ms)
    url = _run_url(target, exp_id, parent_id)
    return LoggedEvaluation(exp_id, parent_id, children, traced, url)


def _batch(
    client: Any,
    run_id: str,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    *,
    existing_params: bool,
) -> None:
    """Params, metrics and tags in one request (MLflow allows 100 params / 1000 items per batch)."""
    import time

    from mlflow.entities import Metric, Param, RunTag

    if existing_params:
        # A param cannot change value; one logged before (same run, same model) keeps its value.
        logged = client.get_run(run_id).data.params
        params = {k: v for k, v in params.items() if k not in logged}
    now = int(time.time() * 1000)
    p = [Param(k, v) for k, v in params.items()]
    m = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
    t = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
    while p or m or t:
        client.log_batch(run_id, metrics=m[:1000], params=p[:100], tags=t[:1000])
        p, m, t = p[100:], m[1000:], t[1000:]


def _log_table(client: Any, run_id: str, columns: dict[str, list[Any]], *, replace: bool) -> None:
    """``log_table`` appends to a table already logged; a run logged again (resumed) replaces it,
    written in the same ``orient="split"`` form ``log_table`` writes."""
    if not replace:
        client.log_table(run_id, data=columns, artifact_file=TABLE_FILE)
        return
    names = list(columns)
    rows = [list(r) for r in zip(*(columns[n] for n in names), strict=True)] if names else []
    with tempfile.TemporaryDirectory(prefix="modeldesk-mlflow-") as tmp:
        path = Path(tmp) / TABLE_FILE
        path.write_text(json.dumps({"columns": names, "data": rows}, default=str), encoding="utf-8")
        client.log_artifact(run_id, str(path))
    logged = json.loads(client.get_run(run_id).data.tags.get("mlflow.loggedArtifacts", "[]"))
    entry = {"path": TABLE_FILE, "type": "table"}
    if entry not in logged:
        client.set_tag(run_id, "mlflow.loggedArtifacts", json.dumps([*logged, entry]))


def _run_url(target: TrackingTarget, exp_id: str, run_id: str) -> str | None:
    if not target.is_remote:
        return None
    return f"{target.display.rstrip('/')}/#/experiments/{exp_id}/runs/{run_id}"


# --------------------------------------------------------------------------------------------- traces
def _log_traces(
    client: Any, exp_id: str, run: EvaluationRun, children: Mapping[str, str], judges: Mapping[str, str]
) -> int:
    """Each case as a one-span trace (inputs, output, latency, token usage), logged in batches with
    ``log_spans``, linked to its model's run, with each evaluator's result as feedback.

    Logging again (a resumed run, or a retry after a failure part-way) skips what the store has, and
    adds only feedback a trace lacks. A case run again on resume (its host was down) replaces its
    trace: the trace's ``modeldesk.case_version`` tag tells which result a trace holds."""
    from mlflow.tracing.client import TracingClient

    tracing = TracingClient(client.tracking_uri if hasattr(client, "tracking_uri") else None)
    wanted = {trace_id_for(run.run_id, c.model_id, c.case_index): c for c in run.cases}
    present = _present_traces(tracing, list(wanted))
    stale = [tid for tid, (v, _) in present.items() if v != _case_version(wanted[tid])]
    for i in range(0, len(stale), LINKS_PER_CALL):
        client.delete_traces(exp_id, trace_ids=stale[i : i + LINKS_PER_CALL])
    for tid in stale:
        del present[tid]
    todo = [(tid, c) for tid, c in wanted.items() if tid not in present]
    for i in range(0, len(todo), SPANS_PER_CALL):
        chunk = todo[i : i + SPANS_PER_CALL]
        tracing.log_spans(exp_id, [_span(run, tid, c) for tid, c in chunk])
        by_run: dict[str, list[str]] = {}
        for tid, c in chunk:
            by_run.setdefault(children[c.model_id], []).append(tid)
        for rid, ids in by_run.items():
            for j in range(0, len(ids), LINKS_PER_CALL):
                client.link_traces_to_run(ids[j : j + LINKS_PER_CALL], rid)
        _log_feedback(tracing, run, chunk, present, children, judges)
    _log_feedback(
        tracing, run, [(t, c) for t, c in wanted.items() if t in present], present, children, judges
    )
    return len(todo)


def _log_feedback(
    tracing: Any,
    run: EvaluationRun,
    items: Sequence[tuple[str, CaseResult]],
    present: Mapping[str, tuple[str | None, set[str]]],
    children: Mapping[str, str],
    judges: Mapping[str, str],
) -> None:
    """One call per verdict: MLflow 3.17 has no batch call for assessments."""
    for tid, c in items:
        have = present.get(tid, (None, set()))[1]
        for feedback in _feedback(run, tid, c, children[c.model_id], judges):
            if feedback.name not in have:
                tracing.log_assessment(tid, feedback)


def _case_version(case: CaseResult) -> str:
    return case.finished_at.isoformat()


def _present_traces(tracing: Any, trace_ids: list[str]) -> dict[str, tuple[str | None, set[str]]]:
    """The traces the store has already: which result each holds, and the names of its feedback."""
    present: dict[str, tuple[str | None, set[str]]] = {}
    for i in range(0, len(trace_ids), 100):
        chunk = trace_ids[i : i + 100]
        try:
            infos = tracing.store.batch_get_trace_infos(chunk)
        except NotImplementedError:
            return present
        for info in infos:
            names = {a.name for a in (getattr(info, "assessments", None) or [])}
            present[info.trace_id] = ((info.tags or {}).get(TAG_CASE_VERSION), names)
    return present


def _span(run: EvaluationRun, trace_id: str, case: CaseResult) -> Any:
    import base64

    from mlflow.entities import Span

    otel_trace = bytes.fromhex(trace_id[3:])
    span_id = otel_trace[:8]
    end_ns = int(case.finished_at.timestamp() * 1e9)
    start_ns = end_ns - int((case.latency_s or 0.0) * 1e9)
    usage = None
    if case.prompt_tokens is not None or case.completion_tokens is not None:
        usage = {
            "input_tokens": case.prompt_tokens or 0,
            "output_tokens": case.completion_tokens or 0,
            "total_tokens": (case.prompt_tokens or 0) + (case.completion_tokens or 0),
        }
    attrs: dict[str, Any] = {
        "mlflow.traceRequestId": json.dumps(trace_id),
        "mlflow.spanType": json.dumps("CHAT_MODEL"),
        "mlflow.spanInputs": json.dumps(
            {
                "messages": [{"role": m.role, "content": m.content} for m in case.messages],
                "test_case": case.test_case,
            },
            ensure_ascii=False,
            default=str,
        ),
        "mlflow.spanOutputs": json.dumps(case.output, ensure_ascii=False),
        "mlflow.llm.model": json.dumps(case.model_id),
        # Plain span attributes, not trace tags: each trace tag is a row merged on its own, and four
        # of them doubled the cost of logging a trace. The trace is linked to its model's run.
        TAG_RUN_ID: json.dumps(run.run_id),
        TAG_MODEL_ID: json.dumps(case.model_id),
        "modeldesk.case_index": json.dumps(case.case_index),
        # The one trace tag (each costs a row of its own): which result of the case this trace holds.
        f"mlflow.traceTag.{TAG_CASE_VERSION}": json.dumps(_case_version(case)),
        "modeldesk.latency_s": json.dumps(case.latency_s),
        "modeldesk.ttft_s": json.dumps(case.ttft_s),
        "modeldesk.tokens_per_s": json.dumps(case.tokens_per_s),
    }
    if usage is not None:
        attrs["mlflow.chat.tokenUsage"] = json.dumps(usage)
    b64 = base64.b64encode
    return Span.from_dict(
        {
            "trace_id": b64(otel_trace).decode(),
            "span_id": b64(span_id).decode(),
            "parent_span_id": None,
            "name": f"{case.model_id} · case {case.case_index}",
            "start_time_unix_nano": start_ns,
            "end_time_unix_nano": end_ns,
            "events": [],
            "status": {
                "code": "STATUS_CODE_ERROR" if case.error else "STATUS_CODE_OK",
                "message": case.error or "",
            },
            "attributes": attrs,
        }
    )


def _feedback(
    run: EvaluationRun, trace_id: str, case: CaseResult, run_id: str, judges: Mapping[str, str]
) -> list[Any]:
    """Each evaluator's verdict as MLflow feedback on the case's trace and root span, marked with the
    run it belongs to (as ``mlflow.genai.evaluate`` does), so MLflow's evaluation views show it."""
    from mlflow.entities import AssessmentSource, Feedback

    span_id = trace_id[3:19]  # the root span's id (the first 8 bytes of the trace id, in hex)
    out = []
    for e in case.evaluations:
        judge = judges.get(e.evaluator_name)
        source = AssessmentSource(
            source_type="LLM_JUDGE" if judge else "CODE", source_id=judge or f"modeldesk:{e.evaluator_name}"
        )
        out.append(
            Feedback(
                name=e.evaluator_name,
                value=e.passed if e.error is None else None,
                error=e.error if e.error else None,
                rationale=e.details or None,
                source=source,
                trace_id=trace_id,
                span_id=span_id,
                metadata={"score": str(e.score), "mlflow.assessment.sourceRunId": run_id},
            )
        )
    return out


# --------------------------------------------------------------------------------------------- variants
def register_variant(
    target: TrackingTarget,
    name: str,
    *,
    system_prompt: str,
    base_model_id: str,
    parameters: Mapping[str, Any],
    description: str = "",
) -> int:
    """Register (or add a version of) a variant in the Prompt Registry; returns the version number.
    A version identical to the latest one is not made again."""

    def go(client: Any) -> int:
        import mlflow

        config = {"base_model_id": base_model_id, "parameters": dict(parameters)}
        current = _latest(client, name)
        if current is not None and (
            current.template == system_prompt
            and (current.model_config or {}) == json.loads(json.dumps(config))
        ):
            return int(current.version)
        prompt = mlflow.genai.register_prompt(
            name=name,
            template=system_prompt,
            commit_message=description or None,
            tags={TAG_VARIANT: "true", "modeldesk.base_model_id": base_model_id},
            model_config=config,
        )
        return int(prompt.version)

    return _guard(target, go)


def _versions(client: Any, name: str) -> list[Any]:
    """Every version of a prompt (empty when there is no such prompt)."""
    from mlflow.exceptions import MlflowException

    out: list[Any] = []
    token = None
    try:
        while True:
            page = client.search_prompt_versions(name, max_results=100, page_token=token)
            out.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return out
    except MlflowException:
        return out


def _latest(client: Any, name: str) -> Any:
    versions = _versions(client, name)
    return max(versions, key=lambda v: int(v.version)) if versions else None


def list_variant_prompts(target: TrackingTarget) -> list[VariantPrompt]:
    """Every prompt tagged as a ModelDesk variant, at its latest version."""

    def go(client: Any) -> list[VariantPrompt]:
        out: list[VariantPrompt] = []
        token = None
        while True:
            page = client.search_prompts(
                filter_string=f"tags.`{TAG_VARIANT}` = 'true'", max_results=100, page_token=token
            )
            for prompt in page:
                versions = _versions(client, prompt.name)
                if not versions:
                    continue
                latest = max(versions, key=lambda v: int(v.version))
                config = latest.model_config or {}
                base = str(
                    config.get("base_model_id") or (prompt.tags or {}).get("modeldesk.base_model_id", "")
                )
                out.append(
                    VariantPrompt(
                        name=prompt.name,
                        version=int(latest.version),
                        system_prompt=str(latest.template or ""),
                        base_model_id=base,
                        parameters=dict(config.get("parameters") or {}),
                        description=latest.commit_message or prompt.description or "",
                        versions=tuple(sorted(int(v.version) for v in versions)),
                    )
                )
            token = getattr(page, "token", None)
            if not token:
                return out

    return _guard(target, go)


def delete_variant_prompt(target: TrackingTarget, name: str) -> bool:
    """Delete a variant's prompt and all its versions from the registry; False when it was not there."""

    def go(client: Any) -> bool:
        versions = _versions(client, name)
        if not versions:
            return False
        for v in versions:
            client.delete_prompt_version(name, str(v.version))
        client.delete_prompt(name)
        return True

    return _guard(target, go)


def run_server(argv: list[str]) -> int:
    """``mlflow server ARGV`` in this process (how the PyInstaller bundle runs MLflow's UI)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.cli import cli

    try:
        cli.main(args=["server", *argv], prog_name="mlflow", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
