"""`make install-desktop` / `uninstall-desktop` (packaging/linux/desktop-entry.sh): the menu entry and
icon go to the user's XDG data folder and start the given executable, even from a path with spaces."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "linux" / "desktop-entry.sh"


def script(*args: str, data: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_DATA_HOME=str(data), HOME=str(home), PATH="/usr/bin:/bin")
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_install_then_uninstall_in_xdg_data_home(tmp_path: Path) -> None:
    exe = tmp_path / "My Apps" / "modeldesk" / "modeldesk"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "data"
    proc = script("install", str(exe), data=data, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    entry = data / "applications" / "modeldesk.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(entry)
    desktop = parser["Desktop Entry"]
    assert shlex.split(desktop["Exec"]) == [str(exe), "gui"]
    assert desktop["Icon"] == "modeldesk" and desktop["Type"] == "Application"
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "modeldesk.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "modeldesk.svg").read_bytes()
    assert not (tmp_path / "home" / ".local").exists()  # XDG_DATA_HOME wins over ~/.local/share

    proc = script("uninstall", data=data, home=tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    assert not entry.exists() and not icon.exists()


def test_without_xdg_data_home_it_uses_local_share(tmp_path: Path) -> None:
    exe = tmp_path / "modeldesk"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    env = dict(os.environ, HOME=str(tmp_path), PATH="/usr/bin:/bin")
    env.pop("XDG_DATA_HOME", None)
    proc = subprocess.run(["bash", str(SCRIPT), "install", str(exe)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".local" / "share" / "applications" / "modeldesk.desktop").is_file()


def test_a_missing_executable_is_named_and_nothing_installed(tmp_path: Path) -> None:
    proc = script("install", str(tmp_path / "nope"), data=tmp_path / "data", home=tmp_path)
    assert proc.returncode == 2 and "is not an executable" in proc.stderr and "make package" in proc.stderr
    assert not (tmp_path / "data").exists()
