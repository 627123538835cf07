"""`modeldesk gui --exit-after-shown`: opens the window from the registry, reports, exits 0; and the
window process never loads MLflow or Gradio."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from desktop_app.services.context import AppContext
from tests.gui.conftest import hand_made_models, local

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_exit_after_shown_reports_the_models_and_loads_nothing_heavy() -> None:
    ctx = AppContext.open()
    ctx.settings.sources = []  # no network at all
    ctx.save_settings()
    ctx.registry.upsert([*hand_made_models(), *(local(f"extra-{i}", ["completion"]) for i in range(38))])
    ctx.close()
    script = (
        "import sys\n"
        "from desktop_app.cli import main\n"
        "rc = main(['gui', '--exit-after-shown'])\n"
        "print('heavy:', sorted(m for m in ('mlflow', 'gradio', 'desktop_app.share', 'desktop_app.serve', 'fastapi', 'uvicorn') if m in sys.modules))\n"
        "print('before paint:', sorted(m for m in ('pydantic.main', 'httpx') if m in sys.modules))\n"
        "raise SystemExit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=_env(), cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^shown 50 models in \d+\.\d\d s$", proc.stdout, re.M), proc.stdout
    assert "heavy: []" in proc.stdout
    # The first paint builds no pydantic model and opens no HTTP client (both come right after it).
    assert "before paint: []" in proc.stdout


def test_no_arguments_means_the_window(monkeypatch: object) -> None:
    import desktop_app.gui.app as gui_app
    from desktop_app.cli import main

    calls: list[bool] = []

    def fake_run(argv: list[str] | None = None, *, exit_after_shown: bool = False) -> int:
        calls.append(exit_after_shown)
        return 0

    monkeypatch.setattr(gui_app, "run", fake_run)  # type: ignore[attr-defined]
    assert main([]) == 0 and calls == [False]
    assert main(["gui", "--exit-after-shown"]) == 0 and calls == [False, True]


def test_python_m_desktop_app_gui_opens_the_window_too() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "desktop_app.gui", "--exit-after-shown"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("shown 0 models in ")


def _wait_for(predicate: Any, proc: subprocess.Popen[str], timeout: float) -> bool:
    """Poll ``predicate`` until true, the process exits, or ``timeout`` s pass (generous: the machine
    is shared; this is a readiness wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def test_ctrl_c_in_the_terminal_closes_the_idle_window(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env()
    env["MODELDESK_HOME"] = str(home)
    home.mkdir()  # no source: nothing to sync, the window idles
    (home / "settings.json").write_text('{"version": 1, "sources": []}', encoding="utf-8")
    log = home / "logs" / "modeldesk.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "gui"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        # Up, and idle: its first sync (of no source) is over and nothing else is scheduled.
        up = _wait_for(lambda: log.exists() and "sync done" in log.read_text("utf-8"), proc, 60)
        assert up, f"the window did not come up: {proc.poll()=}"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err and "internal error" not in err
    assert "signal 2: closing the window" in log.read_text("utf-8")
