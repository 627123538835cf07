"""Scale benchmarks (issue 17): 1,000, 10,000 and 100,000 models, each figure beside its floor.

Per size, against one Ollama host listing that many models (capabilities in ``/api/tags``, as servers
from v0.30 send them; the listing is the fake Ollama's own reply, recorded once and served by a bare
HTTP server so the fake's per-request cost does not count):

- sync: ``modeldesk sync`` as a whole process, into a fresh registry: wall time and peak RSS, against a
  floor script that GETs the same listing with httpx, ``json.loads`` it and inserts one row per model
  into SQLite. Targets at 100k: < 3 s, < 300 MB.
- second sync: the same again, nothing changed: time, and whether any model row was written (target: none).
- ``list --json``: whole process, output to /dev/null: time and peak RSS, against a bare sqlite3 script
  writing the same rows. Target at 100k: < 0.4 s, memory flat across sizes.
- window: process start to window shown (``gui --exit-after-shown``), peak RSS, and the time from the
  window closing to the process having exited; against a bare PySide6 script showing a QTreeView.
  Targets: shown < 1 s at 100k, exit < 0.3 s.
- filter: one keystroke in the search box over the whole registry, key press to repainted tree
  (median and p99), with every category closed as the window opens, and again with the biggest
  category open. Target: median < 16 ms, p99 < 50 ms.

Run: .venv/bin/python bench/bench_scale.py [--sizes 1000,10000,100000] [--any-env]   (offscreen)
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

from bench._env import require_fresh
from bench._fakes import ROOT, free_port, wait_up

RUNS = 3
SIZES = (1_000, 10_000, 100_000)

# A bare server for a recorded reply: /api/version and /api/tags from files.
STATIC_SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    tags = open(sys.argv[2], "rb").read()
    version = b'{"version": "0.30.0"}'
    class H(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            body = tags if self.path == "/api/tags" else version
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
)

SYNC_FLOOR = textwrap.dedent(
    """
    import json, sqlite3, sys, httpx
    body = httpx.get(sys.argv[1] + "/api/tags", timeout=60).content
    models = json.loads(body)["models"]
    db = sqlite3.connect(sys.argv[2])
    db.execute("CREATE TABLE models(id TEXT PRIMARY KEY, data TEXT NOT NULL)")
    with db:
        db.executemany("INSERT INTO models VALUES (?, ?)", [(m["name"], json.dumps(m)) for m in models])
    """
)

LIST_FLOOR = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1])
    w = sys.stdout.write
    w("[")
    for (data,) in db.execute("SELECT data FROM models ORDER BY id"):
        w(data); w(",")
    w("]")
    """
)

TREE_FLOOR = textwrap.dedent(
    """
    import sys
    import httpx, pydantic, qasync  # noqa: F401  (the same third-party imports as the window)
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QApplication, QTreeView
    app = QApplication(sys.argv[:1])
    model = QStandardItemModel()
    model.setHorizontalHeaderLabels(["Model", "Runs", "Source"])
    for i in range(10):
        model.appendRow([QStandardItem(f"category-{i}"), QStandardItem(""), QStandardItem("")])
    view = QTreeView(); view.setModel(model); view.resize(1000, 700); view.show()
    class First(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                print("shown", flush=True); QTimer.singleShot(0, app.quit)
            return False
    first = First(); view.viewport().installEventFilter(first)
    app.exec()
    """
)


LISTING = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from tests.fakes.ollama import FakeOllama, make_catalogue
    fake = FakeOllama(make_catalogue(int(sys.argv[1])))
    Path(sys.argv[2]).write_bytes(json.dumps({"models": [fake._tags_entry(m) for m in fake.listed()]}).encode())
    """
)


def listing(n: int, path: Path) -> None:
    """The fake Ollama's ``/api/tags`` reply for ``n`` models (the new generation), written to ``path``
    (in a child process, so that this one stays small)."""
    subprocess.run([sys.executable, "-c", LISTING, str(n), str(path)], cwd=ROOT, check=True)


def run(
    cmd: list[str], env: dict[str, str] | None = None, stdout: Any = subprocess.DEVNULL
) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a whole child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}): {err[-1500:]!r}")
    return elapsed, usage.ru_maxrss / 1024


def models_digest(db: Path) -> tuple[int, str]:
    conn = sqlite3.connect(db)
    h = hashlib.sha1()
    n = 0
    for model_id, data in conn.execute("SELECT id, data FROM models ORDER BY id"):
        h.update(model_id.encode())
        h.update(data.encode())
        n += 1
    conn.close()
    return n, h.hexdigest()


def make_home(home: Path, url: str) -> None:
    os.environ["MODELDESK_HOME"] = str(home)
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.services.context import AppContext

    ctx = AppContext.open()
    ctx.settings.sources = [SourceConfig(name="big", kind=SourceKind.OLLAMA, base_url=url)]
    ctx.save_settings()
    ctx.close()


def med(xs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(x[0] for x in xs), max(x[1] for x in xs)


WINDOW = textwrap.dedent(
    """
    import os, subprocess, sys, time
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "gui", "--exit-after-shown"], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    shown = time.perf_counter()
    _, status, usage = os.wait4(proc.pid, 0)
    exited = time.perf_counter()
    ok = line.startswith("shown") and os.waitstatus_to_exitcode(status) == 0
    print(shown - started, exited - shown, usage.ru_maxrss / 1024, int(ok))
    """
)


def window_shown(env: dict[str, str]) -> tuple[float, float, float]:
    """(start to shown, shown to exited, peak RSS MB) of ``gui --exit-after-shown``."""
    out = subprocess.run([sys.executable, "-c", WINDOW], env=env, cwd=ROOT, capture_output=True, text=True)
    shown, exited, rss, ok = out.stdout.split()
    if ok != "1":
        raise RuntimeError(f"the window did not show: {out.stderr[-1500:]}")
    return float(shown), float(exited), float(rss)


def tree_floor(env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", TREE_FLOOR], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(timeout=60)
    return elapsed


FILTER_QUERIES = ("llama", "qwen 8b", "embed", "synthetic-12", "vision", "mistral 7b", "deepseek-r1")


def bench_filter(home: str, open_biggest: bool = False) -> tuple[float, float, float, int]:
    """Each keystroke timed from the key event to the end of the tree's repaint (the window opened as
    the app opens it: from the registry's stored rows). ``open_biggest``: with the biggest category
    expanded first (Qt lays out an open category's rows on every change)."""
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.startup import read_startup

    app = QApplication(sys.argv[:1])
    window = QtMainWindow(startup=read_startup(Path(home)))
    window.resize(1400, 880)
    window.show()
    for _ in range(5):
        app.processEvents()
    window._load_rows_now()  # a big registry's rows, read right after the first paint in the app
    for _ in range(5):
        app.processEvents()
    if open_biggest:
        from desktop_app.gui.labels import CATEGORY_ORDER

        window._expand(max(CATEGORY_ORDER, key=window.tree_model.category_count))
        for _ in range(5):
            app.processEvents()

    class Painted(QObject):
        count = 0

        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    painted = Painted()
    window.tree.viewport().installEventFilter(painted)

    def settle(before: int) -> None:
        app.processEvents()  # the key, the filter, the posted repaint
        if painted.count == before:
            app.processEvents()

    times: list[float] = []
    for query in FILTER_QUERIES:
        for ch in query:
            before = painted.count
            started = time.perf_counter()
            QTest.keyClick(window.search, ch)
            settle(before)
            times.append(time.perf_counter() - started)
        before = painted.count
        started = time.perf_counter()
        QTest.keyClick(window.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClick(window.search, Qt.Key.Key_Backspace)  # clearing is a keystroke too
        settle(before)
        times.append(time.perf_counter() - started)
    n = window.tree_model.model_count()
    window.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], times[-1], n


def one_size(n: int, work: Path) -> None:
    body = work / f"tags-{n}.json"
    listing(n, body)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", STATIC_SERVER, str(port), str(body)], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up([url])
        py = sys.executable
        # ------------------------------------------------------------------ sync
        syncs, seconds, floors = [], [], []
        for i in range(RUNS):
            home = work / f"home-{n}-{i}"
            make_home(home, url)
            env = dict(os.environ, MODELDESK_HOME=str(home))
            syncs.append(run([py, "-m", "desktop_app", "sync"], env))
            before = models_digest(home / "registry.db")
            seconds.append(run([py, "-m", "desktop_app", "sync"], env))
            after = models_digest(home / "registry.db")
            if before != after or before[0] != n:
                raise RuntimeError(f"the second sync changed models ({before} -> {after})")
            floor_db = work / f"floor-{n}-{i}.db"
            floors.append(run([py, "-c", SYNC_FLOOR, url, str(floor_db)]))
            floor_db.unlink()
        (s_t, s_rss), (f_t, f_rss), (s2_t, s2_rss) = med(syncs), med(floors), med(seconds)
        print(
            f"{n:>7,} sync: {s_t:.2f} s, peak {s_rss:.0f} MB | floor (httpx + json.loads + SQLite insert) "
            f"{f_t:.2f} s, {f_rss:.0f} MB | {s_t / f_t:.2f}x",
            flush=True,
        )
        print(
            f"{n:>7,} second sync, nothing changed: {s2_t:.2f} s, peak {s2_rss:.0f} MB, 0 model rows written"
        )
        home = work / f"home-{n}-0"
        env = dict(os.environ, MODELDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
        # ------------------------------------------------------------------ list --json
        lists = [run([py, "-m", "desktop_app", "list", "--json"], env) for _ in range(RUNS)]
        lfloor = [run([py, "-c", LIST_FLOOR, str(home / "registry.db")]) for _ in range(RUNS)]
        (l_t, l_rss), (lf_t, lf_rss) = med(lists), med(lfloor)
        print(
            f"{n:>7,} list --json: {l_t:.2f} s, peak {l_rss:.0f} MB | floor (sqlite3 rows to stdout) "
            f"{lf_t:.2f} s, {lf_rss:.0f} MB",
            flush=True,
        )
        # ------------------------------------------------------------------ window
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        window_shown(env)  # warm the caches
        tree_floor(env)
        shown = [window_shown(env) for _ in range(RUNS)]
        bare = [tree_floor(env) for _ in range(RUNS)]
        w_t = statistics.median(s[0] for s in shown)
        w_exit = max(s[1] for s in shown)
        w_rss = max(s[2] for s in shown)
        b_t = statistics.median(bare)
        print(
            f"{n:>7,} window shown: {w_t:.2f} s, peak {w_rss:.0f} MB; exited {w_exit * 1000:.0f} ms after closing "
            f"| floor (bare PySide6 tree) {b_t:.2f} s | {w_t / b_t:.2f}x",
            flush=True,
        )
        # ------------------------------------------------------------------ filter
        for mode, what in (("--filter", ""), ("--filter-open", ", biggest category open")):
            out = subprocess.run(
                [py, __file__, mode, str(home)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-2000:])
            fmed, fp99, fmax, fn, frss = (float(x) for x in out.stdout.split())
            print(
                f"{n:>7,} filter keystroke over {fn:,.0f} models{what}: median {fmed * 1000:.1f} ms, "
                f"p99 {fp99 * 1000:.1f} ms, max {fmax * 1000:.1f} ms; window peak {frss:.0f} MB",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    if sys.argv[1:2] in (["--filter"], ["--filter-open"]):
        import resource

        result = bench_filter(sys.argv[2], open_biggest=sys.argv[1] == "--filter-open")
        print(*result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return 0
    require_fresh()
    sizes = SIZES
    if "--sizes" in sys.argv:
        sizes = tuple(int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(","))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        for n in sizes:
            one_size(n, Path(work))
    print(f"bench_scale took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
