"""Run the app with uvicorn on a socket bound here, so that the port is known (``--port 0``) and a
busy port is a plain error before anything starts."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from collections.abc import Callable

import uvicorn

from desktop_app.core.errors import InvalidInput
from desktop_app.serve.app import create_app
from desktop_app.serve.config import ServeConfig
from desktop_app.services.context import AppContext

__all__ = ["bind", "make_server", "serve"]


def bind(config: ServeConfig) -> socket.socket:
    """A listening socket for ``config`` (IPv6 when the host is an IPv6 address)."""
    host = config.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says
    # TCP; with Nagle on, each event after the headers waited for the client's delayed ACK (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, config.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidInput(
                f"Port {config.port} on {config.host} is already in use.",
                hint="Pick another with --port (0 picks a free one), or stop what uses it.",
            ) from None
        raise InvalidInput(f"Cannot listen on {config.host}:{config.port}: {exc.strerror or exc}.") from None
    sock.set_inheritable(True)
    return sock


def make_server(ctx: AppContext, config: ServeConfig) -> uvicorn.Server:
    """Quiet uvicorn: no access log (a request line could carry a prompt), warnings only."""
    app = create_app(ctx, config)
    return uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=3,
        )
    )


async def _exit_with_parent(server: uvicorn.Server, parent: int, interval: float = 1.0) -> None:
    """Stop once ``parent``, the process that started us, is gone (the window crashed or was killed),
    so a server never outlives the window that showed its switch."""
    while not server.should_exit:
        await asyncio.sleep(interval)
        if os.getppid() != parent:
            server.should_exit = True


async def serve(
    ctx: AppContext,
    config: ServeConfig,
    announce: Callable[[int], None] | None = None,
    *,
    exit_with_parent: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM). ``announce(port)`` runs once the socket listens."""
    parent = os.getppid()  # now: by the time a task would ask, the parent may already be gone
    sock = bind(config)
    server = make_server(ctx, config)
    if announce is not None:
        announce(sock.getsockname()[1])
    watcher = asyncio.create_task(_exit_with_parent(server, parent)) if exit_with_parent else None
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
