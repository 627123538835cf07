"""`modeldesk --smoke-test` in a dev install: every part runs, and a part that cannot names what is
missing (the bundle runs the same check: tests/packaging/test_bundle.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def smoke(tmp_path: Path, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    # The user's own data dir and tracking server (nothing listens there) are left alone.
    env = dict(
        os.environ, MODELDESK_HOME=str(tmp_path / "users-own-home"), MLFLOW_TRACKING_URI="http://127.0.0.1:9"
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
        cwd=tmp_path,
    )


def test_every_part_runs_on_a_data_dir_of_its_own(tmp_path: Path) -> None:
    proc = smoke(tmp_path)
    for part in ("registry", "window", "mlflow logger"):
        assert f"ok   {part}: " in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "ok   window: shown 1 models in " in proc.stdout
    assert not (tmp_path / "users-own-home").exists()  # the user's data dir is never touched
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "ok   share: answered 200 at http://127.0.0.1:" in proc.stdout
    assert proc.stdout.rstrip().endswith("smoke test passed")


def test_a_missing_mlflow_is_named(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "mlflow").mkdir(parents=True)
    (blocked / "mlflow" / "__init__.py").write_text("raise ImportError('mlflow left out of this build')\n")
    proc = smoke(tmp_path, pythonpath=str(blocked))
    assert proc.returncode == 1
    assert (
        "FAIL mlflow logger: the MLflow logging child exited 1 (mlflow is missing from this build)"
        in proc.stdout
    )
    assert "ok   window: " in proc.stdout  # the other parts still ran and said so
    assert proc.stdout.rstrip().endswith("smoke test FAILED: mlflow logger")
    assert "Traceback" not in proc.stdout + proc.stderr
