"""`gui`: open the desktop window (also what `modeldesk` with no arguments does)."""

from __future__ import annotations

import argparse
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


def cmd_gui(args: argparse.Namespace) -> int:
    from desktop_app.gui.app import run  # Qt loads only when the window is wanted

    return run(sys.argv[:1], exit_after_shown=args.exit_after_shown)
