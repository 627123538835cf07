"""The tool registry and the call loop, for the window, the CLI, the Gradio app and evaluations.

The loop: offer the chosen tools → the model calls some → each call is shown and approved (a callback:
the window asks with a dialog, the CLI on the terminal; ``--yes`` and evaluations allow all) → run it
with a per-call timeout → send the result back (cut to ``model_limit`` characters; the UI gets it
whole) → repeat until the model answers in text, at most ``max_rounds`` rounds (then it is asked once
more without tools). Nothing runs a tool without going through ``approve``. Qt-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.adapters.mcp import START_TIMEOUT_S, McpServer, ToolServerError
from desktop_app.adapters.tools_builtin import builtin_specs, run_builtin
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatResult
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import UnifiedModel
from desktop_app.core.tools import (
    BUILTIN_PROVIDER,
    MODEL_RESULT_LIMIT,
    Approval,
    McpServerConfig,
    ServerState,
    ToolCallEvent,
    ToolResult,
    ToolResultEvent,
    ToolSpec,
    bearer_tokens,
    check_server,
    parse_mcp_servers,
    select_tools,
)
from desktop_app.services import serving
from desktop_app.services.context import AppContext
from desktop_app.store.tools_config import ToolsConfig, ToolsConfigStore

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "ApproveFn",
    "ImportedServer",
    "LoopEvent",
    "ServerStatus",
    "ToolRegistry",
    "ToolSession",
    "chat_with_tools",
]

DEFAULT_MAX_ROUNDS = 8
DENIED_TEXT = "The user did not allow this tool call. Answer without it, or ask the user."

ApproveFn = Callable[[ToolCallEvent], Awaitable[Approval]]
LoopEvent = ChatChunk | ToolCallEvent | ToolResultEvent


@dataclass(frozen=True)
class ImportedServer:
    """One server an import added (or ``replaced``), and the secrets it put in the keyring."""

    server: McpServerConfig
    replaced: bool
    kept: list[str]  # key-like environment names, and "its token"


@dataclass(frozen=True)
class ServerStatus:
    name: str
    transport: str
    target: str
    enabled: bool
    state: ServerState
    error: str | None
    tools: list[str]


class ToolRegistry:
    """Built-in tools plus the configured MCP servers. Servers start on first use (as background tasks
    of the loop that uses the registry) and are stopped by ``aclose``."""

    def __init__(self, store: ToolsConfigStore) -> None:
        self.store = store
        self.config: ToolsConfig = store.load()
        self._servers: dict[str, McpServer] = {}

    @classmethod
    def open(cls, ctx: AppContext) -> ToolRegistry:
        return cls(ToolsConfigStore(ctx.home / "tools.json", ctx.keys))

    # ------------------------------------------------------------------ what there is
    def server(self, name: str) -> McpServer:
        config = self.config.server(name)
        existing = self._servers.get(name)
        if existing is not None and existing.config == config:
            return existing
        if existing is not None:
            existing.stop_soon()
        made = McpServer(config, token=self.store.token(config), secret_env=self.store.secret_env(config))
        self._servers[name] = made
        return made

    def builtin(self) -> list[ToolSpec]:
        disabled = set(self.config.disabled_tools)
        return [s.model_copy(update={"enabled": s.name not in disabled}) for s in builtin_specs()]

    def known(self) -> list[ToolSpec]:
        """Built-in tools and the tools of servers started so far (starting none)."""
        disabled = set(self.config.disabled_tools)
        specs = self.builtin()
        for config in self.config.servers:
            started = self._servers.get(config.name)
            if config.enabled and started is not None:
                specs += [t.model_copy(update={"enabled": t.name not in disabled}) for t in started.tools]
        return specs

    def choices(self) -> list[str]:
        """What a Tools control offers: each enabled built-in tool, and ``server/*`` per enabled server."""
        names = [s.name for s in self.builtin() if s.enabled]
        return names + [f"{s.name}/*" for s in self.config.servers if s.enabled]

    def statuses(self) -> list[ServerStatus]:
        out = []
        for config in self.config.servers:
            server = self._servers.get(config.name)
            out.append(
                ServerStatus(
                    name=config.name,
                    transport=config.transport,
                    target=config.describe(),
                    enabled=config.enabled,
                    state=server.state if server else ServerState.STOPPED,
                    error=server.error if server else None,
                    tools=[t.name for t in server.tools] if server else [],
                )
            )
        return out

    async def resolve(self, patterns: Sequence[str]) -> list[ToolSpec]:
        """The tools ``patterns`` name (``calculator``, ``fs/*``, ``fs/read_file``, ``*``), starting the
        servers they need. A server that does not start raises ToolServerError with its stderr tail."""
        wanted: set[str] = set()
        for pattern in patterns:
            head = pattern.strip().split("/", 1)[0]
            if pattern.strip() == "*":
                wanted.update(s.name for s in self.config.servers if s.enabled)
            elif "/" in pattern and self.config.has(head):
                if not self.config.server(head).enabled:
                    raise InvalidInput(
                        f"The tool server {head!r} is turned off.",
                        hint=f"Turn it on with `modeldesk tools enable {head}`.",
                    )
                wanted.add(head)
        await asyncio.gather(*(self.server(name).start() for name in sorted(wanted)))
        return select_tools(self.known(), patterns)

    # ------------------------------------------------------------------ running
    async def run(
        self, spec: ToolSpec, arguments: dict[str, Any], timeout: float | None = None
    ) -> ToolResult:
        """Run a tool. Failures (timeout, crash, the tool's own error) come back as an error result
        for the model and the user to see; they are never raised."""
        started = time.perf_counter()
        if spec.provider == BUILTIN_PROVIDER:
            result = run_builtin(spec.name, arguments)  # bounded and quick: no thread needed
        else:
            try:
                result = await self.server(spec.provider).call(spec.name, arguments, timeout)
            except (ToolServerError, InvalidInput) as exc:
                result = ToolResult(text=f"error: {exc.message}", is_error=True)
        if result.duration_s is None:
            result.duration_s = time.perf_counter() - started
        return result

    async def test(self, name: str) -> list[ToolSpec]:
        """Start a server, list its tools, stop it (``modeldesk tools test``, the window's Test)."""
        return await self.try_server(self.config.server(name))

    async def try_server(
        self,
        config: McpServerConfig,
        *,
        token: str | None = None,
        stored_token: bool = True,
        timeout: float = START_TIMEOUT_S,
    ) -> list[ToolSpec]:
        """Start ``config`` (saved or not yet: the window's form tests what is typed), list its tools
        and stop it, apart from any copy the registry runs for chats. ``token`` replaces the stored
        one (``stored_token=False``: none); stored secret environment values fill what ``config.env``
        leaves out. A failure raises ToolServerError saying what is wrong."""
        if token is None and stored_token:
            token = self.store.token(config)
        secret = {k: v for k, v in self.store.secret_env(config).items() if k not in config.env}
        server = McpServer(config, token=token if config.url else None, secret_env=secret)
        try:
            return await server.start(timeout)
        finally:
            await server.stop()

    def reload(self) -> None:
        """Read ``tools.json`` again (the window's form or the CLI changed it). A running server that
        was removed, or whose definition or secrets changed, is stopped: its next use starts it as it
        is configured now."""
        self.config = self.store.load()
        for name, running in list(self._servers.items()):
            config = self.config.server(name) if self.config.has(name) else None
            if (
                config is None
                or running.config != config
                or not running.has_secrets(self.store.token(config), self.store.secret_env(config))
            ):
                running.stop_soon()
                del self._servers[name]

    # ------------------------------------------------------------------ configuration
    def add_server(self, server: McpServerConfig, *, token: str | None = None) -> McpServerConfig:
        self.config, saved = self.store.add(server, token=token)
        return saved

    def save_server(
        self, server: McpServerConfig, *, token: str | None = None, forget_token: bool = False
    ) -> McpServerConfig:
        """Add or replace a server from a form (the window): checked as ``tools add`` checks it, saved
        by ``add_server``. On a replace, the secrets the new definition no longer names are forgotten:
        an environment value the user took out, the token of a server that is no longer HTTP (or one
        the user asked to forget). ``token`` None keeps the stored token."""
        server = check_server(server)
        self.config = self.store.load()
        previous = self.config.server(server.name) if self.config.has(server.name) else None
        saved = self.add_server(server, token=token)
        if previous is not None:
            for env_name in set(previous.secret_env) - set(saved.secret_env):
                self.store.keys.delete(previous.env_ref(env_name))
            if not saved.url or (forget_token and not token):
                self.store.keys.delete(saved.token_ref)
        return saved

    def import_file(self, path: Path) -> list[ImportedServer]:
        """Add every server of an ``{"mcpServers": …}`` file (Claude Desktop, VS Code, LM Studio), its
        tokens and key-like environment values into the keyring (``modeldesk tools import``, the
        window's Import…). A server of the same name is replaced. InvalidInput names what is wrong
        with the file, before anything is added."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
        servers = parse_mcp_servers(data, file=str(path))
        tokens = bearer_tokens(data)
        if not servers:
            raise InvalidInput(f"{path} lists no servers under mcpServers.")
        out = []
        for server in servers:
            replaced = self.config.has(server.name)
            token = tokens.get(server.name) if server.url else None
            saved = self.add_server(server, token=token)
            kept = [*saved.secret_env, *(["its token"] if token else [])]
            out.append(ImportedServer(saved, replaced, kept))
        return out

    def has_token(self, name: str) -> bool:
        """Whether a token is stored for the server ``name`` (never the token itself)."""
        return self.config.has(name) and self.store.token(self.config.server(name)) is not None

    def remove_server(self, name: str) -> McpServerConfig:
        self.config, removed = self.store.remove(name)
        running = self._servers.pop(name, None)
        if running is not None:
            running.stop_soon()
        return removed

    def set_server_enabled(self, name: str, enabled: bool) -> None:
        def change(config: ToolsConfig) -> None:
            config.server(name).enabled = enabled

        self.config, _ = self.store.update(change)

    def set_tool_enabled(self, name: str, enabled: bool) -> None:
        def change(config: ToolsConfig) -> None:
            disabled = [t for t in config.disabled_tools if t != name]
            config.disabled_tools = disabled if enabled else [*disabled, name]

        self.config, _ = self.store.update(change)

    # ------------------------------------------------------------------ closing
    async def aclose(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        await asyncio.gather(*(server.stop() for server in servers))


@dataclass
class ToolSession:
    """One chat's tools: what is offered, which tools the user allowed for the rest of the session,
    and whether everything is allowed (``--yes``, evaluations)."""

    tools: list[ToolSpec]
    always: set[str] = field(default_factory=set)
    allow_all: bool = False
    timeout: float | None = None  # per call; None: each server's own (30 s unless set with --timeout)
    max_rounds: int = DEFAULT_MAX_ROUNDS
    model_limit: int = MODEL_RESULT_LIMIT

    def by_wire(self) -> dict[str, ToolSpec]:
        return {t.wire_name: t for t in self.tools}


async def _deny_all(event: ToolCallEvent) -> Approval:
    return Approval.DENY


async def chat_with_tools(
    ctx: AppContext,
    registry: ToolRegistry,
    model: UnifiedModel | str,
    messages: list[ChatMessage],
    options: ChatOptions | None = None,
    *,
    session: ToolSession,
    approve: ApproveFn = _deny_all,
    think: bool | str | None = None,
    on_wait: serving.WaitCallback | None = None,
    on_host: Callable[[str], None] | None = None,
    stream: Callable[..., AsyncIterator[ChatChunk]] | None = None,
) -> AsyncIterator[LoopEvent]:
    """Stream a reply that may call tools: yields the model's chunks (every round's), a
    ``ToolCallEvent`` for each call and a ``ToolResultEvent`` for each outcome. ``messages`` gets the
    assistant's tool-call turns and the tool replies appended (the caller appends the final answer).
    ``stream`` replaces ``serving.stream_chat`` (evaluations pass their rate-limited one); ``on_host``
    is told which member of a pool answers (each round may go to another host: the last one counts)."""
    chat = stream or serving.stream_chat
    extra: dict[str, Any] = {"on_host": on_host} if on_host is not None else {}
    offered = session.by_wire()
    wire_tools = [t.to_wire() for t in session.tools]
    for round_no in range(1, session.max_rounds + 2):
        last = round_no > session.max_rounds  # one more turn without tools, to get an answer
        result = ChatResult()
        async for chunk in chat(
            ctx,
            model,
            messages,
            options,
            think=think,
            tools=None if last or not wire_tools else wire_tools,
            on_wait=on_wait,
            **extra,
        ):
            result.add(chunk)
            if chunk.content or chunk.thinking or chunk.done:
                yield chunk.model_copy(update={"tool_calls": []})
        if not result.tool_calls or last:
            return
        messages.append(
            ChatMessage(
                role="assistant",
                content=result.content,
                thinking=result.thinking or None,
                tool_calls=result.tool_calls,
            )
        )
        for call in result.tool_calls:
            spec = offered.get(call.name)
            event = ToolCallEvent(call=call, spec=spec, round=round_no)
            yield event
            shown = spec.name if spec else call.name
            if spec is None:
                outcome = ToolResult(
                    text=f"error: there is no tool named {call.name!r}; the tools are " + ", ".join(offered),
                    is_error=True,
                )
                approved = False
            else:
                approved = await _approved(session, event, approve)
                if approved:
                    outcome = await registry.run(spec, dict(call.arguments), session.timeout)
                else:
                    outcome = ToolResult(text=DENIED_TEXT, is_error=True)
            yield ToolResultEvent(call=call, name=shown, result=outcome, approved=approved)
            text = outcome.for_model(session.model_limit)
            messages.append(ChatMessage(role="tool", content=text, tool_name=call.name, tool_call_id=call.id))


async def _approved(session: ToolSession, event: ToolCallEvent, approve: ApproveFn) -> bool:
    assert event.spec is not None
    if session.allow_all or event.spec.name in session.always:
        return True
    answer = await approve(event)
    if answer is Approval.ALWAYS:
        session.always.add(event.spec.name)
    return answer is not Approval.DENY


@contextlib.asynccontextmanager
async def open_registry(ctx: AppContext) -> AsyncIterator[ToolRegistry]:
    """``async with open_registry(ctx) as tools:`` — every server it started is stopped on the way out."""
    registry = ToolRegistry.open(ctx)
    try:
        yield registry
    finally:
        await registry.aclose()
