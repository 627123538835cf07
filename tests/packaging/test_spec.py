"""The bundle's contents (packaging/bundle.py, read by modeldesk.spec) cover every command and child
process, checked without building (the build itself is `make package-test`, tests/packaging/test_bundle.py)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from desktop_app.cli import COMMAND_MODULES, COMMAND_OWNERS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "desktop_app"


def _bundle() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle", ROOT / "packaging" / "bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle = _bundle()


def _excluded(module: str) -> str | None:
    return next((x for x in bundle.EXCLUDES if module == x or module.startswith(x + ".")), None)


def _collected(module: str) -> bool:
    """In the bundle by name: a hidden import, or under a package collected whole."""
    named = (*bundle.CHILD_ENTRY_POINTS, *bundle.LIBRARY_HIDDEN)
    return module in named or any(
        module == p or module.startswith(p + ".") for p in bundle.COLLECT_SUBMODULES
    )


def _imports_of_desktop_app() -> dict[str, str]:
    """Every module desktop_app imports, at the top or inside a function → the file that does."""
    found: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if module in bundle.DEV_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_command_module_and_child_entry_point_is_in_the_bundle() -> None:
    for module in (*COMMAND_MODULES, *set(COMMAND_OWNERS.values()), "desktop_app.cli.smoke"):
        assert _collected(module), module
    for module in bundle.CHILD_ENTRY_POINTS:
        assert importlib.util.find_spec(module) is not None, f"{module} is listed but does not exist"


def test_nothing_the_app_imports_is_excluded() -> None:
    for module, where in _imports_of_desktop_app().items():
        assert _excluded(module) is None, f"{where} imports {module}, which the spec excludes"
    for module in bundle.REQUIRED:
        assert _excluded(module) is None, module


def test_unused_qt_modules_really_are_unused() -> None:
    qt_used = {m for m in _imports_of_desktop_app() if m.startswith("PySide6.")}
    assert qt_used, "the scan found no Qt import at all"
    assert not qt_used & set(bundle.UNUSED_QT)


def test_the_children_mlflow_starts_by_module_name_are_in_the_bundle() -> None:
    """`mlflow server` runs ``sys.executable -m uvicorn``: the bundle's executable runs ``-m`` modules
    (packaging/entry.py), and the module it names must be in the bundle."""
    from mlflow.server import _build_uvicorn_command

    command = _build_uvicorn_command(None, "127.0.0.1", 5000, 1, "mlflow.server.fastapi_app:app")
    assert command[:2] == [sys.executable, "-m"]
    module = command[2]
    assert f"{module}.__main__" in bundle.LIBRARY_HIDDEN or module in bundle.LIBRARY_HIDDEN
    assert command[-1].split(":")[0] in bundle.LIBRARY_HIDDEN


@pytest.mark.parametrize("args", [["-m", "platform", "--terse"], ["--version"]])
def test_the_bundle_entry_runs_modules_and_the_cli(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "entry.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    if args[0] == "-m":
        import platform

        assert proc.stdout.strip() == platform.platform(terse=True)
    else:
        assert proc.stdout.startswith("modeldesk ")


def test_the_spec_reads_its_contents_from_bundle_py() -> None:
    spec = (ROOT / "packaging" / "modeldesk.spec").read_text(encoding="utf-8")
    compile(spec, "modeldesk.spec", "exec")
    for name in (
        "CHILD_ENTRY_POINTS",
        "LIBRARY_HIDDEN",
        "COLLECT_SUBMODULES",
        "EXCLUDES",
        "COLLECT_DATA",
        "DEV_ONLY",
    ):
        assert f"bundle.{name}" in spec, name
