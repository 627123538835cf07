"""`share`: serve the registry in a browser (the Gradio app), locally or with a public link."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "share",
        help="open the registry to a browser: browse models by category, chat, evaluate",
        description="Serve a browser app over the same registry at http://127.0.0.1 (only this computer "
        "can reach it). With --public, Gradio makes a temporary public link and a login is required; "
        "the password is printed here. Tools are off unless --tools names them; the chat never asks before a "
        "call (nobody is here to approve), so only the tools named are offered. Stop with Ctrl-C.",
    )
    p.add_argument("--port", type=int, help="local port (default: the first free one from 7860)")
    p.add_argument(
        "--public", action="store_true", help="also make a public share link (needs internet; login required)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="also offer remote (paid, rate-limited) models; by default only local models are shared",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="with --public: the login password is this file's first line (default: a generated one)",
    )
    p.add_argument(
        "--tools",
        nargs="?",
        const="builtin",
        metavar="NAMES",
        help="let function-calling models in the chat run tools, without asking: alone, the built-in "
        "ones (calculator, current_time, convert_units); or comma-separated names (builtin, calculator, "
        "fs/read_file, fs/*): naming an MCP server's tools allows every visitor's call of them",
    )
    p.set_defaults(handler=cmd_share)


def cmd_share(args: argparse.Namespace) -> int:
    from desktop_app.share.server import ShareOptions, serve  # gradio loads only when sharing
    from desktop_app.share.tools import parse_share_tools

    tools = tuple(parse_share_tools(args.tools)) if args.tools is not None else None

    return serve(
        ShareOptions(
            port=args.port,
            public=args.public,
            allow_remote=args.allow_remote,
            password_file=args.password_file,
            tools=tools,
        )
    )
