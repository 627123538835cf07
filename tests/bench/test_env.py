"""The benchmarks' environment check: installed distributions against what pyproject.toml declares
(and everything that requires in turn), on made-up metadata shaped like the real ones."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench import _env
from bench._env import EnvReport, as_metadata, closure, compare, declared_requirements, imported_undeclared

ROOT = Path(__file__).resolve().parents[2]

# A small project shaped like ours: httpx no longer requires sniffio (httpx 0.28, anyio 4.5+), but
# httpcore imports it when it is there.
PROJECT: dict[str, Any] = {
    "dependencies": ["httpx>=0.27", "pydantic>=2.7"],
    "optional-dependencies": {"test": ["pytest>=8"], "package": ["pyinstaller>=6"]},
}
REQUIRES: dict[str, list[str]] = {
    "httpx": ["anyio", "httpcore==1.*", 'h2<5,>=3; extra == "http2"', "idna"],
    "httpcore": ["h11>=0.16", 'anyio<5,>=4.0; extra == "asyncio"'],
    "anyio": ["idna>=2.8", 'typing_extensions>=4.5; python_version < "3.13"', 'trio>=0.26; extra == "trio"'],
    "pydantic": ["pydantic-core==2.33.2", "typing-extensions>=4.12"],
    "pytest": ["iniconfig", "packaging", "pluggy<2,>=1.5"],
}
LEAVES = ("idna", "h11", "typing-extensions", "pydantic-core", "iniconfig", "packaging", "pluggy")
VERSIONS = {
    "httpx": "0.28.1",
    "httpcore": "1.0.9",
    "anyio": "4.9.0",
    "pydantic": "2.11.7",
    "pytest": "8.4.1",
    "idna": "3.10",
    "h11": "0.16.0",
    "typing-extensions": "4.14.1",
    "pydantic-core": "2.33.2",
    "iniconfig": "2.1.0",
    "packaging": "25.0",
    "pluggy": "1.6.0",
    "pip": "25.2",
    "setuptools": "80.9.0",
    "modeldesk": "0.1.0",
}


def requires_of(installed: dict[str, str]) -> Any:
    def look(name: str) -> list[str] | None:
        if name not in installed:
            return None
        return REQUIRES.get(name, [])

    return look


def fresh_install() -> dict[str, str]:
    return dict(VERSIONS)


def test_closure_follows_requirements_markers_and_extras() -> None:
    found = closure(declared_requirements(PROJECT), requires_of(fresh_install()))
    assert set(found) == {"httpx", "httpcore", "anyio", "pydantic", "pytest", *LEAVES}
    # extras nobody asked for (http2, trio) and extras not chosen (package) are not followed
    assert not {"h2", "trio", "pyinstaller"} & set(found)
    with_extra = closure(["httpx[http2]>=0.27"], requires_of({**fresh_install(), "h2": "4.2.0"}))
    assert "h2" in with_extra


def test_a_fresh_install_is_fresh() -> None:
    installed = fresh_install()
    report = compare(PROJECT, installed, requires_of(installed), as_metadata(PROJECT))
    assert report == EnvReport() and report.fresh


def test_a_package_installed_by_hand_is_reported() -> None:
    # The case behind this check: sniffio was on the machine the window's figures were measured on,
    # but in no declared requirement.
    installed = {**fresh_install(), "sniffio": "1.3.1"}
    report = compare(PROJECT, installed, requires_of(installed), as_metadata(PROJECT))
    assert report.undeclared == ["sniffio 1.3.1"] and not report.fresh
    assert any("sniffio 1.3.1" in line for line in report.lines())


def test_declaring_it_makes_it_part_of_a_fresh_install() -> None:
    project = {**PROJECT, "dependencies": [*PROJECT["dependencies"], "sniffio>=1.3"]}
    installed = {**fresh_install(), "sniffio": "1.3.1"}
    report = compare(project, installed, requires_of(installed), as_metadata(project))
    assert report.fresh


def test_declared_after_the_last_install_is_stale_and_missing() -> None:
    project = {**PROJECT, "dependencies": [*PROJECT["dependencies"], "sniffio>=1.3"]}
    installed = fresh_install()
    report = compare(project, installed, requires_of(installed), as_metadata(PROJECT))
    assert report.stale and report.missing == ["sniffio"]
    assert "make install" in report.lines()[0]


def test_a_version_the_declaration_excludes_is_reported() -> None:
    installed = {**fresh_install(), "httpcore": "0.18.0"}
    report = compare(PROJECT, installed, requires_of(installed), as_metadata(PROJECT))
    assert report.unsatisfied == ["httpcore 0.18.0 (wants ==1.*)"]


def test_venv_tools_and_the_project_itself_are_not_extras() -> None:
    installed = fresh_install()
    report = compare(PROJECT, installed, requires_of(installed), as_metadata(PROJECT))
    assert not report.undeclared
    assert "pip" in installed and "modeldesk" in installed


def test_metadata_spelling_of_requirements_compares_equal() -> None:
    # An install's Requires-Dist writes specifiers in its own order; only a real change is stale.
    project = {"dependencies": ["PySide6-Essentials>=6.7,!=6.12.0"], "optional-dependencies": {}}
    installed = {"pyside6-essentials": "6.10.1"}
    assert not compare(project, installed, lambda _n: [], ["PySide6-Essentials!=6.12.0,>=6.7"]).stale
    assert compare(project, installed, lambda _n: [], ["PySide6-Essentials>=6.7"]).stale


def test_imported_undeclared_names_what_the_run_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _env.md,
        "packages_distributions",
        lambda: {"sniffio": ["sniffio"], "toml": ["toml"], "httpx": ["httpx"]},
    )
    report = EnvReport(undeclared=["sniffio 1.3.1", "toml 0.10.2"])
    assert imported_undeclared(report, ["httpx", "sniffio._impl", "json"]) == ["sniffio"]


def test_benchmarks_refuse_to_run_unless_told(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(_env.atexit, "register", registered.append)
    monkeypatch.delenv(_env.ANY_ENV_VAR, raising=False)
    monkeypatch.setattr(_env, "check_environment", lambda: EnvReport(undeclared=["sniffio 1.3.1"]))
    with pytest.raises(SystemExit) as exit_info:
        _env.require_fresh(["bench_gui.py"])
    assert exit_info.value.code == 2
    assert "Refusing to benchmark" in capsys.readouterr().err

    _env.require_fresh(["bench_gui.py", "--any-env"])
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("WARNING: NOT A FRESH ENVIRONMENT") and "sniffio 1.3.1" in out
    assert len(registered) == 1  # the warning is repeated at the end of the output

    monkeypatch.setattr(_env, "check_environment", lambda: EnvReport())
    _env.require_fresh(["bench_gui.py"])  # a fresh environment: silent
    assert capsys.readouterr() == ("", "")


def test_sniffio_is_declared_and_installed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(r.split(">")[0].split("=")[0].strip() == "sniffio" for r in project["dependencies"])
    assert importlib.util.find_spec("sniffio") is not None
