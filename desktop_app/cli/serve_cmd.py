"""`serve`: every model in the registry behind one OpenAI-compatible API (``desktop_app.serve``).

The web framework loads only when this command runs; the arguments are checked first."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import run_async
from desktop_app.serve.config import DEFAULT_HOST, DEFAULT_PORT, ServeConfig, is_loopback
from desktop_app.services.context import AppContext

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve every model in the registry over an OpenAI-compatible API",
        description="An OpenAI-compatible server (/v1/models, /v1/chat/completions, /v1/embeddings) "
        "over every model in the registry: local, remote (with --allow-remote) and experimental.",
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="also serve remote (paid) models: remote sources and Ollama cloud models",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        help="require the token in this file as the API key (a bind off loopback without one gets a generated token)",
    )
    # The window's Serve switch: stop when the window's process is gone.
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    config, generated = ServeConfig.prepare(
        args.host, args.port, token_file=args.token_file, allow_remote=args.allow_remote
    )

    def announce(ctx: AppContext, port: int) -> None:
        from desktop_app.serve.app import servable_models

        count = len(servable_models(ctx, config))
        print(f"ModelDesk serves {count} models at {config.url(port)}", flush=True)
        if not config.allow_remote:
            print("Remote models are not served (start with --allow-remote to serve them).", flush=True)
        if generated:
            print(f"Token (shown once; clients send it as their API key): {config.token}", flush=True)
        elif config.token is None:
            print("No token needed on this machine (any API key is accepted).", flush=True)
        if not is_loopback(config.host):
            print(f"Listening on {config.host}: other machines can reach this server.", file=sys.stderr)
        print("Stop with Ctrl-C.", flush=True)

    async def go(ctx: AppContext) -> None:
        from desktop_app.serve.server import serve

        await serve(ctx, config, lambda port: announce(ctx, port), exit_with_parent=args.exit_with_parent)

    run_async(go)
    return EXIT_OK
