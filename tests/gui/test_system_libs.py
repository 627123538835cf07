"""Qt's system libraries: what ``ldd`` says is missing, which Debian package ships it, and what
``make run`` / the window do about it (install as root with apt, else print the exact command).

apt itself is never run: the decisions are tested on ``ldd`` output captured on a bare Debian 12.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from desktop_app.gui import system_libs
from desktop_app.gui.system_libs import check, missing_from_ldd, package_for, plan, uses_xcb

# `ldd libqxcb.so libqxcb-glx-integration.so` on Debian 12 with PySide6 6.10 and libxcb-cursor0
# installed (trimmed): ldd repeats a missing library once per file that needs it.
LDD_BARE_DEBIAN = """\
.venv/lib/python3.11/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so:
\tlinux-vdso.so.1 (0x00007ffd0a5e4000)
\tlibQt6XcbQpa.so.6 => /w/.venv/lib/python3.11/site-packages/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f0c)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f0c3a5c7000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f0c3a5c0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c3b9d8000)
.venv/lib/python3.11/site-packages/PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so:
\tlinux-vdso.so.1 (0x00007ffe3f9f1000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
"""


def test_ldd_output_gives_each_missing_library_once_in_order() -> None:
    assert missing_from_ldd(LDD_BARE_DEBIAN) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libxkbcommon-x11.so.0",
    ]


def test_nothing_missing_when_everything_resolves() -> None:
    text = "\n".join(line for line in LDD_BARE_DEBIAN.splitlines() if "not found" not in line)
    assert missing_from_ldd(text) == []
    assert missing_from_ldd("\tnot a dynamic executable\n") == []


@pytest.mark.parametrize(
    ("soname", "package"),
    [  # checked with `dpkg -S` on Debian 12 (bookworm)
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxcb-render-util.so.0", "libxcb-render-util0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libX11-xcb.so.1", "libx11-xcb1"),
        ("libX11.so.6", "libx11-6"),
        ("libEGL.so.1", "libegl1"),
        ("libGL.so.1", "libgl1"),
        ("libGLX.so.0", "libglx0"),
        ("libGLdispatch.so.0", "libglvnd0"),
        ("libfontconfig.so.1", "libfontconfig1"),
        ("libpng16.so.16", "libpng16-16"),
        ("libpcre2-8.so.0", "libpcre2-8-0"),
        ("liblz4.so.1", "liblz4-1"),
        ("libgcc_s.so.1", "libgcc-s1"),
        ("libglib-2.0.so.0", "libglib2.0-0"),
        ("libgthread-2.0.so.0", "libglib2.0-0"),
        ("libbrotlidec.so.1", "libbrotli1"),
        ("libz.so.1", "zlib1g"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libwayland-cursor.so.0", "libwayland-cursor0"),
        ("libicuuc.so.72", "libicu72"),
    ],
)
def test_debian_package_for_each_library(soname: str, package: str) -> None:
    assert package_for(soname) == package


def test_nothing_to_do_when_nothing_is_missing() -> None:
    assert plan([], is_root=True, has_apt=True).action == "none"


def test_root_with_apt_installs_every_missing_package() -> None:
    p = plan(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"], is_root=True, has_apt=True)
    assert p.action == "install"
    assert p.command == ["apt-get", "install", "-y", "libxcb-icccm4", "libxcb-keysyms1"]


def test_without_root_the_exact_sudo_command_is_printed() -> None:
    p = plan(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"], is_root=False, has_apt=True)
    assert p.action == "tell"
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in p.message
    assert (
        "sudo apt-get update && sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1"
        in p.message.splitlines()[-1]
    )


def test_without_apt_the_libraries_and_debian_names_are_printed() -> None:
    p = plan(["libxcb-icccm.so.4"], is_root=True, has_apt=False)
    assert p.action == "tell" and not p.command
    assert "libxcb-icccm.so.4" in p.message and "package manager" in p.message
    assert "libxcb-icccm4" in p.message


def test_a_library_with_no_package_name_is_named_not_guessed() -> None:
    p = plan(["weird-thing"], is_root=True, has_apt=True)
    assert p.action == "tell" and p.unknown == ["weird-thing"] and p.command == []
    assert "apt-file search" in p.message


def test_check_asks_ldd_about_every_target_at_once(tmp_path: Path) -> None:
    calls: list[Sequence[str]] = []

    def fake_ldd(argv: Sequence[str]) -> str:
        calls.append(argv)
        return LDD_BARE_DEBIAN

    files = [tmp_path / "libqxcb.so", tmp_path / "QtGui.abi3.so"]
    assert check(files, fake_ldd) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"]
    assert calls == [["ldd", *map(str, files)]]
    assert check([], fake_ldd) == [] and len(calls) == 1


def test_targets_are_the_xcb_plugin_its_gl_integrations_and_the_window_modules(tmp_path: Path) -> None:
    for rel in (
        "Qt/plugins/platforms/libqxcb.so",
        "Qt/plugins/platforms/libqoffscreen.so",
        "Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
        "QtWidgets.abi3.so",
        "QtWebEngineCore.abi3.so",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).touch()
    names = [p.name for p in system_libs.targets(tmp_path)]
    assert names == ["libqxcb.so", "libqxcb-glx-integration.so", "QtWidgets.abi3.so"]


@pytest.mark.parametrize(
    ("env", "xcb"),
    [
        ({"DISPLAY": ":0"}, True),
        ({"QT_QPA_PLATFORM": "offscreen"}, False),
        ({"QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, True),
    ],
)
def test_which_sessions_load_the_xcb_plugin(
    env: dict[str, str], xcb: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(system_libs.sys, "platform", "linux")
    assert uses_xcb(env) is xcb


class _Apt:
    """Stands in for subprocess.run: records the apt commands; ``check`` reports what is still missing."""

    def __init__(self, missing_rounds: list[list[str]]) -> None:
        self.rounds = missing_rounds
        self.commands: list[list[str]] = []

    def check(self, _files: Any) -> list[str]:
        return self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]

    def run(self, argv: list[str], **_kw: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(argv)
        return subprocess.CompletedProcess(argv, 0)


def _as(monkeypatch: pytest.MonkeyPatch, apt: _Apt, *, root: bool, has_apt: bool = True) -> None:
    monkeypatch.setattr(system_libs.sys, "platform", "linux")
    monkeypatch.setattr(system_libs, "check", apt.check)
    monkeypatch.setattr(system_libs.subprocess, "run", apt.run)
    monkeypatch.setattr(system_libs.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(
        system_libs.shutil,
        "which",
        lambda name: None if name == "apt-get" and not has_apt else f"/bin/{name}",
    )
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)


def test_make_run_as_root_installs_then_installs_what_appears_next(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # libxkbcommon-x11 is only seen once the libraries that were missing before it are there.
    apt = _Apt([["libxcb-icccm.so.4", "libxcb-keysyms.so.1"], ["libxkbcommon-x11.so.0"], []])
    _as(monkeypatch, apt, root=True)
    assert system_libs.main(["--install"]) == 0
    assert apt.commands == [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "libxcb-icccm4", "libxcb-keysyms1"],
        ["apt-get", "install", "-y", "-qq", "libxkbcommon-x11-0"],
    ]
    assert "libxcb-icccm4 libxcb-keysyms1" in capsys.readouterr().err


def test_make_run_without_root_prints_the_command_and_stops(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    apt = _Apt([["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]])
    _as(monkeypatch, apt, root=False)
    assert system_libs.main(["--install"]) == 1
    assert apt.commands == []
    err = capsys.readouterr().err
    assert "sudo apt-get update && sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in err


def test_nothing_printed_and_nothing_run_when_all_is_there(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    apt = _Apt([[]])
    _as(monkeypatch, apt, root=True)
    assert system_libs.main(["--install"]) == 0
    assert apt.commands == [] and capsys.readouterr().err == ""


def test_the_window_says_what_to_install_instead_of_letting_qt_abort(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import desktop_app.gui.app as gui_app
    from desktop_app.cli import main

    apt = _Apt([["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]])
    _as(monkeypatch, apt, root=False)
    monkeypatch.setattr(
        system_libs, "probe", lambda: "libxcb-icccm.so.4: cannot open shared object file: No such file"
    )
    monkeypatch.setattr(
        system_libs, "advice", lambda: plan(apt.check(None), is_root=False, has_apt=True).message
    )
    monkeypatch.setattr(gui_app, "run", lambda *a, **k: pytest.fail("Qt must not be started"))
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in err
    assert apt.commands == []  # the window never installs system packages


def test_probe_reports_a_library_that_cannot_load(tmp_path: Path) -> None:
    broken = tmp_path / "libqxcb.so"
    broken.write_bytes(b"not an ELF file")
    assert system_libs.probe(broken) is not None
    assert system_libs.probe(tmp_path / "absent.so") is None
