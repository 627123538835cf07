"""The layer arrows of DESIGN.md, enforced: import-linter contracts, and the window's start-up imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def test_cli_start_does_not_import_heavy_or_gui_libraries() -> None:
    code = (
        "import sys, desktop_app.cli as c; c.build_parser();"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mlflow','gradio','PySide6','qasync','pandas','fastapi','uvicorn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
