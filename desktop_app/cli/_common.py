"""Helpers shared by command modules: running async handlers with an AppContext, printing."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from desktop_app.services.context import AppContext

__all__ = ["context", "open_context", "print_json", "run_async", "warn", "warn_unusable_sources"]

T = TypeVar("T")


def warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def warn_unusable_sources(ctx: AppContext) -> None:
    """One warning per configured source this version cannot use (an unknown kind)."""
    for config in ctx.settings.sources:
        if config.problem:
            warn(config.problem)


def open_context() -> AppContext:
    ctx = AppContext.open()
    for notice in ctx.notices:
        warn(notice)
    return ctx


def run_async(fn: Callable[[AppContext], Awaitable[T]]) -> T:
    """Open the context, run ``fn`` on a fresh event loop, close every client and the registry."""
    ctx = open_context()

    async def runner() -> T:
        try:
            return await fn(ctx)
        finally:
            await ctx.aclose()

    try:
        return asyncio.run(runner())
    finally:
        ctx.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


@contextmanager
def context() -> Iterator[AppContext]:
    """``with context() as ctx:`` — the AppContext of a synchronous command, closed on the way out."""
    ctx = open_context()
    try:
        yield ctx
    finally:
        ctx.close()


def read_secret(prompt: str, noun: str) -> str:
    """A secret (``prompt``: "API key for work"; ``noun``: "key") read without echo on a terminal, or
    one line of stdin when piped; never a command-line argument, so it stays out of shell history."""
    from desktop_app.core.errors import InvalidInput

    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        try:
            return getpass.getpass(f"{prompt} (input hidden): ")
        except EOFError:
            return ""
    if stdin is None:
        raise InvalidInput(f"No terminal and no stdin to read the {noun} from.")
    return stdin.readline()
