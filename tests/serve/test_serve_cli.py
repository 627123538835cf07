"""`modeldesk serve` as the process users (and the window) run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai

from desktop_app.services.context import AppContext

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cli-token-" + "y" * 30


def _wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 30) -> re.Match[str]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(
        f"no line matching {pattern!r} in {seen!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


def test_serve_command_announces_its_url_and_requires_its_token_file(
    registry: AppContext, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "serve", "--port", "0", "--token-file", str(token_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_line(proc, r"ModelDesk serves \d+ models at (http://127\.0\.0\.1:\d+/v1)").group(1)
        _wait_line(proc, r"Remote models are not served")
        assert any(m.id == "exp/pirate" for m in openai.OpenAI(base_url=url, api_key=TOKEN).models.list())
        try:
            openai.OpenAI(base_url=url, api_key="guess", max_retries=0).models.list()
            raise AssertionError("a wrong token was accepted")
        except openai.AuthenticationError:
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert TOKEN not in (proc.stdout.read() if proc.stdout else "")  # a token from a file is never printed


def test_server_started_by_the_window_exits_when_the_window_dies(registry: AppContext) -> None:
    launcher = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-m', 'desktop_app', 'serve', '--port', '0', '--exit-with-parent'])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(_wait_line(parent, r"^(\d+)$").group(1))
        _wait_line(parent, r"ModelDesk serves")
        parent.kill()
        parent.wait(10)
        gone = _gone(child)
        if not gone:
            os.kill(child, signal.SIGKILL)
        assert gone, "the server outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
