"""`chat MODEL "…" --tools calculator,fs/* [--yes]`: a chat whose model may call tools.

Each call is shown on stderr and asked about on the terminal (y: once, a: always for this tool, n: no);
``--yes`` allows every call of the chosen tools. Without a terminal and without ``--yes`` the command
refuses before anything is sent: nothing runs unasked. Results are printed cut to a screenful (the model
gets up to the loop's limit; ``--json`` carries them whole).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import print_json, run_async, warn
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatResult
from desktop_app.core.errors import InvalidInput
from desktop_app.core.tools import Approval, ToolCallEvent, ToolResultEvent, describe_call
from desktop_app.services.context import AppContext
from desktop_app.services.tools import DEFAULT_MAX_ROUNDS, ToolRegistry, ToolSession, chat_with_tools

__all__ = ["add_arguments", "cmd_chat_with_tools"]

SHOWN_RESULT_CHARS = 2_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tools",
        metavar="NAMES",
        help="let the model call these tools: comma-separated names or patterns (calculator,fs/*); "
        "see `modeldesk tools list`",
    )
    p.add_argument("--yes", action="store_true", help="with --tools: allow every call without asking")
    p.add_argument(
        "--max-rounds",
        type=int,
        default=DEFAULT_MAX_ROUNDS,
        help="with --tools: most tool rounds (default 8)",
    )


def _can_ask() -> bool:
    return bool(sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty())


def _think(args: argparse.Namespace) -> bool | str | None:
    """--think [LEVEL] / --no-think as chat reads them (None: the model's own default)."""
    value = getattr(args, "think", None)
    return value if value is None or isinstance(value, bool | str) else None


async def _ask(event: ToolCallEvent) -> Approval:
    name = event.spec.name if event.spec else event.call.name
    prompt = f"Run {describe_call(name, event.call.arguments)}? [y]es once, [a]lways for {name}, [n]o: "
    while True:
        sys.stderr.write(prompt)
        sys.stderr.flush()
        try:
            answer = (await asyncio.to_thread(sys.stdin.readline)).strip().lower()
        except (EOFError, OSError):
            return Approval.DENY
        if answer in ("y", "yes"):
            return Approval.ONCE
        if answer in ("a", "always"):
            return Approval.ALWAYS
        if answer in ("n", "no", ""):
            return Approval.DENY


def _show_result(event: ToolResultEvent) -> None:
    text = event.result.text
    if len(text) > SHOWN_RESULT_CHARS:
        text = (
            text[:SHOWN_RESULT_CHARS]
            + f"\n… ({len(event.result.text) - SHOWN_RESULT_CHARS:,} more characters)"
        )
    mark = "denied" if not event.approved else ("error" if event.result.is_error else "result")
    body = "\n".join("  " + line for line in text.splitlines()) or "  (empty)"
    sys.stderr.write(f"[{event.name} {mark}]\n{body}\n")
    sys.stderr.flush()


def cmd_chat_with_tools(args: argparse.Namespace, messages: list[ChatMessage], options: ChatOptions) -> int:
    patterns = [p.strip() for p in args.tools.split(",") if p.strip()]
    if not patterns:
        raise InvalidInput("--tools needs at least one tool name, e.g. --tools calculator.")
    if args.max_rounds < 1:
        raise InvalidInput("--max-rounds must be 1 or more.")
    if not args.yes and not _can_ask():
        raise InvalidInput(
            "--tools asks before each tool call, and there is no terminal to ask on.",
            hint="Pass --yes to allow every call of the tools you named, or run it in a terminal.",
        )
    result = ChatResult()
    calls: list[dict[str, Any]] = []

    async def go(ctx: AppContext) -> None:
        registry = ToolRegistry.open(ctx)
        try:
            tools = await registry.resolve(patterns)
            session = ToolSession(tools=tools, allow_all=args.yes, max_rounds=args.max_rounds)
            async for event in chat_with_tools(
                ctx,
                registry,
                args.id,
                messages,
                options,
                session=session,
                approve=_ask,
                think=_think(args),
                on_wait=lambda s, msg: warn(msg),
            ):
                if isinstance(event, ChatChunk):
                    result.add(event)
                    if event.content and not args.json:
                        sys.stdout.write(event.content)
                        sys.stdout.flush()
                elif isinstance(event, ToolCallEvent):
                    name = event.spec.name if event.spec else event.call.name
                    if not args.json:
                        sys.stdout.flush()
                        sys.stderr.write(f"\n[tool call] {describe_call(name, event.call.arguments)}\n")
                else:
                    calls.append(
                        {
                            "tool": event.name,
                            "arguments": event.call.arguments,
                            "approved": event.approved,
                            "is_error": event.result.is_error,
                            "result": event.result.text,
                        }
                    )
                    if not args.json:
                        _show_result(event)
        finally:
            await registry.aclose()

    run_async(go)
    if args.json:
        print_json(
            {
                "model": args.id,
                "text": result.content,
                "thinking": result.thinking,
                "tool_calls": calls,
                "metrics": result.metrics.model_dump(),
            }
        )
    elif not result.content.endswith("\n"):
        sys.stdout.write("\n")
    return EXIT_OK
