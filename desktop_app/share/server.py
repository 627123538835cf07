"""Start the browser app, say where it is, and stop cleanly: what ``modeldesk share`` runs.

It always binds 127.0.0.1. ``public`` asks Gradio for a share link and then always requires a login:
user ``modeldesk`` with a generated password (or the first line of ``password_file``), printed here
only, to whoever launched it. Without internet the link cannot be made; the app says so in one
sentence and keeps serving the local URL, behind the same login.

What it prints is also read by the window's Share dialog, one fact per line
(``core.share_protocol``)::

    Local URL: http://127.0.0.1:7860/
    Login: modeldesk / <password>
    Public URL: https://….gradio.live
    No public link: …
    Tools: calculator, current_time, convert_units — any visitor's function-calling model may run these, …

Tools are off unless ``tools`` names them (``share.tools`` says what may be shared and why).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, cast

from desktop_app.core.errors import InvalidInput
from desktop_app.core.share_protocol import (
    LINE_LOCAL,
    LINE_LOGIN,
    LINE_NO_PUBLIC,
    LINE_PUBLIC,
    LINE_READY,
    LINE_STOPPED,
    LINE_TOOLS,
)

__all__ = [
    "USERNAME",
    "ShareOptions",
    "read_password_file",
    "serve",
]

USERNAME = "modeldesk"
NO_INTERNET = (
    "this computer cannot reach Gradio's share service (a share link needs internet), "
    "so the app is only at the local URL."
)
NO_TOOLS = "none (visitors' models cannot run any tool here; start with --tools to offer the built-in ones)"
WRONG_LOGIN_DELAY = 1.0
MAX_UPLOAD = "10mb"  # images for chat and suites (a suite is checked against its own, smaller limit)


@dataclass(frozen=True)
class ShareOptions:
    port: int | None = None
    public: bool = False
    allow_remote: bool = False
    password_file: str | None = None
    tools: tuple[str, ...] | None = None  # patterns (share.tools); None: no tools in the chat


def quiet_gradio() -> None:
    """No analytics, no telemetry, no run history saved in visitors' browsers, no MCP endpoint."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("GRADIO_MCP_SERVER", "False")


def read_password_file(path: str) -> str:
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInput(f"The password file {p} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The password file {p} cannot be read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    password = lines[0].strip() if lines else ""
    if len(password) < 8:
        raise InvalidInput(
            f"The password file {p} must hold a password of at least 8 characters on its first line."
        )
    return password


def login_check(password: str) -> Callable[[str, str], Awaitable[bool]]:
    """Gradio's login, compared in constant time; a wrong guess costs a second, so a public link's
    password cannot be tried at speed."""

    async def check(username: str, given: str) -> bool:
        ok = secrets.compare_digest(username.encode(), USERNAME.encode()) & secrets.compare_digest(
            given.encode(), password.encode()
        )
        if not ok:
            await asyncio.sleep(WRONG_LOGIN_DELAY)
        return ok

    return check


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()


def _open_public_link(demo: object) -> str | None:
    """Gradio's own tunnel, as ``launch(share=True)`` makes it; None when it cannot be made.
    Done after the local server is up, so the local URL is usable (and shown) at once."""
    from gradio import networking

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            url = networking.setup_tunnel(
                local_host=demo.server_name,  # type: ignore[attr-defined]
                local_port=demo.server_port,  # type: ignore[attr-defined]
                share_token=demo.share_token,  # type: ignore[attr-defined]
                share_server_address=demo.share_server_address,  # type: ignore[attr-defined]
                share_server_tls_certificate=demo.share_server_tls_certificate,  # type: ignore[attr-defined]
            )
    except Exception:  # no internet, frpc missing or blocked, the share server refused: all mean no link
        return None
    if url.startswith("http://") and not os.environ.get("GRADIO_SHARE_SERVER_ADDRESS"):
        url = "https://" + url.removeprefix("http://")
    demo.share_url = url  # type: ignore[attr-defined]
    demo.share = True  # type: ignore[attr-defined]
    return url


def _stop_tunnels() -> None:
    with contextlib.suppress(Exception):
        from gradio.tunneling import CURRENT_TUNNELS

        for tunnel in list(CURRENT_TUNNELS):
            with contextlib.redirect_stdout(io.StringIO()):
                tunnel.kill()


def serve(options: ShareOptions, out: TextIO | None = None, *, ready: threading.Event | None = None) -> int:
    """Run until Ctrl-C or SIGTERM. ``ready`` is set once every line above has been printed."""
    out = out if out is not None else sys.stdout
    quiet_gradio()
    password = None
    if options.public:
        password = (
            read_password_file(options.password_file) if options.password_file else secrets.token_urlsafe(12)
        )
    elif options.password_file:
        raise InvalidInput("--password-file goes with --public (the local app needs no login).")
    if options.port is not None and not 1 <= options.port <= 65535:
        raise InvalidInput(f"--port must be between 1 and 65535, not {options.port}.")

    from desktop_app.share.context import ShareContext
    from desktop_app.share.tools import ShareTools

    ctx = ShareContext.open()
    assert isinstance(ctx, ShareContext)
    ctx.allow_remote = options.allow_remote
    try:  # a tool name that matches nothing, or a server that does not start: said before gradio loads
        share_tools = ShareTools.resolve(ctx, options.tools) if options.tools is not None else None
    except BaseException:
        ctx.close()
        raise

    import gradio as gr  # ~2.8 s; only this process ever pays it

    from desktop_app.services.pools import pool_rows
    from desktop_app.share.app import build_app
    from desktop_app.share.catalog import Catalog

    for notice in ctx.notices:
        _say(sys.stderr, f"warning: {notice}")
    stop = threading.Event()
    # SIGTERM (the window) and, once serving, SIGINT (Ctrl-C) just ask the loop below to end: an
    # exception thrown wherever the main thread happens to be would skip the clean shutdown.
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: stop.set())}
    try:
        catalog = Catalog(ctx.registry, allow_remote=options.allow_remote, pools=lambda: pool_rows(ctx))
        demo = build_app(ctx, catalog, tools=share_tools)
        demo.queue(default_concurrency_limit=None)
        try:
            demo.launch(
                server_name="127.0.0.1",
                server_port=options.port,
                share=False,
                # Gradio awaits a coroutine function (routes.login); its hint only names the sync kind.
                auth=cast("Callable[[str, str], bool]", login_check(password)) if password else None,
                auth_message="This ModelDesk app is shared with a password; ask the person who sent you the link.",
                prevent_thread_lock=True,
                quiet=True,
                show_error=False,
                max_file_size=MAX_UPLOAD,
                footer_links=["api"],
                run_history=False,
                ssr_mode=False,
                mcp_server=False,
                enable_monitoring=False,
                theme=gr.themes.Soft(),
                css=_css(),
            )
        except OSError as exc:
            where = f"port {options.port}" if options.port else "a free port from 7860"
            raise InvalidInput(
                f"Cannot serve the app on {where}: {exc.strerror or exc}. Pick another one with --port."
            ) from None
        _say(out, f"{LINE_LOCAL}{demo.local_url}")
        if password:
            _say(out, f"{LINE_LOGIN}{USERNAME} / {password}")
        if options.public:
            link = _open_public_link(demo)
            _say(out, f"{LINE_PUBLIC}{link}" if link else f"{LINE_NO_PUBLIC}{NO_INTERNET}")
        if share_tools is not None:
            _say(out, f"{LINE_TOOLS}{share_tools.summary()}")
        elif options.public:  # whoever gets the link: say plainly that nothing runs on this computer
            _say(out, f"{LINE_TOOLS}{NO_TOOLS}")
        if not options.allow_remote:
            hidden = len([1 for _ in ctx.settings.sources if _.enabled and _.serving_type.value != "local"])
            if hidden:
                _say(out, "Remote models are not offered (start with --allow-remote to share them).")
        # Read the registry now, off the request path, so the first visitor's page lists at once.
        threading.Thread(target=catalog.facts, name="catalog-warm-up", daemon=True).start()
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda *_: stop.set())
        _say(out, LINE_READY)
        if ready is not None:
            ready.set()
        while not stop.wait(0.5):
            pass
        _stop_tunnels()
        if share_tools is not None:
            share_tools.close()
        demo.close(verbose=False)
        _say(out, LINE_STOPPED)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        ctx.close()


def _css() -> str:
    from desktop_app.share.app import CSS

    return CSS
