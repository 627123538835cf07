"""Sync: ask every enabled source for its models, concurrently, and record each in the registry.

A source that is down keeps its models (marked ``offline``); a retired service keeps them marked
``retired``; models that vanished from a healthy source are removed. One source's failure never stops
another's sync. Each source's result is written in its own transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from desktop_app.core.errors import ModelDeskError, ServiceRetired, SourceTimeout, SourceUnavailable
from desktop_app.core.models import SourceConfig, SourceHealth, SourceState, UnifiedModel, utcnow
from desktop_app.services.context import AppContext

__all__ = ["SyncReport", "source_message", "sync_all", "sync_source"]


class SyncReport(BaseModel):
    source: str
    health: SourceHealth
    message: str = ""
    hint: str = ""
    model_count: int = 0
    unreachable: bool = False  # no connection could be made (refused, no route): nothing is listening
    added: int = 0
    removed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.health is SourceHealth.OK


ProgressCallback = Callable[[SyncReport], None]


def source_message(exc: ModelDeskError, source: str) -> str:
    """The error's message without the ``<source>: `` prefix adapters add (callers show the source)."""
    prefix = f"{source}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


async def sync_source(ctx: AppContext, config: SourceConfig) -> SyncReport:
    started = time.perf_counter()
    models: list[UnifiedModel] | None = None
    version: str | None = None
    hint = ""
    unreachable = False
    try:
        backend = ctx.backend(config)  # inside the try: a bad key reference fails this source only
        version = await backend.version()
        models = await backend.list_models()
        health, message = SourceHealth.OK, f"{len(models)} models"
    except ModelDeskError as exc:  # a source error, or e.g. a bad key reference
        health = SourceHealth.RETIRED if isinstance(exc, ServiceRetired) else SourceHealth.DOWN
        message, hint = source_message(exc, config.name), exc.hint
        unreachable = isinstance(exc, SourceUnavailable) and not isinstance(exc, SourceTimeout)
    state = SourceState(
        name=config.name,
        health=health,
        message=message if not hint else f"{message} — {hint}",
        model_count=len(models) if models is not None else 0,
        version=version,
        checked_at=utcnow(),
    )
    # In a thread: another source's apply_sync holds the registry's lock while it writes, and waiting
    # for it on the event loop froze the window for as long.
    # The source may have been removed (by another process too) while it synced: apply_sync asks the
    # settings on disk inside its write, so a removed source's models are never written back.
    known = await asyncio.to_thread(
        ctx.registry.apply_sync,
        config.name,
        models,
        state,
        still_configured=lambda: ctx.source_configured(config.name),
    )
    if known is None:
        return SyncReport(
            source=config.name,
            health=SourceHealth.DISABLED,
            message="removed while it synced; nothing was recorded",
            seconds=time.perf_counter() - started,
        )
    new_ids = {m.id for m in models} if models is not None else known
    return SyncReport(
        source=config.name,
        health=health,
        message=message,
        hint=hint,
        unreachable=unreachable,
        model_count=len(models) if models is not None else len(known),
        added=len(new_ids - known),
        removed=len(known - new_ids),
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
