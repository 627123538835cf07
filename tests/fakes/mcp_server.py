"""An MCP server written with the official SDK (``MCPServer``), for tests: stdio by default,
streamable HTTP on 127.0.0.1 with ``--http PORT``.

Tools: ``add`` (a + b), ``echo``, ``env`` (one of the server's environment variables, as a careless
server might hand out the key it was started with), ``big`` (1 MB of text), ``fail`` (the tool raises: an error result),
``hang`` (never answers), ``crash`` (writes to stderr and exits the process). ``--crash-on-start``
exits before speaking MCP, with a message on stderr. ``--token T`` makes the HTTP server refuse requests
without ``Authorization: Bearer T``.

Run: ``python -m tests.fakes.mcp_server [--http PORT] [--token T] [--crash-on-start]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer

BIG_SIZE = 1_000_000

server = MCPServer(name="modeldesk-test")


@server.tool(description="Add two numbers.")
def add(a: float, b: float) -> str:
    total = a + b
    return str(int(total)) if float(total).is_integer() else str(total)


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="Return one of the server's environment variables.")
def env(name: str) -> str:
    return os.environ.get(name, "")


@server.tool(description="Return one megabyte of text.")
def big() -> str:
    line = "0123456789" * 9 + "abcdefghi\n"  # 100 characters
    return line * (BIG_SIZE // len(line))


@server.tool(description="Always fails.")
def fail(reason: str = "it always fails") -> str:
    raise ValueError(f"the tool failed: {reason}")


@server.tool(description="Never answers.")
async def hang() -> str:
    await asyncio.sleep(3600)
    return "late"


@server.tool(description="Crash the server process.")
def crash() -> str:
    sys.stderr.write("fatal: the test server crashed on purpose\n")
    sys.stderr.flush()
    os._exit(3)


def _http_app(token: str | None):  # type: ignore[no-untyped-def]
    app = server.streamable_http_app()
    if not token:
        return app

    async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
                return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--crash-on-start", action="store_true")
    args = parser.parse_args()
    if args.crash_on_start:
        sys.stderr.write("starting…\nerror: cannot open the database /nonexistent/db.sqlite\n")
        sys.stderr.flush()
        sys.exit(2)
    if args.http is None:
        server.run("stdio")
        return
    import uvicorn

    uvicorn.run(_http_app(args.token), host="127.0.0.1", port=args.http, log_level="warning")


if __name__ == "__main__":
    main()
