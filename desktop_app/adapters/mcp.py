"""MCP servers as tool providers, through the official ``mcp`` SDK: stdio (a command we spawn) and
streamable HTTP (a URL, with an optional bearer token).

Each running server is one background task on the caller's event loop (the SDK's transports are anyio
task groups, entered and left in that task); starting, listing and calling never block the loop, and
every wait has a time limit. Not a thread of its own: in the window, Python's garbage collector may run
on any thread that allocates, and a busy extra thread would end up freeing Qt objects off the UI thread.
A server that fails to start, crashes or does not answer in time is marked ``failed`` with the tail of
its stderr; the next use starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, TextIO, TypeVar

from desktop_app.core.errors import ModelDeskError
from desktop_app.core.tools import McpServerConfig, ServerState, ToolResult, ToolSpec

__all__ = ["START_TIMEOUT_S", "McpServer", "ToolServerError"]

T = TypeVar("T")
STDERR_TAIL_CHARS = 2_000
START_TIMEOUT_S = 30.0
_CONNECTION_CLOSED = -32000  # JSON-RPC error code the SDK uses when the other end went away
_HTTP_MEANING = {
    401: ": its token is missing or wrong (set it when you add or edit the server).",
    403: ": the token is not allowed to use this server.",
    404: ": there is no MCP endpoint at that URL (check the path; it often ends in /mcp).",
    405: ": that URL does not take MCP requests (check the path; it often ends in /mcp).",
}


class ToolServerError(ModelDeskError):
    """A tool server did not start, crashed or did not answer; the message carries its stderr tail."""


class McpServer:
    """One configured MCP server. ``start`` is idempotent; calls made while it starts wait for it."""

    def __init__(
        self,
        config: McpServerConfig,
        *,
        token: str | None = None,
        secret_env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._token = token
        self._secret_env = dict(secret_env or {})
        self.state = ServerState.STOPPED
        self.error: str | None = None
        self.tools: list[ToolSpec] = []
        self._native: dict[str, str] = {}  # our tool name → the server's own tool name
        self._session: Any = None
        self._runner: asyncio.Task[None] | None = None
        self._started: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._stderr: TextIO | None = None
        self._http_status: tuple[int, str] | None = None  # the last refused POST: (status, reason)

    @property
    def name(self) -> str:
        return self.config.name

    def has_secrets(self, token: str | None, secret_env: Mapping[str, str]) -> bool:
        """Whether this server was made with these secrets (they changed: it must be made again)."""
        return self._token == token and self._secret_env == dict(secret_env)

    # ------------------------------------------------------------------ stderr
    def stderr_tail(self, limit: int = STDERR_TAIL_CHARS) -> str:
        """The last ``limit`` characters the server wrote to stderr (stdio servers only)."""
        err = self._stderr
        if err is None:
            return ""
        try:
            err.flush()
            size = err.seek(0, 2)
            err.seek(max(0, size - limit * 4))
            text = err.read()
        except (OSError, ValueError):
            return ""
        return text[-limit:].strip()

    def _failure(self, what: str) -> str:
        tail = self.stderr_tail()
        return f"{what}\n--- its stderr (last lines) ---\n{tail}" if tail else what

    # ------------------------------------------------------------------ lifecycle
    async def _run(self, started: asyncio.Future[None], stop: asyncio.Event) -> None:
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                if self.config.url:
                    read, write = await stack.enter_async_context(self._http_transport())
                else:
                    read, write = await stack.enter_async_context(self._stdio_transport())
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.tools, self._native = await self._list(session)
                self._session = session
                self.state, self.error = ServerState.RUNNING, None
                started.set_result(None)
                await stop.wait()
        except asyncio.CancelledError:
            if not started.done():
                started.cancel()
            raise
        except BaseException as exc:  # the SDK raises ExceptionGroups from its task groups
            if not started.done():
                why = self._start_problem(exc)
                started.set_exception(ToolServerError(self._failure(f"{self.name} did not start: {why}")))
            elif not stop.is_set():
                message = _exception_text(exc)
                self.state, self.error = ServerState.FAILED, self._failure(f"{self.name} stopped: {message}")
        finally:
            self._session = None
            if self.state is ServerState.RUNNING or self.state is ServerState.STARTING:
                self.state = ServerState.STOPPED

    def _stdio_transport(self) -> Any:
        from mcp import StdioServerParameters, stdio_client

        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 (lives with the server)
        params = StdioServerParameters(
            command=self.config.command or "",
            args=list(self.config.args),
            env={**self.config.env, **self._secret_env} or None,
            cwd=self.config.cwd,
        )
        return stdio_client(params, errlog=self._stderr)

    def _http_transport(self) -> Any:
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        client = create_mcp_http_client(headers=headers)
        self._http_status = None

        async def note_refusal(response: Any) -> None:
            # The SDK turns a refused POST into "Server returned an error response": keep the status
            # so a failed start can say "HTTP 401" and what that means.
            if response.status_code >= 400 and response.request.method == "POST":
                self._http_status = (response.status_code, response.reason_phrase or "")

        client.event_hooks = {**client.event_hooks, "response": [note_refusal]}
        return streamable_http_client(self.config.url or "", http_client=client)

    def _start_problem(self, exc: BaseException) -> str:
        """Why a start failed, in the user's terms: the command not found, the server exited, an HTTP
        status and what it means, no connection. The stderr tail is added by ``_failure``."""
        inner = _innermost(exc)
        if self.config.url:
            if self._http_status is not None:
                code, reason = self._http_status
                return f"the server answered HTTP {code} {reason}".rstrip() + _HTTP_MEANING.get(code, ".")
            kind = type(inner).__name__
            if kind == "ConnectError":
                return (
                    f"cannot connect to {self.config.url} ({_exception_text(inner)}); is the server running?"
                )
            if kind.endswith("Timeout") or kind == "TimeoutException":
                return "the server did not answer in time."
            return _exception_text(exc)
        command = self.config.command or ""
        if isinstance(inner, FileNotFoundError):
            cwd = self.config.cwd
            if cwd and (inner.filename == cwd or not os.path.isdir(cwd)):
                return f"its working folder {cwd} does not exist."
            return f"the command {command!r} was not found; install it, or give its full path."
        if isinstance(inner, PermissionError):
            return f"the command {command!r} cannot be run ({inner.strerror or 'permission denied'})."
        if getattr(getattr(inner, "error", None), "code", None) == _CONNECTION_CLOSED:
            return "the server exited before it answered."
        return _exception_text(exc)

    async def _list(self, session: Any) -> tuple[list[ToolSpec], dict[str, str]]:
        specs: list[ToolSpec] = []
        native: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(100):  # pages; a server that pages forever is cut off
            if cursor:
                from mcp_types import PaginatedRequestParams

                result = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            else:
                result = await session.list_tools()
            for tool in result.tools:
                name = f"{self.name}/{tool.name}"
                native[name] = tool.name
                schema = dict(tool.input_schema or {})
                schema.pop("title", None)
                specs.append(
                    ToolSpec(
                        name=name,
                        description=(tool.description or tool.title or "").strip(),
                        parameters=schema or {"type": "object", "properties": {}},
                        provider=self.name,
                    )
                )
            cursor = getattr(result, "next_cursor", None)
            if not cursor:
                break
        return specs, native

    async def _start_task(self) -> list[ToolSpec]:
        if self._runner is not None and not self._runner.done() and self._started is not None:
            await asyncio.shield(self._started)
            return self.tools
        self.state, self.error = ServerState.STARTING, None
        loop = asyncio.get_running_loop()
        self._started = loop.create_future()
        self._stop = asyncio.Event()
        self._runner = loop.create_task(self._run(self._started, self._stop))
        try:
            await asyncio.shield(self._started)
        except asyncio.CancelledError:
            raise
        except ToolServerError as exc:
            self.state, self.error = ServerState.FAILED, exc.message
            raise
        return self.tools

    async def _stop_task(self) -> None:
        runner, stop = self._runner, self._stop
        self._runner = None
        if runner is None or stop is None:
            return
        stop.set()
        try:
            if self._started is not None and not self._started.done():
                # Still starting (a start that timed out, a Test the user closed): it looks at
                # ``stop`` only once it is up, so waiting for it would only add 5 s.
                raise TimeoutError
            await asyncio.wait_for(asyncio.shield(runner), 5)
        except (TimeoutError, asyncio.CancelledError, Exception):
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner

    async def _call_task(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        await self._start_task()
        session = self._session
        if session is None:
            raise ToolServerError(self._failure(f"{self.name} is not running."))
        native = self._native.get(tool, tool.split("/", 1)[-1])
        started = time.perf_counter()
        result = await session.call_tool(native, arguments)
        return ToolResult(
            text=_result_text(result),
            is_error=bool(getattr(result, "is_error", False)),
            duration_s=time.perf_counter() - started,
        )

    # ------------------------------------------------------------------ public API (any loop)
    async def start(self, timeout: float = START_TIMEOUT_S) -> list[ToolSpec]:
        """Start the server (if it is not running) and return its tools."""
        try:
            return await asyncio.wait_for(self._start_task(), timeout)
        except TimeoutError:
            await self.stop()
            self.state = ServerState.FAILED
            self.error = self._failure(f"{self.name} did not start within {timeout:.0f} s.")
            raise ToolServerError(self.error) from None

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float | None = None) -> ToolResult:
        """Run one tool. A timeout, a crash or a protocol error raises ToolServerError (and marks the
        server failed, stopping it so the next call starts it afresh)."""
        limit = timeout if timeout is not None else self.config.timeout_s
        await self.start()  # its own time limit: a cold start does not eat into the call's
        try:
            return await asyncio.wait_for(self._call_task(tool, arguments), limit)
        except TimeoutError:
            message = self._failure(f"{tool} did not answer within {limit:g} s; {self.name} was stopped.")
        except ToolServerError as exc:
            message = exc.message
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = self._failure(f"{tool} failed: {_exception_text(exc)}")
        await self.stop()
        self.state, self.error = ServerState.FAILED, message
        raise ToolServerError(message)

    async def stop(self) -> None:
        if self._runner is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stop_task(), 10)
        if self.state is not ServerState.FAILED:
            self.state = ServerState.STOPPED

    def stop_soon(self) -> None:
        """Stop from synchronous code: the server's task ends (and its process with it) on the loop's
        next turns. Prefer ``await stop()``."""
        runner, stop = self._runner, self._stop
        self._runner = None
        if runner is not None and stop is not None and not runner.done():
            stop.set()
        if self.state is not ServerState.FAILED:
            self.state = ServerState.STOPPED


def _result_text(result: Any) -> str:
    """A CallToolResult as text: text blocks as they are, other blocks described, structured content
    as JSON when there is nothing else."""
    import json

    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(getattr(block, "text", "")))
        elif kind == "resource":
            res = getattr(block, "resource", None)
            parts.append(str(getattr(res, "text", None) or f"[resource {getattr(res, 'uri', '')}]"))
        else:
            mime = getattr(block, "mime_type", None) or getattr(block, "mimeType", None) or ""
            parts.append(f"[{kind} content{(' ' + mime) if mime else ''}]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts)


def _innermost(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _exception_text(exc: BaseException) -> str:
    """The innermost useful message of an exception (group)."""
    inner = _innermost(exc)
    text = str(inner).strip()
    return text or type(inner).__name__
