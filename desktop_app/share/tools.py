"""Tools in the share app's chat: only the tools the owner named when starting it, never asked about.

A browser visitor is not the owner, and nobody sits at the owner's desk to answer an approval prompt,
so the share app never asks. What it offers is fixed at start by ``modeldesk share --tools``:

- ``--tools`` alone: the built-in tools (calculator, current_time, convert_units; pure and bounded),
  minus those turned off with ``modeldesk tools disable``;
- ``--tools NAMES``: exactly these, comma-separated: built-in names, ``builtin`` for all of them, an MCP
  server's tool (``fs/read_file``) or all of one server's tools (``fs/*``). Naming an MCP tool here is the
  owner allowing every visitor's call of it, as ``chat --tools … --yes`` is for a script;
- ``*`` and ``all`` are refused: each server is named, so one added later is never shared by accident.

The names are resolved once at start (servers started, listed, stopped), so the startup message says
exactly which tools visitors can make run and a server that grows new tools does not widen the list;
in the chat a server starts again on the first call of one of its tools. The loop is ``services.tools.chat_with_tools`` with those tools in the session's "always"
set and no approver: a call of anything else is refused by the loop (it was not offered). What a tool
returns is stripped of the server's stderr tail (it stays on the owner's terminal) and of any secret
the server was given from the keyring, before the model or the visitor sees it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from desktop_app.core.errors import InvalidInput, redact
from desktop_app.core.tools import BUILTIN_PROVIDER, ToolResult, ToolSpec
from desktop_app.services.context import AppContext
from desktop_app.services.tools import ToolRegistry, ToolSession
from desktop_app.store.tools_config import ToolsConfigStore

__all__ = ["BUILTIN_KEYWORD", "ShareTools", "parse_share_tools"]

BUILTIN_KEYWORD = "builtin"
HIDDEN = "•••"


def parse_share_tools(value: str) -> list[str]:
    """``--tools`` as patterns for ``ToolRegistry.resolve``: ``builtin`` (the default) or names."""
    patterns = [p.strip() for p in value.split(",") if p.strip()]
    if not patterns:
        raise InvalidInput(
            "--tools needs tool names, e.g. --tools calculator, or nothing for the built-in ones."
        )
    for pattern in patterns:
        if pattern in ("*", "all") or pattern.split("/", 1)[0] == "*":
            raise InvalidInput(
                f"--tools {pattern} would share every tool server's tools with visitors.",
                hint="Name what to share: builtin for the built-in tools, fs/* for all of one server's "
                "tools, fs/read_file for one tool.",
            )
    return patterns


class _VisitorRegistry(ToolRegistry):
    """The registry the share app runs tools through: results as a visitor may see them."""

    async def run(
        self, spec: ToolSpec, arguments: dict[str, Any], timeout: float | None = None
    ) -> ToolResult:
        result = await super().run(spec, arguments, timeout)
        if spec.provider == BUILTIN_PROVIDER:
            return result
        text = result.text
        if result.is_error:  # "error: <what>\n--- its stderr (last lines) ---\n…": the first line only
            first = text.split("\n", 1)[0]
            if first != text:
                _tell_owner(f"tool {spec.name} failed for a visitor: {self.scrub(spec.provider, text)}")
            text = first
        return result.model_copy(update={"text": self.scrub(spec.provider, text)})

    def scrub(self, provider: str, text: str) -> str:
        """``text`` without the token and key-like environment values ``provider`` was given."""
        if not self.config.has(provider):
            return text
        config = self.config.server(provider)
        return redact(text, [self.store.token(config), *self.store.secret_env(config).values()], HIDDEN)


def _tell_owner(line: str) -> None:
    sys.stderr.write(f"warning: {line}\n")
    sys.stderr.flush()


class ShareTools:
    """The tools a share app offers: fixed names, run on the app's event loop, stopped with the app."""

    def __init__(self, registry: _VisitorRegistry, specs: Sequence[ToolSpec]) -> None:
        self.registry = registry
        self.specs = [s.model_copy() for s in specs]
        self.names = [s.name for s in specs]
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def resolve(cls, ctx: AppContext, patterns: Sequence[str]) -> ShareTools:
        """Check the owner's names now, before anything is served: an unknown name or a server that
        does not start is an error at the terminal, not a surprise in a visitor's chat."""
        registry = _VisitorRegistry(ToolsConfigStore(ctx.home / "tools.json", ctx.keys))
        builtin = [s.name for s in registry.builtin() if s.enabled]
        expanded = [name for p in patterns for name in (builtin if p == BUILTIN_KEYWORD else [p])]

        async def names() -> list[ToolSpec]:
            try:
                return await registry.resolve(expanded) if expanded else []
            finally:
                await registry.aclose()

        return cls(registry, asyncio.run(names()))

    def summary(self) -> str:
        """One line for the startup message: what visitors can make run."""
        return (
            ", ".join(self.names) + " — any visitor's function-calling model may run these, without asking"
            if self.names
            else "none (no tool matched)"
        )

    def session(self) -> ToolSession:
        """A chat's tools, each allowed without asking. Called on the app's event loop, where the MCP
        servers then start on a first call (and are stopped by ``close``)."""
        self._loop = asyncio.get_running_loop()
        return ToolSession(tools=list(self.specs), always=set(self.names))

    def close(self, timeout: float = 10.0) -> None:
        """Stop the servers chats started, on the loop that started them (from any other thread)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self.registry.aclose(), loop)
        try:
            future.result(timeout)
        except Exception:  # a timeout too: the app is stopping either way
            future.cancel()
