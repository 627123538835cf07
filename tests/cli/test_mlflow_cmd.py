"""`eval` → MLflow (embedded store), `mlflow status|flush`, `--no-mlflow`, and the window's child-process
logger, against the fake Ollama and a real MLflow SQLite store (no mocks of mlflow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.services import tracking
from desktop_app.services.context import AppContext
from desktop_app.services.run_files import list_runs
from tests.cli.test_eval_cmd import LLAMA, QWEN, small_suite, use_ollama
from tests.fakes.ollama import FakeOllama
from tests.mlflow_server import MlflowServer

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def mlflow_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELDESK_NO_MLFLOW", raising=False)


def test_eval_logs_parent_and_child_runs_to_the_embedded_store(
    fake_ollama: FakeOllama, tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow
    from mlflow import MlflowClient

    use_ollama(fake_ollama)
    fake_ollama.reply_text = "the sky is blue"
    suite = small_suite(tmp_path, 3)
    code = main(["eval", suite, "--model", LLAMA, "--model", QWEN])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "Logged run" in err and "mlflow.db" in err
    run_id = list_runs_ids()[0]
    uri = f"sqlite:///{isolated_home / 'mlflow.db'}"
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("Small")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`modeldesk.run_id` = '{run_id}'")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["modeldesk.model_id"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert len(parents) == 1 and set(children) == {LLAMA, QWEN}
    child = children[LLAMA]
    assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
    assert child.data.params["model_id"] == LLAMA and child.data.params["source"] == "ollama"
    assert child.data.params["suite_name"] == "Small"
    assert child.data.metrics["pass_rate"] == 100.0 and child.data.metrics["error_count"] == 0
    assert child.data.metrics["score.check"] == 1.0 and "latency_p95_s" in child.data.metrics
    assert child.info.status == "FINISHED"
    table_path = client.download_artifacts(child.info.run_id, "eval_results_table.json", str(tmp_path))
    table = json.loads(Path(table_path).read_text())
    assert len(table["data"]) == 3 and "output" in table["columns"]
    names = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert names == {"small.prompt.yml", "report.html"}
    mlflow.set_tracking_uri(uri)
    traces = mlflow.search_traces(locations=[exp.experiment_id], run_id=child.info.run_id, return_type="list")
    assert len(traces) == 3
    feedback = traces[0].info.assessments
    assert [f.name for f in feedback] == ["check"] and feedback[0].feedback.value is True
    assert feedback[0].source.source_type == "CODE" and feedback[0].span_id == traces[0].data.spans[0].span_id
    assert feedback[0].metadata["mlflow.assessment.sourceRunId"] == child.info.run_id
    assert tracking.outbox(AppContext.open()).run_ids() == []


def list_runs_ids() -> list[str]:
    return [p.stem for p in list_runs(AppContext.open())]


def test_no_mlflow_skips_logging(
    fake_ollama: FakeOllama, tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    fake_ollama.reply_text = "the sky"
    assert main(["eval", small_suite(tmp_path, 1), "--no-mlflow"]) == 0
    _, err = capsys.readouterr()
    assert "MLflow" not in err
    assert not (isolated_home / "mlflow.db").exists()
    assert not (isolated_home / "mlflow-outbox.json").exists()


def test_server_down_eval_still_finishes_and_sync_sends_it_later(
    fake_ollama: FakeOllama,
    tmp_path: Path,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    use_ollama(fake_ollama)
    fake_ollama.reply_text = "the sky"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    assert main(["eval", small_suite(tmp_path, 1)]) == 0  # the evaluation is not failed by MLflow
    _, err = capsys.readouterr()
    assert f"The MLflow tracking server {dead} cannot be reached" in err and "1 run(s) wait" in err
    assert "Traceback" not in err
    assert main(["mlflow", "status", "--json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["reachable"] is False and len(status["waiting"]) == 1

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    assert main(["sync"]) == 0
    out, err = capsys.readouterr()
    assert "View run" not in out  # MLflow's own links would spoil `--json` output
    assert f"Logged run {status['waiting'][0]} to MLflow: {mlflow_server.url}/#/experiments/" in err
    assert main(["mlflow", "flush"]) == 0
    assert "Nothing waits" in capsys.readouterr().out


def test_variant_create_show_rm_go_through_the_prompt_registry(
    fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    assert (
        main(["variant", "create", LLAMA, "--name", "terse", "--system", "Be brief.", "--temperature", "0.3"])
        == 0
    )
    assert "Registered exp/terse in MLflow's Prompt Registry version 1" in capsys.readouterr().err
    assert main(["variant", "create", LLAMA, "--name", "terse", "--system", "Be briefer.", "--replace"]) == 0
    assert "version 2" in capsys.readouterr().err
    assert main(["variant", "show", "exp/terse"]) == 0
    assert "terse, versions 1, 2 (latest 2)" in capsys.readouterr().out
    assert main(["variant", "rm", "exp/terse"]) == 0  # no terminal to ask at: kept in MLflow, said so
    assert "stays in MLflow" in capsys.readouterr().err
    assert main(["variant", "create", LLAMA, "--name", "terse", "--system", "Be briefer."]) == 0
    capsys.readouterr()
    assert main(["variant", "rm", "exp/terse", "--mlflow"]) == 0
    assert "Deleted terse from MLflow's Prompt Registry" in capsys.readouterr().err


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in entry.joinpath("cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_mlflow_ui_serves_the_embedded_store_and_ctrl_c_stops_it_and_its_children(
    isolated_home: Path,
) -> None:
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, MODELDESK_HOME=str(isolated_home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "mlflow", "ui", "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith(f"MLflow UI: http://127.0.0.1:{port}"), (
            proc.stderr.read() if proc.stderr else ""
        )
        assert httpx.get(f"http://127.0.0.1:{port}/health", trust_env=False).status_code == 200
        assert _processes_mentioning(str(isolated_home / "mlflow.db"))  # the server runs on our store
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(isolated_home / "mlflow.db")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _processes_mentioning(str(isolated_home / "mlflow.db")) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_frozen_server_command_passes_mlflows_own_options_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What `mlflow ui` runs in the bundle: `modeldesk mlflow _server -- OPTIONS` (without the "--",
    argparse took `--backend-store-uri` for one of ours and refused it)."""
    assert main(["mlflow", "_server", "--", "--help"]) == 0
    assert "--backend-store-uri" in capsys.readouterr().out
