"""The system libraries Qt's window plugins need, found by asking the dynamic linker, not by a list.

PySide6's wheels bundle Qt but not the X11 libraries its ``xcb`` plugin links against; on a bare
Debian/Ubuntu some are missing (``libxcb-icccm4``, ``libxcb-keysyms1`` …) and Qt aborts the process
("could not load the Qt platform plugin xcb"). ``ldd`` on the plugin and the Qt modules the window
imports names every library that is ``not found``; each is mapped to the Debian package that ships it.

``python -m desktop_app.gui.system_libs --install`` (what ``make run`` calls) installs them with apt
when it runs as root on a system with apt; otherwise it prints the exact command to run and exits 1.
``probe()`` is the window's cheap check before Qt loads the plugin: one ``dlopen`` of it.

No Qt is imported here: this module must work exactly when Qt cannot.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Plan",
    "check",
    "main",
    "missing_from_ldd",
    "package_for",
    "plan",
    "probe",
    "pyside_dir",
    "targets",
    "uses_xcb",
]

# The PySide6 modules the window imports (their Qt libraries come with them through ldd).
_WINDOW_MODULES = ("QtCore", "QtGui", "QtWidgets", "QtSvg")

# Sonames whose Debian package does not follow the naming rule in ``package_for``.
_PACKAGE_EXCEPTIONS: dict[str, str] = {
    "libGLdispatch.so.0": "libglvnd0",
    "libz.so.1": "zlib1g",
    "libharfbuzz.so.0": "libharfbuzz0b",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
}
_PACKAGE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^lib(glib|gthread|gobject|gio|gmodule)-2\.0\.so\.0$"), "libglib2.0-0"),
    (re.compile(r"^libbrotli(common|dec|enc)\.so\.1$"), "libbrotli1"),
    (re.compile(r"^libicu[a-z]+\.so\.(\d+)$"), r"libicu\1"),
)

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")
_SONAME = re.compile(r"^(lib[^/\s]+?)\.so\.([0-9][0-9.]*)$")


def missing_from_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` reported as ``not found``, in first-seen order, without repeats."""
    seen: dict[str, None] = {}
    for line in output.splitlines():
        m = _NOT_FOUND.match(line)
        if m:
            seen.setdefault(m.group(1))
    return list(seen)


def package_for(soname: str) -> str | None:
    """The Debian/Ubuntu package that ships ``soname``, by Debian's library-package naming rule:
    the lower-cased name, ``_`` as ``-``, then the soname version, with a ``-`` between when the name
    ends in a digit (``libxcb-icccm.so.4`` → ``libxcb-icccm4``, ``libX11.so.6`` → ``libx11-6``).
    None when the soname does not look like a library's."""
    if soname in _PACKAGE_EXCEPTIONS:
        return _PACKAGE_EXCEPTIONS[soname]
    for pattern, replacement in _PACKAGE_PATTERNS:
        if pattern.match(soname):
            return pattern.sub(replacement, soname)
    m = _SONAME.match(soname)
    if not m:
        return None
    name, version = m.group(1).lower().replace("_", "-"), m.group(2).split(".")[0]
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def uses_xcb(env: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether Qt will pick its X11 (xcb) plugin here: Linux, and no other platform asked for."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return False
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(";")[0].split(":")[0] == "xcb"
    # Qt 6 prefers Wayland in a Wayland session and falls back to xcb only when that fails.
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def pyside_dir() -> Path | None:
    """Where PySide6 is installed, found without importing it (importing it is what may fail)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def targets(pyside: Path) -> list[Path]:
    """The files whose dependencies must all resolve for the window to open on X11."""
    plugins = pyside / "Qt" / "plugins"
    files = [plugins / "platforms" / "libqxcb.so"]
    files += sorted((plugins / "xcbglintegrations").glob("*.so"))
    for module in _WINDOW_MODULES:
        files += sorted(pyside.glob(f"{module}.*.so"))
    return [f for f in files if f.exists()]


Runner = Callable[[Sequence[str]], str]


def _run_ldd(argv: Sequence[str]) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def check(files: Iterable[Path], ldd: Runner = _run_ldd) -> list[str]:
    """The sonames that the files need and the dynamic linker cannot find."""
    paths = [str(f) for f in files]
    if not paths:
        return []
    return missing_from_ldd(ldd(["ldd", *paths]))


@dataclass(frozen=True)
class Plan:
    """What to do about missing libraries. ``action``: ``none`` (all present), ``install`` (run
    ``command`` now), ``tell`` (print ``message``: we cannot install them ourselves)."""

    action: str
    packages: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # sonames with no package we could name
    command: list[str] = field(default_factory=list)
    message: str = ""


def plan(missing: Sequence[str], *, is_root: bool, has_apt: bool) -> Plan:
    """Decide from the missing sonames and what this process may do. Pure: tested without apt."""
    if not missing:
        return Plan("none")
    packages = list(dict.fromkeys(p for s in missing if (p := package_for(s)) is not None))
    unknown = [s for s in missing if package_for(s) is None]
    head = f"Qt's window plugin (xcb) cannot load: this system lacks {', '.join(missing)}."
    if not has_apt:
        named = f" (on Debian/Ubuntu: {' '.join(packages)})" if packages else ""
        return Plan(
            "tell",
            packages,
            unknown,
            message=f"{head}\nInstall the packages that provide them with your system's package manager"
            f"{named}, then start ModelDesk again.",
        )
    command = ["apt-get", "install", "-y", *packages] if packages else []
    sudo = "" if is_root else "sudo "
    lines = [head]
    if command:
        lines.append(f"Install them with:\n  {sudo}apt-get update && {sudo}{' '.join(command)}")
    if unknown:
        lines.append(f"Find the package that ships {', '.join(unknown)} with `apt-file search NAME`.")
    action = "install" if is_root and command else "tell"
    return Plan(action, packages, unknown, command=command, message="\n".join(lines))


def probe(plugin: Path | None = None) -> str | None:
    """None when Qt's xcb plugin loads; else the loader's complaint (``libxcb-icccm.so.4: cannot open
    shared object file``). One ``dlopen``: it loads what Qt would load next anyway, in a millisecond or
    two, and costs nothing when the libraries are there."""
    if plugin is None:
        pyside = pyside_dir()
        if pyside is None:
            return None
        plugin = pyside / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as exc:
        return str(exc)
    return None


def advice() -> str:
    """What to tell a user whose window cannot open for want of libraries (the full ``ldd`` check).
    The window itself never installs system packages: it says how."""
    pyside = pyside_dir()
    missing = check(targets(pyside)) if pyside is not None and shutil.which("ldd") else []
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return plan(missing, is_root=is_root, has_apt=shutil.which("apt-get") is not None).message


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m desktop_app.gui.system_libs",
        description="Check (and with --install, install) the system libraries Qt's window plugin needs.",
    )
    parser.add_argument("--install", action="store_true", help="install what is missing when root with apt")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        return 0  # the macOS and Windows wheels bring everything Qt needs
    pyside = pyside_dir()
    if pyside is None:
        print("PySide6 is not installed in this environment; run `make install` first.", file=sys.stderr)
        return 1
    if shutil.which("ldd") is None:
        print("note: no `ldd` here, so Qt's system libraries were not checked.", file=sys.stderr)
        return 0
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    has_apt = shutil.which("apt-get") is not None
    files = targets(pyside)
    updated = False
    for _ in range(3):  # a library found missing may itself need others, seen only once it is there
        p = plan(check(files), is_root=is_root, has_apt=has_apt)
        if p.action == "none":
            return 0
        if p.action == "tell" or not args.install:
            print(p.message, file=sys.stderr)
            # Only fatal where Qt will load the xcb plugin (an offscreen or Wayland run does not).
            return 1 if uses_xcb() else 0
        print(f"Installing what Qt's window plugin needs: {' '.join(p.packages)}", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if not updated:
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
            updated = True
        if subprocess.run([*p.command[:3], "-qq", *p.command[3:]], check=False, env=env).returncode != 0:
            print(f"error: `{' '.join(p.command)}` failed (see above).", file=sys.stderr)
            return 1
    p = plan(check(files), is_root=is_root, has_apt=has_apt)
    if p.action != "none":
        print(p.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
