"""Tools in evaluations: what a suite's ``tools:`` offers, and one case's chat with them.

Registry tools (``calculator``, ``fs/*``) are run in the loop, so a suite can check the final answer as
well as the calls; inline functions are only declared (a call to one is answered "not run"), so a suite
of inline tools measures which call a model makes. Built-in tools are safe and always run; an MCP
server's tools run only when the user allowed it for this run (``eval --allow-tools``): a suite file
is not a reason to start programs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatResult, ToolCall
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import UnifiedModel
from desktop_app.core.suite import Suite
from desktop_app.core.tools import (
    BUILTIN_PROVIDER,
    ToolCallEvent,
    ToolResult,
    ToolSpec,
    describe_call,
)
from desktop_app.services.context import AppContext
from desktop_app.services.tools import DEFAULT_MAX_ROUNDS, ToolRegistry, ToolSession, chat_with_tools

__all__ = ["INLINE_PROVIDER", "SuiteTools", "ToolCase"]

INLINE_PROVIDER = "suite"
NOT_RUN = "This tool is only declared in the evaluation suite; it was not run."


class ToolCase:
    """One case's outcome: the reply (final round), every call made, and the loop's time."""

    def __init__(self) -> None:
        self.result = ChatResult()
        self.calls: list[ToolCall] = []
        self.latency_s = 0.0

    def output(self) -> str:
        """The final text; when the model only called tools, the calls (so the output is never blank)."""
        text = self.result.content.strip()
        if text or not self.calls:
            return text
        return "\n".join(describe_call(c.name, c.arguments) for c in self.calls)


class _SuiteRegistry(ToolRegistry):
    """The registry, plus the suite's inline functions (answered, never run)."""

    async def run(
        self, spec: ToolSpec, arguments: dict[str, Any], timeout: float | None = None
    ) -> ToolResult:
        if spec.provider == INLINE_PROVIDER:
            return ToolResult(text=NOT_RUN, is_error=True)
        return await super().run(spec, arguments, timeout)


class SuiteTools:
    """Made once per run: ``open`` resolves the suite's tool names (starting MCP servers), ``aclose``
    stops them."""

    def __init__(self, ctx: AppContext, suite: Suite, *, allow_mcp: bool = False) -> None:
        self.ctx = ctx
        self.suite = suite
        self.allow_mcp = allow_mcp
        self.registry: _SuiteRegistry | None = None
        self.specs: list[ToolSpec] = []
        self.runs_tools = any(isinstance(t, str) for t in suite.tools)

    async def open(self) -> None:
        self.registry = _SuiteRegistry(ToolRegistry.open(self.ctx).store)
        names = [t for t in self.suite.tools if isinstance(t, str)]
        resolved = await self.registry.resolve(names) if names else []
        mcp = sorted({t.provider for t in resolved if t.provider != BUILTIN_PROVIDER})
        if mcp and not self.allow_mcp:
            raise InvalidInput(
                f"The suite runs tools of the MCP server(s) {', '.join(mcp)}.",
                hint="Allow it for this run with `modeldesk eval --allow-tools`, or list only built-in tools.",
            )
        inline = [
            ToolSpec(
                name=t["function"]["name"],
                description=t["function"].get("description", ""),
                parameters=t["function"].get("parameters") or {},
                provider=INLINE_PROVIDER,
            )
            for t in self.suite.tools
            if isinstance(t, dict)
        ]
        self.specs = resolved + inline

    async def aclose(self) -> None:
        if self.registry is not None:
            await self.registry.aclose()

    async def run_case(
        self,
        model: UnifiedModel,
        messages: list[ChatMessage],
        options: ChatOptions | None,
        stream: Callable[..., AsyncIterator[ChatChunk]],
        response_format: str | dict[str, Any] | None = None,
    ) -> ToolCase:
        """Chat with the tools offered. With only inline tools the first reply is the answer."""
        assert self.registry is not None, "open() first"
        case = ToolCase()
        started = time.perf_counter()
        session = ToolSession(
            tools=self.specs,
            allow_all=True,  # built-in tools, and MCP tools the user allowed for this run
            max_rounds=DEFAULT_MAX_ROUNDS if self.runs_tools else 1,
        )
        by_wire = session.by_wire()
        if not self.runs_tools:
            async for chunk in stream(
                self.ctx,
                model,
                messages,
                options,
                tools=[t.to_wire() for t in self.specs],
                response_format=response_format,
            ):
                case.result.add(chunk)
            case.calls = [_named(c, by_wire) for c in case.result.tool_calls]
        else:
            async for event in chat_with_tools(
                self.ctx, self.registry, model, list(messages), options, session=session, stream=stream
            ):
                if isinstance(event, ChatChunk):
                    case.result.add(event)
                elif isinstance(event, ToolCallEvent):
                    case.calls.append(_named(event.call, by_wire))
                    case.result = ChatResult()  # the answer is the last round's text
        case.latency_s = time.perf_counter() - started
        return case


def _named(call: ToolCall, by_wire: dict[str, ToolSpec]) -> ToolCall:
    """The call under the tool's registry name (``fs/read_file``, not the wire's ``fs__read_file``)."""
    spec = by_wire.get(call.name)
    return call.model_copy(update={"name": spec.name}) if spec else call
