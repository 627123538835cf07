"""The share app's start-up and memory (issue 12).

(a) Time from starting `modeldesk share` to its page answering (GET / → 200), against a bare
    ``gr.Blocks()`` app started the same way (a subprocess of the same interpreter, same environment,
    same polling) in the same run, alternating, median of RUNS. Target: ≤ 1.2× the bare app
    (seed: "Gradio app startup < 10 s").
(b) Resident memory of the share process with 10,000 models in the registry, every one offered
    (``--allow-remote``): once the page answers, and after the Models list of all 10,000 has been
    served (the catalog loaded), with the bare app's for scale.

Run: .venv/bin/python bench/bench_share.py   (~1 minute)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fakes import ROOT, free_port
from bench.bench_gui import fill_registry

RUNS = 7
MODELS = 10_000

BARE = textwrap.dedent(
    """
    import sys, threading
    import gradio as gr
    with gr.Blocks() as demo:
        gr.Markdown("bare")
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), prevent_thread_lock=True,
                quiet=True, ssr_mode=False)
    threading.Event().wait()
    """
)


def time_to_page(cmd: list[str], env: dict[str, str], port: int) -> tuple[float, subprocess.Popen[bytes]]:
    """Seconds from Popen to GET / answering 200; the process is left running for the caller."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    with httpx.Client(trust_env=False, timeout=2) as http:
        while True:
            try:
                if http.get(url).status_code == 200:
                    return time.perf_counter() - started, proc
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[:4]} exited with {proc.returncode} before answering")
            if time.perf_counter() - started > 180:
                proc.kill()
                raise RuntimeError(f"{cmd[:4]} did not answer in 180 s")
            time.sleep(0.02)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def commands(port: int) -> tuple[list[str], list[str]]:
    share = [sys.executable, "-m", "desktop_app", "share", "--allow-remote", "--port", str(port)]
    bare = [sys.executable, "-c", BARE, str(port)]
    return share, bare


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill_registry(home, MODELS)
        # As installed: with the bytecode caches pip and earlier runs wrote (a fresh cache prefix would
        # make the first start compile all of gradio, over a minute on this machine).
        env = dict(os.environ, MODELDESK_HOME=str(home))
        env.update(GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="127.0.0.1,localhost")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # Warm the file and bytecode caches of both.
        for cmd in commands(free_port()):
            port = int(cmd[-1])
            _t, proc = time_to_page(cmd, env, port)
            stop(proc)
        ours, bare = [], []
        for _ in range(RUNS):
            port = free_port()
            share_cmd, bare_cmd = commands(port)
            t, proc = time_to_page(share_cmd, env, port)
            ours.append(t)
            stop(proc)
            t, proc = time_to_page(bare_cmd, env, port)
            bare.append(t)
            stop(proc)
        o, b = statistics.median(ours), statistics.median(bare)
        print(
            f"(a) start to page answering: share {o:.2f} s vs bare gr.Blocks {b:.2f} s: {o / b:.2f}× (target ≤ 1.2×)"
        )
        print(
            f"    runs: share {', '.join(f'{x:.2f}' for x in ours)}; bare {', '.join(f'{x:.2f}' for x in bare)}"
        )

        # (b) memory with 10,000 models, all offered.
        port = free_port()
        share_cmd, bare_cmd = commands(port)
        _t, proc = time_to_page(share_cmd, env, port)
        at_start = rss_mb(proc.pid)
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        started = time.perf_counter()
        table, _picker, summary = client.predict("all", "", [], "all", None, api_name="/models")
        listed = time.perf_counter() - started
        rows = len(table["value"]["data"])
        started = time.perf_counter()
        client.predict("all", "qwen", ["tools"], "all", None, api_name="/models")
        filtered = time.perf_counter() - started
        after = rss_mb(proc.pid)
        stop(proc)
        _t, proc = time_to_page(bare_cmd, env, port)
        bare_rss = rss_mb(proc.pid)
        stop(proc)
        print(
            f"(b) memory with {MODELS:,} models: {at_start[0]:.0f} MB when the page answers, "
            f"{after[0]:.0f} MB (peak {after[1]:.0f} MB) after listing all {rows:,} ({summary}); "
            f"bare gr.Blocks {bare_rss[0]:.0f} MB"
        )
        print(
            f"    Models list of all {rows:,} over the API: {listed * 1000:.0f} ms (first, reads the registry); "
            f"a search + capability filter: {filtered * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
