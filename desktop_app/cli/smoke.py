"""``modeldesk --smoke-test``: does this installation (the bundle or a dev install) run every part?

On a temporary data dir, with no network: the registry is loaded, the window opens offscreen and
shows its model (and has imported none of the heavy libraries), the MLflow logging child logs one
evaluation to the embedded store and exits, and the share child answers on 127.0.0.1 and stops on
SIGTERM. Each heavy part runs in a child process of this very executable, as it does in use.
Prints one line per part; exits 0 when all pass, else 1 and names what is missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

__all__ = ["HEAVY_IN_WINDOW", "SmokeFailure", "run_smoke_test"]

HEAVY_IN_WINDOW = ("mlflow", "gradio", "fastapi", "uvicorn", "desktop_app.share", "desktop_app.serve")
SMOKE_MODEL = "ollama/smoke:1b"
SMOKE_RUN = "smoke-test-run"
CHILD_TIMEOUT = 180.0  # a cold bundle's first MLflow start on a busy 2-core machine takes ~20 s


class SmokeFailure(Exception):
    """One part does not run here; the message names what is missing."""


def run_smoke_test(out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    saved = {
        k: os.environ.get(k)
        for k in ("MODELDESK_HOME", "QT_QPA_PLATFORM", "MODELDESK_NO_MLFLOW", "MLFLOW_TRACKING_URI")
    }
    with tempfile.TemporaryDirectory(prefix="modeldesk-smoke-") as tmp:
        home = Path(tmp)
        os.environ["MODELDESK_HOME"] = str(home)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.pop("MODELDESK_NO_MLFLOW", None)  # the logger child is part of what is checked
        # Into the temporary embedded store, never the user's tracking server.
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        try:
            failed = _run_steps(home, stream)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    if failed:
        print(f"smoke test FAILED: {', '.join(failed)}", file=stream, flush=True)
        return 1
    print("smoke test passed", file=stream, flush=True)
    return 0


def _run_steps(home: Path, stream: TextIO) -> list[str]:
    steps: list[tuple[str, Callable[[Path], str]]] = [
        ("registry", _registry),
        ("window", _window),
        ("mlflow logger", _mlflow_logger),
        ("share", _share),
    ]
    failed = []
    for name, step in steps:
        try:
            detail = step(home)
        except SmokeFailure as exc:
            failed.append(name)
            print(f"FAIL {name}: {exc}", file=stream, flush=True)
        else:
            print(f"ok   {name}: {detail}", file=stream, flush=True)
    return failed


# ------------------------------------------------------------------------------------------- steps
def _registry(home: Path) -> str:
    """A data dir with no sources (nothing syncs, nothing reaches the network) and one model."""
    from desktop_app.core.categories import DEFAULT_RULES
    from desktop_app.core.models import ServingType, SourceKind, UnifiedModel
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    try:
        ctx.settings.sources = []
        ctx.save_settings()
        cats = DEFAULT_RULES.for_capabilities(["completion"])
        ctx.registry.upsert(
            [
                UnifiedModel(
                    id=SMOKE_MODEL,
                    name="smoke:1b",
                    ollama_name="smoke:1b",
                    provider="ollama",
                    category=cats[0],
                    categories=cats,
                    capabilities=["completion"],
                    source=SourceKind.OLLAMA,
                    serving_type=ServingType.LOCAL,
                    local_endpoint="http://127.0.0.1:9",
                )
            ]
        )
    finally:
        ctx.close()
    again = AppContext.open()
    try:
        ids = [m.id for m in again.registry.list_models()]
    finally:
        again.close()
    if ids != [SMOKE_MODEL]:
        raise SmokeFailure(f"the registry read back {ids!r} instead of [{SMOKE_MODEL!r}]")
    return f"read back {len(ids)} model from {home}"


def _window(home: Path) -> str:
    try:
        from desktop_app.gui.app import run
    except ImportError as exc:
        raise SmokeFailure(f"the window cannot load: {exc} (is PySide6 in this build?)") from None
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        rc = run([sys.argv[0] if sys.argv else "modeldesk"], exit_after_shown=True)
    said = captured.getvalue().strip()
    if rc != 0 or not said.startswith("shown 1 models"):
        raise SmokeFailure(f"the window did not show the registry's model (exit {rc}, said {said!r})")
    heavy = [m for m in HEAVY_IN_WINDOW if m in sys.modules]
    if heavy:
        raise SmokeFailure(f"the window process imported {', '.join(heavy)} (they belong in child processes)")
    return said


def _mlflow_logger(home: Path) -> str:
    """The window's logger child (``modeldesk mlflow _log RUN``) logs a one-case run and exits."""
    from desktop_app.services import tracking
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    try:
        _write_run(ctx.home / "runs" / f"{SMOKE_RUN}.jsonl")
        proc = tracking.spawn_logger(ctx, SMOKE_RUN)
        try:
            rc = proc.wait(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SmokeFailure(f"the MLflow logging child did not finish in {CHILD_TIMEOUT:.0f} s") from None
        log = _tail(home / "logs" / "mlflow.log")
        waiting = tracking.outbox(ctx).run_ids()
    finally:
        ctx.close()
    if rc != 0 or waiting:
        missing = " (mlflow is missing from this build)" if "MLflow is not installed" in log else ""
        raise SmokeFailure(f"the MLflow logging child exited {rc}{missing}: {log}")
    if not tracking.embedded_db(ctx).exists():
        raise SmokeFailure("the MLflow logging child exited 0 but made no embedded store")
    return f"logged {SMOKE_RUN} to {tracking.embedded_db(ctx)}"


def _share(home: Path) -> str:
    """``modeldesk share`` starts, answers on 127.0.0.1, and stops cleanly on SIGTERM."""
    from desktop_app.cli import COMMAND_OWNERS
    from desktop_app.services.tracking import child_command

    if "share" not in COMMAND_OWNERS:
        raise SmokeFailure("`modeldesk share` is not in this build (desktop_app.cli.share_cmd is missing)")
    from desktop_app.core.share_protocol import LINE_LOCAL, LINE_READY, LINE_STOPPED

    port = _free_port()
    log_path = home / "logs" / "share.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            child_command("share", "--port", str(port)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    lines: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(target=_read_lines, args=(proc, lines, ready, LINE_READY), daemon=True)
    reader.start()
    try:
        if not ready.wait(CHILD_TIMEOUT) or proc.poll() is not None:
            raise SmokeFailure(f"the share child did not get ready: {' / '.join(lines) or _tail(log_path)}")
        url = next((x[len(LINE_LOCAL) :] for x in lines if x.startswith(LINE_LOCAL)), "")
        status = _get(url)
        if status != 200:
            raise SmokeFailure(f"the share app at {url} answered {status}")
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        reader.join(timeout=5)
    if rc != 0 and sys.platform != "win32":  # Windows has no SIGTERM: terminate() is a kill there
        raise SmokeFailure(f"the share child exited {rc} on SIGTERM: {_tail(log_path)}")
    stopped = " and stopped" if LINE_STOPPED in lines else ""
    return f"answered 200 at {url}{stopped}"


# ----------------------------------------------------------------------------------------- helpers
def _write_run(path: Path) -> None:
    """A finished one-case evaluation, as services.evaluate writes it (header, case, end)."""
    from desktop_app.core.chat import ChatMessage
    from desktop_app.core.evaluation import CaseResult, EvaluationRun
    from desktop_app.core.evaluators import EvaluatorResult
    from desktop_app.core.models import utcnow

    run = EvaluationRun(
        run_id=SMOKE_RUN,
        suite_name="Smoke",
        suite_hash="smoke",
        model_ids=[SMOKE_MODEL],
        evaluator_names=["exact"],
        case_count=1,
    )
    case = CaseResult(
        model_id=SMOKE_MODEL,
        case_index=0,
        test_case={"q": "2+2"},
        messages=[ChatMessage(role="user", content="2+2")],
        output="4",
        latency_s=0.1,
        evaluations=[EvaluatorResult(evaluator_name="exact", score=1.0, passed=True)],
    )
    header = {
        "type": "header",
        "version": 1,
        "run": run.model_dump(mode="json", exclude={"cases"}),
        "suite_yaml": "name: Smoke\nmessages:\n  - role: user\n    content: '{{q}}'\ntestData:\n  - q: 2+2\n",
        "options": {},
    }
    end = {"type": "end", "status": "complete", "finished_at": utcnow().isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(header), '{"type":"case","case":' + case.model_dump_json() + "}", json.dumps(end)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _read_lines(proc: subprocess.Popen[str], lines: list[str], ready: threading.Event, last: str) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.strip()
        lines.append(line)
        if line == last:
            ready.set()
    ready.set()  # it ended: the caller sees it exited


def _get(url: str) -> int:
    import httpx

    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=10, trust_env=False).status_code
        except httpx.HTTPError as exc:
            if time.monotonic() > deadline:
                raise SmokeFailure(f"the share app at {url} did not answer: {exc}") from None
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
