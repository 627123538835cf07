"""The `modeldesk` command (argparse, no Qt import at module level).

Each command group lives in its own module with a ``register(subparsers)`` function; handlers take
the parsed namespace and return an exit code: 0 ok, 1 a source failed, 2 bad usage or input.
Errors the user can fix are printed as one plain message with what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from desktop_app import __version__
from desktop_app.core.errors import InvalidInput, ModelDeskError, RegistryError, SettingsError

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

# Command-group modules, in help order. Each defines register(subparsers).
COMMAND_MODULES = (
    "desktop_app.cli.models_cmd",
    "desktop_app.cli.sources_cmd",
    "desktop_app.cli.chat_cmd",
    "desktop_app.cli.chats_cmd",
    "desktop_app.cli.tools_cmd",
    "desktop_app.cli.keys_cmd",
    "desktop_app.cli.variants_cmd",
    "desktop_app.cli.eval_cmd",
    "desktop_app.cli.mlflow_cmd",
    "desktop_app.cli.serve_cmd",
    "desktop_app.cli.share_cmd",
    "desktop_app.cli.pools_cmd",
    "desktop_app.cli.gui_cmd",
)

# Which module owns each top-level command, so a run imports only that one (start-up time matters:
# `modeldesk list --json` should not build every service's pydantic models).
COMMAND_OWNERS = {
    **dict.fromkeys(("sync", "list", "show", "pull", "rm", "ps", "doctor"), "desktop_app.cli.models_cmd"),
    "source": "desktop_app.cli.sources_cmd",
    "chat": "desktop_app.cli.chat_cmd",
    "embed": "desktop_app.cli.chat_cmd",
    "chats": "desktop_app.cli.chats_cmd",
    "key": "desktop_app.cli.keys_cmd",
    "tools": "desktop_app.cli.tools_cmd",
    "variant": "desktop_app.cli.variants_cmd",
    "eval": "desktop_app.cli.eval_cmd",
    "mlflow": "desktop_app.cli.mlflow_cmd",
    "serve": "desktop_app.cli.serve_cmd",
    "share": "desktop_app.cli.share_cmd",
    "pool": "desktop_app.cli.pools_cmd",
    "gui": "desktop_app.cli.gui_cmd",
}


def quiet_telemetry() -> None:
    """A desktop app does not phone home: turn off MLflow's and Gradio's telemetry in our processes."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command group, or only ``command``'s group when it is a known command."""
    parser = argparse.ArgumentParser(
        prog="modeldesk",
        description="Every language model you can use, in one registry. Run with no command to open the window.",
    )
    parser.add_argument("--version", action="version", version=f"modeldesk {__version__}")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="check that this installation runs every part (window offscreen, registry, MLflow logging "
        "child, share child) on a temporary data folder; exits 0, or 1 naming what is missing",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    owner = COMMAND_OWNERS.get(command or "")
    for name in (owner,) if owner else COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # group not built yet
                continue
            raise
        module.register(sub)
    return parser


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    quiet_telemetry()
    args_list = list(sys.argv[1:] if argv is None else argv) or ["gui"]
    if args_list == ["--smoke-test"]:  # before the parser imports every command group's module
        from desktop_app.cli.smoke import run_smoke_test

        return run_smoke_test()
    parser = build_parser(args_list[0])
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return int(exc.code or 0)
    handler = getattr(args, "handler", None)
    if getattr(args, "smoke_test", False) and handler is None:
        from desktop_app.cli.smoke import run_smoke_test

        handler = lambda _args: run_smoke_test()  # noqa: E731
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `modeldesk list | head`: the reader left, which is fine
        _silence_stdout()
        return EXIT_OK
    except (InvalidInput, SettingsError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, InvalidInput) else EXIT_FAIL
    except ModelDeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except Exception:  # a bug, not a user error: keep the details, show one line
        path = _write_crash_log()
        print(
            f"internal error: ModelDesk hit a bug. Details were saved to {path}; please report it.",
            file=sys.stderr,
        )
        return EXIT_FAIL


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _write_crash_log() -> str:
    import traceback
    from datetime import datetime

    from desktop_app.store.paths import data_dir

    text = traceback.format_exc()
    try:
        folder = data_dir() / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"crash-{datetime.now():%Y%m%d-%H%M%S}.log"
        path.write_text(text, encoding="utf-8")
        return str(path)
    except OSError:
        sys.stderr.write(text)
        return "standard error (above)"
