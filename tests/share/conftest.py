"""`modeldesk share` as a real subprocess against the fake servers, shared by the tests of a session.

One data folder holds a local Ollama source (the fake) and a remote OpenAI-compatible source (the
fake, with a key stored through the real ``keyring`` API in the child's keyring). Two app processes
serve it: ``local_app`` as a plain ``modeldesk share``, ``public_app`` with ``--public --allow-remote
--password-file``; without internet the share link cannot be made, so the public app exercises the
login exactly as it would behind a link. Every line the processes print is kept for the tests to read.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer, new_test_key

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
CHROMIUM = os.environ.get("MODELDESK_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class ShareWorld:
    home: Path
    env: dict[str, str]
    key: str
    ollama: FakeOllama
    remote: FakeOpenAIServer
    password_file: Path

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "desktop_app", *args],
            env=self.env,
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@dataclass
class ShareApp:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    stderr_path: Path | None = None
    reader: threading.Thread | None = None

    def value(self, prefix: str) -> str | None:
        return next((ln[len(prefix) :] for ln in self.lines if ln.startswith(prefix)), None)

    @property
    def url(self) -> str:
        url = self.value("Local URL: ")
        assert url, self.lines
        return url

    @property
    def password(self) -> str | None:
        login = self.value("Login: ")
        return login.split(" / ", 1)[1] if login else None

    def output(self) -> str:
        if self.proc.poll() is not None and self.reader is not None:
            self.reader.join(timeout=10)  # every line the process printed before it ended
        err = self.stderr_path.read_text(encoding="utf-8") if self.stderr_path else ""
        return "\n".join(self.lines) + "\n" + err

    def stop(self) -> int:
        """SIGTERM to the process group, as the window does; the exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode


def start_share(world: ShareWorld, *args: str, name: str) -> ShareApp:
    err = world.home.parent / f"{name}.stderr"
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "share", *args],
        env=world.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
        start_new_session=True,
    )
    app = ShareApp(proc, stderr_path=err)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            app.stop()
            pytest.fail(f"modeldesk share did not start in {START_TIMEOUT:.0f} s:\n{app.output()}")
        if line is None:
            pytest.fail(f"modeldesk share exited ({proc.wait()}):\n{app.output()}")
        app.lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break

    def keep_reading() -> None:
        while (line := lines.get()) is not None:
            app.lines.append(line)

    app.reader = threading.Thread(target=keep_reading, daemon=True)
    app.reader.start()
    return app


@pytest.fixture(scope="session")
def share_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShareWorld]:
    base = tmp_path_factory.mktemp("share")
    home = base / "home"
    key = new_test_key("sk-share-secret")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "GITHUB_TOKEN")
    }
    env.update(
        MODELDESK_HOME=str(home),
        PYTHON_KEYRING_BACKEND="tests.share.file_keyring.FileKeyring",
        MODELDESK_TEST_KEYRING=str(base / "keyring.json"),
        PYTHONPATH=str(ROOT),
        NO_PROXY="127.0.0.1,localhost",
        GRADIO_ANALYTICS_ENABLED="False",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        HF_HOME=str(base / "hf"),  # gradio's frpc binary would go here: it is never there, as offline
    )
    password_file = base / "password.txt"
    password_file.write_text("correct-horse-battery\n", encoding="utf-8")
    with FakeOllama() as ollama, FakeOpenAIServer(api_key=key) as remote:
        world = ShareWorld(home, env, key, ollama, remote, password_file)
        for args, stdin in (
            (("source", "rm", "ollama"), None),
            (("source", "add", "ollama", "ollama", ollama.url), None),
            (("source", "add", "openai", "work", remote.url), None),
            (("key", "set", "work"), key + "\n"),
            (("sync",), None),
        ):
            done = world.cli(*args, stdin=stdin)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            assert key not in done.stdout + done.stderr
        yield world


@pytest.fixture(scope="session")
def local_app(share_world: ShareWorld) -> Iterator[ShareApp]:
    app = start_share(share_world, name="local")
    yield app
    app.stop()


@pytest.fixture(scope="session")
def public_app(share_world: ShareWorld) -> Iterator[ShareApp]:
    app = start_share(
        share_world,
        "--public",
        "--allow-remote",
        "--password-file",
        str(share_world.password_file),
        name="public",
    )
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's headless Chromium through Playwright's ``executable_path`` (nothing downloaded)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` (make test does it as root)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()
