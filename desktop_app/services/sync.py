"""Sync: ask every enabled source for its models, concurrently, and record each in the registry.

A source that is down keeps its models (marked ``offline``); a retired service keeps them marked
``retired``; models that vanished from a healthy source are removed. One source's failure never stops
another's sync. Each source's result is written in its own transaction (a streamed listing's new models
go in a batch at a time as they arrive, and come out again if the sync fails: ``store.registry.Staging``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import TypeVar

from pydantic import BaseModel

from desktop_app.adapters._http import on_reply
from desktop_app.core.errors import ModelDeskError, ServiceRetired, SourceTimeout, SourceUnavailable
from desktop_app.core.limits import Timeouts
from desktop_app.core.models import SourceConfig, SourceHealth, SourceState, UnifiedModel, utcnow
from desktop_app.core.stored import StoredModel
from desktop_app.services.context import AppContext
from desktop_app.store.registry import Staging

__all__ = ["SyncReport", "list_with_deadline", "source_message", "sync_all", "sync_source", "with_deadline"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class SyncReport(BaseModel):
    source: str
    health: SourceHealth
    message: str = ""
    hint: str = ""
    model_count: int = 0
    unreachable: bool = False  # no connection could be made (refused, no route): nothing is listening
    added: int = 0
    removed: int = 0
    # Whether the sync wrote any of the source's models: False when the registry already held them
    # exactly so (the window then has nothing to read again).
    changed: bool = True
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.health is SourceHealth.OK


ProgressCallback = Callable[[SyncReport], None]


def _count(models: Staging | list[UnifiedModel]) -> int:
    return len(models.ids) if isinstance(models, Staging) else len(models)


def source_message(exc: ModelDeskError, source: str) -> str:
    """The error's message without the ``<source>: `` prefix adapters add (callers show the source)."""
    prefix = f"{source}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


async def with_deadline(config: SourceConfig, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` for one source under its sync deadline: TimeoutError once no reply has arrived
    for ``sync_timeout`` seconds (each whole reply moves the deadline on, up to ``sync_cap`` after
    the start), so a server that never answers, stalls or trickles cannot hold a sync for long."""
    timeouts = Timeouts.from_options(config.options)
    loop = asyncio.get_running_loop()
    started = loop.time()
    cap = started + timeouts.sync_cap
    async with asyncio.timeout_at(started + timeouts.sync) as deadline:

        def moved_on() -> None:
            deadline.reschedule(min(loop.time() + timeouts.sync, cap))

        token = on_reply.set(moved_on)
        try:
            return await work()
        finally:
            on_reply.reset(token)


def _timed_out(config: SourceConfig, seconds: float) -> SourceTimeout:
    return SourceTimeout(
        f"{config.name}: timed out: no reply for {seconds:g} s (its sync timeout).",
        source=config.name,
        hint=(
            "Check that the server is working; if it is only slow, raise the limit with "
            f"`modeldesk source timeouts {config.name} --sync SECONDS`."
        ),
    )


async def list_with_deadline(ctx: AppContext, config: SourceConfig) -> tuple[str | None, list[UnifiedModel]]:
    """The source's version and models within its sync deadline (SourceTimeout otherwise)."""
    backend = ctx.backend(config)  # in the caller's try: a bad key reference fails this source only

    async def work() -> tuple[str | None, list[UnifiedModel]]:
        version = await backend.version()
        return version, await backend.list_models()

    try:
        return await with_deadline(config, work)
    except TimeoutError:
        raise _timed_out(config, Timeouts.from_options(config.options).sync) from None


_STAGE_BATCH = 1000  # rows put in the registry's staging table at a time


async def staged_with_deadline(
    ctx: AppContext, config: SourceConfig
) -> tuple[str | None, Staging | list[UnifiedModel]]:
    """Like ``list_with_deadline``, but a backend that can stream its listing (``listing()``: one
    ``StoredModel`` row at a time) has its models put in the registry a batch at a time while they
    arrive (``Staging``: new ones written, changed ones staged): a sync of 100,000 models holds neither
    the reply, nor a pydantic model per model, nor the rows."""
    backend = ctx.backend(config)
    listing = getattr(backend, "listing", None)
    if listing is None:
        return await list_with_deadline(ctx, config)
    staging = ctx.registry.stage(config.name)

    async def work() -> tuple[str | None, Staging]:
        version = await backend.version()
        batch: list[StoredModel] = []
        # Each full batch goes into the registry in a thread (it may be busy with another source's
        # write) while the next one is parsed.
        writing: asyncio.Future[None] | None = None
        try:
            async for row in listing():
                batch.append(row)
                if len(batch) >= _STAGE_BATCH:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(asyncio.to_thread(staging.add, batch))
                    batch = []
            if writing is not None:
                await writing
            writing = asyncio.ensure_future(asyncio.to_thread(staging.add, batch))
            await writing
        finally:
            if writing is not None and not writing.done():
                # A cancelled or timed-out sync takes its rows out after this batch is in, never
                # before (the thread cannot be stopped).
                with suppress(Exception):
                    await asyncio.shield(writing)
        return version, staging

    try:
        return await with_deadline(config, work)
    except TimeoutError:
        staging.abandon()
        raise _timed_out(config, Timeouts.from_options(config.options).sync) from None
    except BaseException:
        staging.abandon()
        raise


async def sync_source(ctx: AppContext, config: SourceConfig) -> SyncReport:
    started = time.perf_counter()
    models: Staging | list[UnifiedModel] | None = None
    version: str | None = None
    hint = ""
    unreachable = False
    try:
        version, models = await staged_with_deadline(ctx, config)
        health, message = SourceHealth.OK, f"{_count(models)} models"
    except ModelDeskError as exc:  # a source error, or e.g. a bad key reference
        health = SourceHealth.RETIRED if isinstance(exc, ServiceRetired) else SourceHealth.DOWN
        message, hint = source_message(exc, config.name), exc.hint
        unreachable = isinstance(exc, SourceUnavailable) and not isinstance(exc, SourceTimeout)
    except (RecursionError, MemoryError, ValueError, TypeError, KeyError, UnicodeError) as exc:
        # A reply no check foresaw still fails this source only, never every source's sync.
        log.exception("sync of %s failed unexpectedly", config.name)
        health = SourceHealth.DOWN
        message = f"its reply could not be handled ({type(exc).__name__}); see the log"
    state = SourceState(
        name=config.name,
        health=health,
        message=message if not hint else f"{message} — {hint}",
        model_count=_count(models) if models is not None else 0,
        version=version,
        checked_at=utcnow(),
    )
    # In a thread: another source's apply_sync holds the registry's lock while it writes, and waiting
    # for it on the event loop froze the window for as long.
    # The source may have been removed (by another process too) while it synced: apply_sync asks the
    # settings on disk inside its write, so a removed source's models are never written back.
    still = lambda: ctx.source_configured(config.name)  # noqa: E731
    if isinstance(models, Staging):
        known = await asyncio.to_thread(ctx.registry.apply_staged, models, state, still_configured=still)
        new_ids = models.ids
    else:
        known = await asyncio.to_thread(
            ctx.registry.apply_sync, config.name, models, state, still_configured=still
        )
        new_ids = {m.id for m in models} if models is not None else (known or set())
    if known is None:
        return SyncReport(
            source=config.name,
            health=SourceHealth.DISABLED,
            message="removed while it synced; nothing was recorded",
            seconds=time.perf_counter() - started,
        )
    return SyncReport(
        source=config.name,
        health=health,
        message=message,
        hint=hint,
        unreachable=unreachable,
        model_count=_count(models) if models is not None else len(known),
        added=len(new_ids - known),
        removed=len(known - new_ids),
        changed=not isinstance(models, Staging) or models.written > 0,
        seconds=time.perf_counter() - started,
    )


async def sync_all(
    ctx: AppContext,
    sources: Sequence[SourceConfig] | None = None,
    on_report: ProgressCallback | None = None,
) -> list[SyncReport]:
    """Sync the given (default: all enabled) sources concurrently; reports in settings order."""
    configs = list(sources) if sources is not None else ctx.settings.enabled_sources()

    async def one(config: SourceConfig) -> SyncReport:
        report = await sync_source(ctx, config)
        if on_report is not None:
            on_report(report)
        return report

    return list(await asyncio.gather(*(one(c) for c in configs)))
