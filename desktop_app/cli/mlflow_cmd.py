"""`mlflow status|flush|ui`: where evaluations are logged, sending the runs that wait, MLflow's UI.

``mlflow _log RUN`` (not listed) is what the window runs in a child process to log a finished run
without importing mlflow itself; it sends the whole outbox.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from desktop_app.cli import EXIT_FAIL, EXIT_OK
from desktop_app.cli._common import context, print_json, warn
from desktop_app.services.context import AppContext

__all__ = ["print_flush", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mlflow",
        help="MLflow tracking: status, send waiting runs, open MLflow's UI",
        description="Evaluations are logged to MLflow: $MLFLOW_TRACKING_URI, else the URI in settings, "
        "else an embedded SQLite store in the data folder. Runs that could not be sent wait in an "
        "outbox and go with the next eval, sync or `mlflow flush`.",
    )
    msub = p.add_subparsers(dest="mlflow_command", metavar="ACTION", required=True)

    s = msub.add_parser("status", help="the tracking URI, whether it answers, how many runs wait")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_status)

    f = msub.add_parser("flush", help="send the runs waiting in the outbox and publish new variants")
    f.add_argument(
        "--all", action="store_true", help="queue every run in runs/ first (re-logs are idempotent)"
    )
    f.set_defaults(handler=cmd_flush)

    u = msub.add_parser("ui", help="start MLflow's UI on the embedded store (127.0.0.1); Ctrl-C stops it")
    u.add_argument("--port", type=int, default=5000)
    u.add_argument("--no-browser", action="store_true", help="do not open a browser")
    u.set_defaults(handler=cmd_ui)

    hidden = msub.add_parser("_log")  # no help=: not listed
    hidden.add_argument("run")
    hidden.set_defaults(handler=cmd_log)

    synced = msub.add_parser("_sync")  # the window's child: `sync`'s MLflow part
    synced.set_defaults(handler=cmd_sync)

    server = msub.add_parser("_server")  # the frozen bundle's `python -m mlflow server`
    server.add_argument("argv", nargs=argparse.REMAINDER)
    server.set_defaults(handler=cmd_server)


def cmd_status(args: argparse.Namespace) -> int:
    from desktop_app.services import tracking

    with context() as ctx:
        st = tracking.status(ctx)
        if args.json:
            print_json(
                {
                    "uri": st.uri,
                    "embedded": st.embedded,
                    "reachable": st.reachable,
                    "message": st.message,
                    "waiting": st.waiting,
                    "unpublished_variants": st.unpublished,
                    "disabled": tracking.disabled(),
                }
            )
        else:
            print(f"Tracking URI: {st.uri}")
            print(f"Reachable:    {'yes' if st.reachable else 'no'} ({st.message})")
            print(
                f"Waiting runs: {len(st.waiting)}" + (f" ({', '.join(st.waiting[:5])})" if st.waiting else "")
            )
            if st.unpublished:
                print(f"Variants not yet in MLflow: {len(st.unpublished)}")
            if tracking.disabled():
                print(f"MLflow logging is turned off (${tracking.NO_MLFLOW_ENV}).")
        return EXIT_OK if st.reachable else EXIT_FAIL


def print_flush(ctx: AppContext, report: Any) -> None:
    """What a flush did, on stderr (eval and sync print it too)."""
    for run_id, logged in report.logged.items():
        print(f"Logged run {run_id} to MLflow: {where(ctx, logged)}", file=sys.stderr)
    for run_id in report.dropped:
        warn(f"run {run_id} is no longer in runs/; dropped from the MLflow outbox.")
    for vid in report.published:
        print(f"Published {vid} to MLflow's Prompt Registry.", file=sys.stderr)
    if report.error is not None:
        n = len(report.waiting)
        waiting = (
            f" {n} run(s) wait in the outbox and go with the next eval, sync or `modeldesk mlflow flush`."
            if n
            else ""
        )
        warn(f"{report.error}{waiting}")
    for notice in ctx.notices:
        warn(notice)
    ctx.notices.clear()


def where(ctx: AppContext, logged: Any) -> str:
    from desktop_app.services import tracking

    if logged.url:
        return str(logged.url)
    tgt = tracking.target(ctx)
    store = tgt.uri.removeprefix("sqlite:///") if tgt.uri.startswith("sqlite:///") else tgt.uri
    return f"{store} (experiment {logged.experiment_id}, run {logged.parent_run_id}; open it with `modeldesk mlflow ui`)"


def cmd_flush(args: argparse.Namespace) -> int:
    from desktop_app.services import tracking
    from desktop_app.services.run_files import list_runs

    with context() as ctx:
        if args.all:
            for path in list_runs(ctx):
                tracking.queue_run(ctx, path.stem)
        report = tracking.flush(ctx)
        print_flush(ctx, report)
        if not report.logged and not report.published and report.error is None:
            print("Nothing waits to be sent to MLflow.")
        return EXIT_FAIL if report.error is not None else EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    """The child process's job: queue RUN (if not yet) and flush the outbox."""
    from desktop_app.services import tracking

    with context() as ctx:
        tracking.queue_run(ctx, args.run)
        report = tracking.flush(ctx)
        print_flush(ctx, report)
        return EXIT_FAIL if report.error is not None else EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    """The window's child after each sync: send what waits, publish variants, read the team's back."""
    sync_mlflow()
    return EXIT_OK


def cmd_server(args: argparse.Namespace) -> int:
    from desktop_app.adapters.mlflow_tracking import run_server

    argv = list(args.argv)
    return run_server(argv[1:] if argv[:1] == ["--"] else argv)


def cmd_ui(args: argparse.Namespace) -> int:
    from desktop_app.services import tracking

    with context() as ctx:
        tgt = tracking.target(ctx)
        if tgt.is_remote:
            print(f"Evaluations go to the tracking server {tgt.display}; open it in a browser.")
            return EXIT_OK
        notice = tracking.check_embedded(ctx, tgt)
        if notice:
            warn(notice)
        artifacts = ctx.home / "mlartifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            tgt.uri,
            "--default-artifact-root",
            artifacts.as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--workers",
            "1",
        ]
        if getattr(sys, "frozen", False):
            # "--": argparse would take mlflow's own options for ours and refuse them.
            command = tracking.child_command("mlflow", "_server", "--", *command[4:])
    # No job workers: the UI only browses; they slow the start and outlive the server for seconds.
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    url = f"http://127.0.0.1:{args.port}"
    log_path = ctx.home / "logs" / "mlflow-ui.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Ctrl-C (and a plain `kill`) stop the server and everything it started, even when this process
    # was started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    ready = False
    try:
        ready = _wait_ready(url, proc)
        if ready:
            print(f"MLflow UI: {url}  (Ctrl-C stops it; its log: {log_path})", flush=True)
            if not args.no_browser:
                _open_browser(url)
        else:
            warn(f"MLflow's UI did not start; see {log_path}")
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_group(proc)
    print("Stopped the MLflow UI.", file=sys.stderr)
    return EXIT_OK if ready else EXIT_FAIL


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1.0, trust_env=False).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return False


def _open_browser(url: str) -> None:
    import webbrowser

    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32"):
        with contextlib.suppress(Exception):  # no browser is fine: the URL is printed
            webbrowser.open(url)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process started with ``start_new_session=True`` and every child it left (its group)."""
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        proc.terminate()
        proc.wait()
        return
    if proc.poll() is None or _group_alive(proc.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
            time.sleep(0.1)
        if proc.poll() is None or _group_alive(proc.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def sync_mlflow(*, quiet: bool = False) -> None:
    """`sync`'s MLflow part: send the outbox, publish new variants, read the team's variants back.
    Skipped when MLflow is off, or when nothing was ever logged to the embedded store."""
    from desktop_app.core.errors import ModelDeskError
    from desktop_app.services import tracking

    if tracking.disabled():
        return
    with context() as ctx:
        if not tracking.worth_syncing(ctx):
            return
        report = tracking.flush(ctx)
        print_flush(ctx, report)
        if report.error is not None:
            return
        try:
            pulled = tracking.pull_variants(ctx)
        except ModelDeskError as exc:
            warn(f"could not read variants from MLflow: {exc}")
            return
        if quiet:
            return
        for mid in pulled.added:
            print(f"MLflow: new experimental model {mid}", file=sys.stderr)
        for mid in pulled.removed:
            print(f"MLflow: {mid} was deleted there; removed here", file=sys.stderr)
        for mid in pulled.unreachable_base:
            m = ctx.registry.find(mid)
            why = m.status_message if m is not None else ""
            print(f"MLflow: {mid} is listed but cannot run here. {why}", file=sys.stderr)


# ------------------------------------------------------------------ variants (called by `variant …`)
def publish_new(ctx: AppContext, made: list[Any]) -> None:
    """After `variant create/grid`: register the variants in MLflow's Prompt Registry now; when the
    tracking store cannot be reached they wait (sent by the next sync or `mlflow flush`)."""
    from desktop_app.core.errors import ModelDeskError
    from desktop_app.services import tracking

    if tracking.disabled() or not made:
        return
    fresh = [ctx.registry.find(v.id) or v for v in made]
    try:
        done = tracking.publish_variants(ctx, fresh)
    except ModelDeskError as exc:
        warn(
            f"{exc} The variant is saved here and goes to MLflow with the next sync or `modeldesk mlflow flush`."
        )
        return
    for vid in done:
        v = ctx.registry.find(vid)
        version = f" version {v.version}" if v is not None and v.version else ""
        print(f"Registered {vid} in MLflow's Prompt Registry{version}.", file=sys.stderr)


def show_versions(ctx: AppContext, v: Any) -> list[tuple[str, str]]:
    """`variant show` lines for a variant that is in MLflow: its prompt versions."""
    from desktop_app.core.errors import ModelDeskError
    from desktop_app.services import tracking

    if tracking.disabled() or not tracking.in_mlflow(v):
        return []
    try:
        prompt = tracking.variant_versions(ctx, v.name)
    except ModelDeskError as exc:
        warn(f"could not read its MLflow versions: {exc}")
        return []
    if prompt is None:
        return [("in MLflow", "no (not registered, or deleted there)")]
    listed = ", ".join(str(n) for n in prompt.versions)
    return [("MLflow prompt", f"{prompt.name}, versions {listed} (latest {prompt.version})")]


def delete_in_mlflow_too(ctx: AppContext, v: Any, choice: bool | None) -> None:
    """`variant rm`: also delete the variant's prompt in MLflow? ``choice`` from --mlflow/--keep-mlflow;
    None asks at a terminal (and keeps it when there is no terminal to ask at)."""
    from desktop_app.core.errors import ModelDeskError
    from desktop_app.services import tracking

    if tracking.disabled() or not tracking.in_mlflow(v):
        return
    where_to = tracking.target(ctx).display
    if choice is None:
        if not sys.stdin.isatty():
            print(
                f"{v.name} stays in MLflow ({where_to}); delete it there with "
                f"`modeldesk variant rm {v.id} --mlflow` next time.",
                file=sys.stderr,
            )
            return
        answer = input(f"Also delete {v.name} in MLflow ({where_to}), for everyone using it? [y/N] ")
        choice = answer.strip().lower() in ("y", "yes")
    if not choice:
        return
    try:
        if tracking.delete_in_mlflow(ctx, v.name):
            print(f"Deleted {v.name} from MLflow's Prompt Registry.", file=sys.stderr)
    except ModelDeskError as exc:
        warn(f"could not delete it in MLflow: {exc}")
