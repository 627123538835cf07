"""MLflow tracking through a real `mlflow server --workers 1` (shared by the session) and the embedded
SQLite store: idempotent logging, a resumed run ending as one run, the outbox when the server is down,
a refused token, a damaged store, the window's child-process logger, and variants travelling between
two data dirs through one server. No mocks of mlflow."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from desktop_app.core.chat import ChatMessage, ChatOptions
from desktop_app.core.errors import AuthError, SourceUnavailable
from desktop_app.core.evaluation import CaseResult, EvaluationRun
from desktop_app.core.evaluators import EvaluatorResult
from desktop_app.core.models import Category, ModelStatus, UnifiedModel, utcnow
from desktop_app.core.variants import VariantSpec
from desktop_app.services import tracking
from desktop_app.services import variants as variant_service
from desktop_app.services.context import AppContext
from desktop_app.services.run_files import runs_dir
from tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.slow

BASE = "ollama/llama3.2:latest"
MODELS = [BASE, "ollama/qwen3:8b"]
SUITE_YAML = "name: Capitals\nmessages:\n  - role: user\n    content: '{{q}}'\ntestData:\n  - q: a\n"


@pytest.fixture(autouse=True)
def mlflow_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELDESK_NO_MLFLOW", raising=False)


def open_ctx(uri: str | None = None) -> AppContext:
    ctx = AppContext.open()
    if uri is not None:
        ctx.settings.preferences.mlflow_tracking_uri = uri
        ctx.save_settings()
    return ctx


def _case(model: str, i: int) -> CaseResult:
    return CaseResult(
        model_id=model,
        case_index=i,
        test_case={"q": f"capital {i}"},
        messages=[ChatMessage(role="user", content=f"capital {i}")],
        output=f"answer {i}",
        latency_s=0.2 + i / 100,
        ttft_s=0.05,
        prompt_tokens=7,
        completion_tokens=3,
        tokens_per_s=30.0,
        evaluations=[EvaluatorResult(evaluator_name="exact", score=float(i % 2), passed=bool(i % 2))],
    )


def write_run(ctx: AppContext, run_id: str, cases: int, *, done: int | None = None, end: bool = True) -> Path:
    """A run file as services.evaluate writes it: header, one line per finished case, end line."""
    run = EvaluationRun(
        run_id=run_id,
        suite_name="Capitals",
        suite_hash="h1",
        model_ids=MODELS,
        evaluator_names=["exact"],
        case_count=cases,
    )
    header = {
        "type": "header",
        "version": 1,
        "run": run.model_dump(mode="json", exclude={"cases"}),
        "suite_yaml": SUITE_YAML,
        "options": {},
    }
    path = runs_dir(ctx) / f"{run_id}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(header)]
    for i in range(done if done is not None else cases):
        for m in MODELS:
            lines.append('{"type":"case","case":' + _case(m, i).model_dump_json() + "}")
    if end:
        lines.append(json.dumps({"type": "end", "status": "complete", "finished_at": utcnow().isoformat()}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def finish_run(path: Path, cases: int, start: int, *, rerun: CaseResult | None = None) -> None:
    """What a resume appends: the cases still to run (and ``rerun``, a case that failed on a host
    that was down and ran again)."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"type": "resume", "at": utcnow().isoformat(), "pending": cases - start}) + "\n")
        if rerun is not None:
            fh.write('{"type":"case","case":' + rerun.model_dump_json() + "}\n")
        for i in range(start, cases):
            for m in MODELS:
                fh.write('{"type":"case","case":' + _case(m, i).model_dump_json() + "}\n")
        fh.write(
            json.dumps({"type": "end", "status": "complete", "finished_at": utcnow().isoformat()}) + "\n"
        )


def runs_of(url: str, run_id: str) -> list[object]:
    from mlflow import MlflowClient

    client = MlflowClient(url)
    exps = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exps, filter_string=f"tags.`modeldesk.run_id` = '{run_id}'"))


def traces_of(url: str, mlflow_run_ids: list[str]) -> list[object]:
    """The traces linked to these MLflow runs."""
    import mlflow

    mlflow.set_tracking_uri(url)
    exps = [e.experiment_id for e in mlflow.MlflowClient(url).search_experiments()]
    return [
        t
        for rid in mlflow_run_ids
        for t in mlflow.search_traces(locations=exps, run_id=rid, return_type="list", max_results=1000)
    ]


def test_remote_logging_is_idempotent_and_a_resumed_run_ends_as_one(mlflow_server: MlflowServer) -> None:
    from mlflow import MlflowClient

    ctx = open_ctx(mlflow_server.url)
    path = write_run(ctx, "run-resumed", 4, done=2, end=False)  # interrupted after 2 of 4 cases
    first = tracking.log_run(ctx, "run-resumed")
    assert first.traces_logged == 4 and first.url and first.url.startswith(mlflow_server.url)
    rerun = _case(BASE, 0).model_copy(update={"output": "answer 0, run again", "latency_s": 0.9})
    finish_run(path, 4, 2, rerun=rerun)
    second = tracking.log_run(ctx, "run-resumed")
    assert second.parent_run_id == first.parent_run_id and second.child_run_ids == first.child_run_ids
    assert second.traces_logged == 5  # the two new cases of each model, and the case run again
    again = tracking.log_run(ctx, "run-resumed")
    assert again.traces_logged == 0

    runs = runs_of(mlflow_server.url, "run-resumed")
    assert len(runs) == 3  # one parent, two children: never a second set
    client = MlflowClient(mlflow_server.url)
    child = client.get_run(first.child_run_ids[BASE])
    assert child.info.status == "FINISHED"
    assert child.data.metrics["cases"] == 4 and child.data.metrics["pass_rate"] == 50.0
    table = json.loads(
        Path(
            client.download_artifacts(child.info.run_id, "eval_results_table.json", str(mlflow_server.folder))
        ).read_text()
    )
    assert sorted(row[0] for row in table["data"]) == [0, 1, 2, 3]  # replaced, not appended
    traces = traces_of(mlflow_server.url, list(first.child_run_ids.values()))
    assert len(traces) == 8
    assert all(len(t.info.assessments) == 1 for t in traces)  # never a verdict twice
    outputs = {t.data.spans[0].outputs for t in traces}
    assert "answer 0, run again" in outputs


def test_server_down_keeps_the_run_in_the_outbox_until_it_is_up(mlflow_server: MlflowServer) -> None:
    import socket

    with socket.socket() as s:  # a port where nothing listens: the server is down
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    ctx = open_ctx(dead)
    write_run(ctx, "run-outbox", 2)
    tracking.queue_run(ctx, "run-outbox")
    report = tracking.flush(ctx)
    assert isinstance(report.error, SourceUnavailable) and dead in report.error.message
    assert report.waiting == ["run-outbox"]
    assert tracking.outbox(ctx).run_ids() == ["run-outbox"]
    assert tracking.status(ctx).reachable is False

    ctx = open_ctx(mlflow_server.url)  # the server is up again
    report = tracking.flush(ctx)
    assert report.error is None and list(report.logged) == ["run-outbox"]
    assert tracking.outbox(ctx).run_ids() == []
    assert tracking.flush(ctx).logged == {}  # sent once
    assert len(runs_of(mlflow_server.url, "run-outbox")) == 3


class _Refusing(BaseHTTPRequestHandler):
    """Answers like MLflow's basic-auth app to a wrong token."""

    def do_GET(self) -> None:
        body = b"You are not authenticated. Please see the docs on how to authenticate."
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    _Refusing.disable_nagle_algorithm = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_wrong_token_is_named_and_never_shown(refusing_server: str) -> None:
    ctx = open_ctx(refusing_server)
    ctx.keys.set("mlflow", "s3cret-token-value")
    write_run(ctx, "run-auth", 1)
    tracking.queue_run(ctx, "run-auth")
    report = tracking.flush(ctx)
    assert isinstance(report.error, AuthError)
    text = str(report.error)
    assert refusing_server in text and "modeldesk key set mlflow" in text
    assert "s3cret" not in text
    assert tracking.outbox(ctx).run_ids() == ["run-auth"]


def test_a_damaged_embedded_store_is_moved_aside(isolated_home: Path) -> None:
    ctx = open_ctx()
    isolated_home.joinpath("mlflow.db").write_bytes(b"this is not a database" * 100)
    write_run(ctx, "run-fresh", 1)
    logged = tracking.log_run(ctx, "run-fresh", traces=False)
    assert logged.url is None
    assert any("was damaged and was moved to" in n for n in ctx.notices)
    assert list(isolated_home.glob("mlflow.db.corrupt-*"))


def test_the_window_logs_through_a_child_process(isolated_home: Path) -> None:
    ctx = open_ctx()
    write_run(ctx, "run-child", 1)
    proc = tracking.spawn_logger(ctx, "run-child")
    assert proc.wait(timeout=120) == 0, (isolated_home / "logs" / "mlflow.log").read_text()
    assert tracking.outbox(ctx).run_ids() == []
    assert len(runs_of(f"sqlite:///{isolated_home / 'mlflow.db'}", "run-child")) == 3


def _base(ctx: AppContext) -> None:
    ctx.registry.upsert(
        [
            UnifiedModel(
                id=BASE,
                name="llama3.2:latest",
                ollama_name="llama3.2:latest",
                provider="ollama",
                categories=[Category.TEXT, Category.FUNCTION_CALLING],
            )
        ]
    )


def test_variants_travel_between_two_data_dirs_through_one_server(
    mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELDESK_HOME", str(tmp_path / "alice"))
    alice = open_ctx(mlflow_server.url)
    _base(alice)
    spec = VariantSpec(name="terse", system_prompt="One sentence.", parameters=ChatOptions(temperature=0.2))
    variant_service.create_variant(alice, BASE, spec)
    assert tracking.status(alice).unpublished == ["exp/terse"]
    assert tracking.flush(alice).published == ["exp/terse"]
    assert tracking.pull_variants(alice).added == []  # her own variant is exp/terse already

    monkeypatch.setenv("MODELDESK_HOME", str(tmp_path / "bob"))
    bob = open_ctx(mlflow_server.url)
    pulled = tracking.pull_variants(bob)  # Bob has no llama3.2: listed, marked, not runnable
    assert pulled.added == ["mlflow/terse"] and pulled.unreachable_base == ["mlflow/terse"]
    orphan = bob.registry.get("mlflow/terse")
    assert orphan.status is ModelStatus.OFFLINE and BASE in orphan.status_message
    _base(bob)
    tracking.pull_variants(bob)
    got = bob.registry.get("mlflow/terse")
    assert got.status is ModelStatus.AVAILABLE and got.source.value == "mlflow"
    assert got.system_prompt == "One sentence." and got.parameters == {"temperature": 0.2}
    assert got.parent_id == BASE and got.categories[0] is Category.EXPERIMENTAL
    assert Category.FUNCTION_CALLING in got.categories and got.version == "1"

    monkeypatch.setenv("MODELDESK_HOME", str(tmp_path / "alice"))
    alice = open_ctx(mlflow_server.url)
    edited = VariantSpec(
        name="terse", system_prompt="One short sentence.", parameters=ChatOptions(temperature=0.2)
    )
    variant_service.create_variant(alice, BASE, edited, replace=True)
    assert tracking.flush(alice).published == ["exp/terse"]
    prompt = tracking.variant_versions(alice, "terse")
    assert prompt is not None and prompt.versions == (1, 2) and prompt.system_prompt == "One short sentence."

    monkeypatch.setenv("MODELDESK_HOME", str(tmp_path / "bob"))
    bob = open_ctx(mlflow_server.url)
    assert tracking.pull_variants(bob).updated == ["mlflow/terse"]
    assert bob.registry.get("mlflow/terse").system_prompt == "One short sentence."
    assert tracking.delete_in_mlflow(bob, "terse") is True
    assert tracking.pull_variants(bob).removed == ["mlflow/terse"]


def test_without_mlflow_installed_runs_wait_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # an install without mlflow
    ctx = open_ctx()
    write_run(ctx, "run-no-mlflow", 1)
    tracking.queue_run(ctx, "run-no-mlflow")
    report = tracking.flush(ctx)
    assert isinstance(report.error, SourceUnavailable) and "MLflow is not installed" in report.error.message
    assert tracking.outbox(ctx).run_ids() == ["run-no-mlflow"]


def test_a_damaged_outbox_is_moved_aside_and_the_user_told(isolated_home: Path) -> None:
    ctx = open_ctx()
    (isolated_home / "mlflow-outbox.json").write_text("{not json", encoding="utf-8")
    report = tracking.flush(ctx)
    assert report.error is None and report.logged == {}
    assert any("outbox was damaged" in n for n in ctx.notices)
    assert list(isolated_home.glob("mlflow-outbox.json.corrupt-*"))
    tracking.queue_run(ctx, "run-after")
    assert tracking.outbox(ctx).run_ids() == ["run-after"]


def test_a_sqlite_tracking_uri_keeps_its_artifacts_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's own default would be ./mlruns in whatever folder ModelDesk was started from."""
    db = tmp_path / "team" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    ctx = open_ctx()
    try:
        tgt = tracking.target(ctx)
        assert tgt.uri == f"sqlite:///{db}" and tgt.artifact_root == db.parent / "mlartifacts"
    finally:
        ctx.close()


def test_pulling_variants_reads_only_the_mlflow_rows(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: with 100,000 models, validating every one to find the few from MLflow took seconds per
    sync. Only the mlflow/ rows (and the bases they name) are validated now."""
    from desktop_app.adapters import mlflow_tracking as mt

    ctx = open_ctx()
    _base(ctx)
    ctx.registry.upsert(
        UnifiedModel(id=f"ollama/m{i}:latest", name=f"m{i}:latest", provider="ollama") for i in range(300)
    )
    prompts = [
        mt.VariantPrompt(name=n, version=1, system_prompt="Hi.", base_model_id=BASE, parameters={})
        for n in ("a", "b")
    ]
    monkeypatch.setattr(mt, "list_variant_prompts", lambda target: prompts)
    assert tracking.pull_variants(ctx).added == ["mlflow/a", "mlflow/b"]
    validated: list[str] = []
    real = UnifiedModel.model_validate_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[UnifiedModel], data: str | bytes, **kw: object) -> UnifiedModel:
        model = real(cls, data, **kw)
        validated.append(model.id)
        return model

    monkeypatch.setattr(UnifiedModel, "model_validate_json", classmethod(counting))
    version = ctx.registry._conn.total_changes
    report = tracking.pull_variants(ctx)  # nothing changed in MLflow: nothing is written
    assert (report.added, report.removed, report.updated) == ([], [], [])
    assert ctx.registry._conn.total_changes == version
    assert len(validated) < 10, validated  # not the 301 base models
    validated.clear()
    prompts.pop()  # b was deleted in MLflow
    report = tracking.pull_variants(ctx)
    assert (report.added, report.removed, report.updated) == ([], ["mlflow/b"], [])
    assert ctx.registry.find("mlflow/a") is not None and ctx.registry.find("mlflow/b") is None
    assert len(validated) < 10, validated  # not the 301 base models
