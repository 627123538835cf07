"""The PyInstaller bundle builds from packaging/modeldesk.spec and runs: --version, doctor, and the
window up to 'shown N models' (offscreen). Slow (~1.5 min), so it builds once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("pyinstaller")
    exe = Path(sys.executable).with_name("pyinstaller")
    proc = subprocess.run(
        [str(exe), "--noconfirm", "--log-level", "WARN", "--distpath", str(work / "dist"),
         "--workpath", str(work / "build"), str(ROOT / "packaging" / "modeldesk.spec")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    binary = work / "dist" / "modeldesk" / "modeldesk"
    assert binary.exists()
    return binary


def run(binary: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MODELDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.timeout(900)  # the module fixture builds the bundle inside this test's time
def test_bundle_runs_the_cli_and_opens_the_window(bundle: Path, tmp_path: Path) -> None:
    version = run(bundle, "--version", home=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("modeldesk ")
    doctor = run(bundle, "doctor", home=tmp_path)
    assert "data folder" in doctor.stdout and "Traceback" not in doctor.stderr
    shown = run(bundle, "gui", "--exit-after-shown", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("shown 0 models in ")


def test_bundle_leaves_out_what_the_app_never_imports(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    for heavy in ("gradio", "mlflow", "numpy", "hypothesis", "pytest"):
        assert not (internal / heavy).exists(), heavy
    assert (internal / "resources" / "icons").is_dir()
