"""Benchmarks measure the environment a fresh ``make install`` gives, or they say they did not.

A figure measured with a package installed by hand is not a figure users get: the window's stall
figure once depended on ``sniffio`` (httpcore imports it for every lock it makes), which was on the
development machine but in no declared requirement, so a clean install lacked it. ``require_fresh()``,
called at the top of every benchmark, compares what is installed (``importlib.metadata``) with what
``pyproject.toml`` declares — the dependencies and the test extra, and everything they require in
turn — and refuses to run when they differ:

- *undeclared*: installed, but reachable from no declared requirement (pip/setuptools/wheel, the
  venv's own tools, excepted). It may be imported optionally, as sniffio was, and change the figures;
- *missing*: declared (or required by something declared) but not installed;
- *unsatisfied*: installed at a version the declaration excludes;
- *stale*: the installed ``modeldesk`` metadata declares other requirements than ``pyproject.toml``
  (the file changed since the last ``make install``).

``--any-env`` (or ``MODELDESK_BENCH_ANY_ENV=1``) runs anyway, with a warning at the top of the output
and, at the end, the undeclared packages the run actually imported.
"""

from __future__ import annotations

import atexit
import importlib.metadata as md
import os
import sys
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "EnvReport",
    "as_metadata",
    "check_environment",
    "closure",
    "compare",
    "declared_requirements",
    "imported_undeclared",
    "require_fresh",
]

ROOT = Path(__file__).resolve().parents[1]
DIST = "modeldesk"
EXTRAS = ("test",)
# What a venv and an editable install bring besides the project's requirements.
TOOLING = frozenset({"pip", "setuptools", "wheel"})
ANY_ENV_FLAG = "--any-env"
ANY_ENV_VAR = "MODELDESK_BENCH_ANY_ENV"


def declared_requirements(project: Mapping[str, Any], extras: Iterable[str] = EXTRAS) -> list[str]:
    """The requirements the ``[project]`` table declares: its dependencies and the given extras."""
    out = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        out += optional.get(extra, [])
    return out


def as_metadata(project: Mapping[str, Any]) -> list[str]:
    """The ``[project]`` table's requirements as an install's metadata spells them (Requires-Dist)."""
    out = list(project.get("dependencies", []))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out += [f'{r}; extra == "{extra}"' for r in reqs]
    return out


def _applies(req: Requirement, extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": e}) for e in ("", *extras))


def closure(roots: Iterable[str], requires_of: Callable[[str], list[str] | None]) -> dict[str, list[str]]:
    """Every distribution reachable from ``roots`` (requirement strings), following each installed
    distribution's own requirements (with the extras asked of it). ``requires_of(name)`` gives a
    distribution's Requires-Dist, or None when it is not installed. Returns canonical name → the
    specifiers it was required with."""
    found: dict[str, list[str]] = {}
    extras_done: dict[str, set[str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(r, frozenset()) for r in roots]
    while todo:
        text, parent_extras = todo.pop()
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if not _applies(req, parent_extras):
            continue
        name = canonicalize_name(req.name)
        found.setdefault(name, [])
        if str(req.specifier):
            found[name].append(str(req.specifier))
        wanted = set(req.extras)
        done = extras_done.get(name)
        if done is not None and wanted <= done:
            continue
        extras_done[name] = (done or set()) | wanted
        for child in requires_of(name) or []:
            todo.append((child, frozenset(extras_done[name])))
    return found


@dataclass
class EnvReport:
    undeclared: list[str] = field(default_factory=list)  # "name version"
    missing: list[str] = field(default_factory=list)
    unsatisfied: list[str] = field(default_factory=list)  # "name version (wants spec)"
    stale: bool = False

    @property
    def fresh(self) -> bool:
        return not (self.undeclared or self.missing or self.unsatisfied or self.stale)

    def lines(self) -> list[str]:
        out = []
        if self.stale:
            out.append(
                "the installed modeldesk declares other requirements than pyproject.toml: run `make install`"
            )
        if self.undeclared:
            out.append(
                "installed but not declared (directly or through a dependency): " + ", ".join(self.undeclared)
            )
        if self.missing:
            out.append("declared but not installed: " + ", ".join(self.missing))
        if self.unsatisfied:
            out.append("installed at a version the declaration excludes: " + ", ".join(self.unsatisfied))
        return out


def compare(
    project: Mapping[str, Any],
    installed: Mapping[str, str],
    requires_of: Callable[[str], list[str] | None],
    installed_declares: list[str] | None,
) -> EnvReport:
    """Compare an environment with ``pyproject.toml``'s ``[project]`` table. ``installed``: canonical
    name → version; ``requires_of(name)``: an installed distribution's Requires-Dist (None when absent);
    ``installed_declares``: the installed ``modeldesk``'s Requires-Dist (None if not installed)."""
    reachable = closure(declared_requirements(project), requires_of)
    report = EnvReport()
    expected = sorted(map(_norm, as_metadata(project)))
    report.stale = installed_declares is None or sorted(map(_norm, installed_declares)) != expected
    for name in sorted(set(installed) - set(reachable) - TOOLING - {canonicalize_name(DIST)}):
        report.undeclared.append(f"{name} {installed[name]}")
    for name, specs in sorted(reachable.items()):
        if name not in installed:
            report.missing.append(name)
            continue
        try:
            version = Version(installed[name])
        except InvalidVersion:
            continue
        for spec in specs:
            if not Requirement(f"{name}{spec}").specifier.contains(version, prereleases=True):
                report.unsatisfied.append(f"{name} {version} (wants {spec})")
    return report


def _norm(text: str) -> str:
    try:
        return str(Requirement(text))
    except InvalidRequirement:
        return text


def _installed() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(canonicalize_name(name), dist.version)
    return out


def _requires_of(name: str) -> list[str] | None:
    try:
        return md.requires(name) or []
    except md.PackageNotFoundError:
        return None


def check_environment() -> EnvReport:
    """This interpreter's environment against this checkout's ``pyproject.toml``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return compare(project, _installed(), _requires_of, _requires_of(DIST))


def imported_undeclared(report: EnvReport, modules: Iterable[str] | None = None) -> list[str]:
    """The undeclared distributions whose top-level modules are imported (now, in this process)."""
    undeclared = {line.split(" ")[0] for line in report.undeclared}
    owners = md.packages_distributions()
    tops = {m.split(".")[0] for m in (sys.modules if modules is None else modules)}
    hit = {canonicalize_name(d) for top in tops for d in owners.get(top, [])}
    return sorted(hit & undeclared)


def require_fresh(argv: list[str] | None = None) -> None:
    """Call first in a benchmark: exits with status 2 when the environment is not what a fresh
    ``make install`` gives, unless ``--any-env`` / ``$MODELDESK_BENCH_ANY_ENV`` says run anyway (then
    the output starts and ends with a warning)."""
    args = sys.argv if argv is None else argv
    anyway = ANY_ENV_FLAG in args or os.environ.get(ANY_ENV_VAR, "") not in ("", "0")
    if ANY_ENV_FLAG in args and argv is None:
        sys.argv.remove(ANY_ENV_FLAG)
    report = check_environment()
    if report.fresh:
        return
    lines = "\n".join(f"  - {line}" for line in report.lines())
    if not anyway:
        print(
            "Refusing to benchmark: this environment is not what a fresh `make install` gives, so its "
            f"figures would not be users' figures.\n{lines}\n"
            "Recreate it (`make clean install`), or pass --any-env to measure anyway (figures marked).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    banner = "!" * 100
    print(f"{banner}\nWARNING: NOT A FRESH ENVIRONMENT; these figures are not comparable:\n{lines}\n{banner}")

    def at_exit() -> None:
        used = imported_undeclared(report)
        note = f"undeclared packages this run imported: {', '.join(used)}" if used else "none was imported"
        print(f"{banner}\nWARNING: measured in a non-fresh environment ({note}).\n{banner}")

    atexit.register(at_exit)
