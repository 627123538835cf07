"""The PyInstaller bundle runs every feature from its own executable: --version, doctor, the window
offscreen, --smoke-test, `list --json` against the fake Ollama, an evaluation logged to the embedded
MLflow store, MLflow's UI, `serve` and `share` answering on 127.0.0.1, an MCP server's tools listed.

The build takes minutes (packaging/README.md), so these run from `make package-test`, which builds
the bundle and names it in $MODELDESK_BUNDLE; `make test` checks the spec without building
(tests/packaging/test_spec.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.test_eval_cmd import LLAMA, small_suite
from tests.fakes.ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def bundle() -> Path:
    named = os.environ.get("MODELDESK_BUNDLE")
    if not named:
        pytest.skip("no bundle named in $MODELDESK_BUNDLE: `make package-test` builds one and runs these")
    binary = Path(named).resolve()
    assert binary.is_file() and os.access(binary, os.X_OK), f"{binary} is not an executable"
    return binary


def env(home: Path, **extra: str) -> dict[str, str]:
    out = dict(os.environ, MODELDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen", **extra)
    out.pop("PYTHONPATH", None)  # the bundle brings its own modules, nothing from this checkout
    return out


def run(binary: Path, *args: str, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=240, env=env(home, **extra), cwd="/"
    )


class Child:
    """A long-running bundle command (share, serve, mlflow ui): read its lines until one appears."""

    def __init__(self, binary: Path, *args: str, home: Path) -> None:
        self.proc = subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env(home, MODELDESK_NO_MLFLOW=""),
            cwd="/",
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._seen:
                self.lines.append(raw.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self.lines.append("<exited>")
            self._seen.notify_all()

    def line_starting(self, prefix: str, timeout: float = 180) -> str:
        with self._seen:
            found = self._seen.wait_for(
                lambda: any(x.startswith((prefix, "<exited>")) for x in self.lines), timeout
            )
            line = next((x for x in self.lines if x.startswith((prefix, "<exited>"))), "")
        assert found and line.startswith(prefix), "\n".join(self.lines[-30:])
        return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()


@pytest.fixture
def child_processes() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.stop(signal.SIGKILL)


@pytest.fixture
def synced(bundle: Path, fake_ollama: FakeOllama, isolated_home: Path) -> FakeOllama:
    """The bundle's data dir has one source, the fake Ollama, synced by the bundle itself."""
    for args in (
        ("source", "rm", "ollama"),
        ("source", "add", "ollama", "ollama", fake_ollama.url),
        ("sync",),
    ):
        proc = run(bundle, *args, home=isolated_home)
        assert proc.returncode == 0, proc.stderr
    return fake_ollama


def test_bundle_runs_the_cli_and_opens_the_window(bundle: Path, tmp_path: Path) -> None:
    version = run(bundle, "--version", home=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("modeldesk ")
    doctor = run(bundle, "doctor", home=tmp_path)
    assert "data folder" in doctor.stdout and "Traceback" not in doctor.stderr
    shown = run(bundle, "gui", "--exit-after-shown", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("shown 0 models in ")


def test_smoke_test_runs_every_part(bundle: Path, tmp_path: Path) -> None:
    proc = run(bundle, "--smoke-test", home=tmp_path)
    for part in ("registry", "window", "mlflow logger"):
        assert f"ok   {part}: " in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "ok   share: answered 200" in proc.stdout
    assert not tmp_path.joinpath("registry.json").exists()  # it worked on a data dir of its own


def test_list_json_against_the_fake_ollama(bundle: Path, synced: FakeOllama, isolated_home: Path) -> None:
    proc = run(bundle, "list", "--json", home=isolated_home)
    assert proc.returncode == 0, proc.stderr
    models = {m["id"]: m for m in json.loads(proc.stdout)}
    assert len(models) == 6 and LLAMA in models
    assert models["ollama/nomic-embed-text:latest"]["categories"] == ["embedding"]


def test_an_evaluation_is_logged_to_the_embedded_mlflow_store(
    bundle: Path, synced: FakeOllama, isolated_home: Path, tmp_path: Path
) -> None:
    from mlflow import MlflowClient  # this checkout's mlflow reads what the bundle's wrote

    synced.reply_text = "the sky is blue"
    proc = run(
        bundle, "eval", small_suite(tmp_path, 2), "--model", LLAMA, home=isolated_home, MODELDESK_NO_MLFLOW=""
    )
    assert proc.returncode == 0, proc.stderr
    assert "Logged run" in proc.stderr and "mlflow.db" in proc.stderr
    client = MlflowClient(f"sqlite:///{isolated_home / 'mlflow.db'}")
    exp = client.get_experiment_by_name("Small")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    child = next(r for r in runs if r.data.tags.get("modeldesk.model_id") == LLAMA)
    assert child.data.metrics["pass_rate"] == 100.0 and child.info.status == "FINISHED"


def test_mlflow_ui_serves_the_embedded_store(
    bundle: Path, isolated_home: Path, child_processes: list[Child], unused_tcp_port: int
) -> None:
    """`mlflow server` starts `sys.executable -m uvicorn`: the bundle's executable runs it (entry.py)."""
    ui = Child(bundle, "mlflow", "ui", "--no-browser", "--port", str(unused_tcp_port), home=isolated_home)
    child_processes.append(ui)
    url = ui.line_starting("MLflow UI: ").split()[2]
    assert httpx.get(f"{url}/health", trust_env=False, timeout=10).status_code == 200
    experiments = httpx.post(
        f"{url}/api/2.0/mlflow/experiments/search", json={"max_results": 10}, trust_env=False, timeout=30
    )
    assert experiments.status_code == 200 and "Default" in experiments.text
    ui.stop(signal.SIGINT)
    assert "Stopped the MLflow UI." in "\n".join(ui.lines)


def test_serve_answers_on_loopback(
    bundle: Path, synced: FakeOllama, isolated_home: Path, child_processes: list[Child], unused_tcp_port: int
) -> None:
    serve = Child(bundle, "serve", "--port", str(unused_tcp_port), home=isolated_home)
    child_processes.append(serve)
    url = serve.line_starting("ModelDesk serves ").rsplit(" ", 1)[1]
    models = httpx.get(f"{url.rstrip('/')}/models", trust_env=False, timeout=30)
    assert models.status_code == 200, models.text
    assert LLAMA in {m["id"] for m in models.json()["data"]}
    assert serve.stop() in (0, -signal.SIGTERM)  # it stopped on SIGTERM (no SIGKILL needed)


def test_share_answers_on_loopback(
    bundle: Path, synced: FakeOllama, isolated_home: Path, child_processes: list[Child], unused_tcp_port: int
) -> None:
    from desktop_app.core.share_protocol import LINE_LOCAL, LINE_READY

    share = Child(bundle, "share", "--port", str(unused_tcp_port), home=isolated_home)
    child_processes.append(share)
    url = share.line_starting(LINE_LOCAL)[len(LINE_LOCAL) :]
    share.line_starting(LINE_READY)
    assert url.startswith("http://127.0.0.1:")
    page = httpx.get(url, trust_env=False, timeout=30)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    config = httpx.get(f"{url.rstrip('/')}/config", trust_env=False, timeout=30)
    assert config.status_code == 200 and "components" in config.json()
    assert share.stop() == 0


def test_an_mcp_server_is_started_and_listed_by_the_bundle(bundle: Path, isolated_home: Path) -> None:
    """The bundle's MCP client starts a stdio server (the user's command: here this checkout's Python
    with the fake server) and lists its tools."""
    server = ["--env", f"PYTHONPATH={ROOT}", "--", sys.executable, "-m", "tests.fakes.mcp_server"]
    added = run(bundle, "tools", "add", "fake", *server, home=isolated_home)
    assert added.returncode == 0, added.stderr
    tested = run(bundle, "tools", "test", "fake", home=isolated_home)
    assert tested.returncode == 0, tested.stderr
    assert "fake/add" in tested.stdout


def test_bundle_leaves_out_what_no_code_path_needs(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    for unused in ("hypothesis", "pytest", "matplotlib", "sklearn", "tests", "PySide6/QtQml.abi3.so"):
        assert not (internal / unused).exists(), unused
    for needed in ("mlflow", "gradio", "PySide6", "resources/icons"):
        assert (internal / needed).exists(), needed
