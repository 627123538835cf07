"""`gui`: open the desktop window (also what `modeldesk` with no arguments does)."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the ModelDesk window (the default when no command is given)")
    p.add_argument(
        "--exit-after-shown",
        action="store_true",
        help="open the window, wait until it shows the registry's models, print 'shown N models in T s', exit",
    )
    p.set_defaults(handler=cmd_gui)


def no_display_reason() -> str | None:
    """Why a window cannot open here, or None. Qt itself would abort the process with a core dump."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "there is no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set)"


def missing_libraries_advice() -> str | None:
    """What to install when Qt's X11 plugin cannot load here, or None. Qt itself would abort with
    "could not load the Qt platform plugin xcb" and a core dump; one dlopen of the plugin finds out
    first (it loads what Qt loads next anyway), and only on failure is the full check run."""
    from desktop_app.gui import system_libs

    if not system_libs.uses_xcb():
        return None
    failure = system_libs.probe()
    if failure is None:
        return None
    return system_libs.advice() or f"Qt's window plugin (xcb) cannot load: {failure}."


def cmd_gui(args: argparse.Namespace) -> int:
    reason = no_display_reason()
    if reason:
        print(
            f"error: {reason}. Start ModelDesk from a desktop session, or use the command line "
            "(`modeldesk --help`: sync, list, chat, eval …).",
            file=sys.stderr,
        )
        return 1
    advice = missing_libraries_advice()
    if advice:
        print(f"error: {advice}", file=sys.stderr)
        return 1
    from desktop_app.gui.app import run  # Qt loads only when the window is wanted

    return run(sys.argv[:1], exit_after_shown=args.exit_after_shown)
