"""`modeldesk doctor`: check the data folder, the registry and every source, and say what to fix."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel

from desktop_app.core.errors import ModelDeskError, ServiceRetired
from desktop_app.core.models import ModelStatus, SourceConfig
from desktop_app.core.urls import mask_url
from desktop_app.services.context import AppContext
from desktop_app.services.sync import list_with_deadline, source_message
from desktop_app.store.registry import ModelFilter

__all__ = ["Check", "run_checks"]

Level = Literal["ok", "warn", "fail"]


class Check(BaseModel):
    name: str
    level: Level
    message: str
    hint: str = ""


async def _check_source(ctx: AppContext, config: SourceConfig) -> Check:
    name = f"source {config.name} ({config.kind}, {mask_url(config.base_url)})"
    if config.problem:  # an unknown kind: kept in settings, never used; a failure only while enabled
        return Check(name=name, level="fail" if config.enabled else "warn", message=config.problem)
    if not config.enabled:
        return Check(name=name, level="ok", message="disabled")
    try:
        version, models = await list_with_deadline(ctx, config)
    except ServiceRetired as exc:
        kept = len(ctx.registry.list_models(ModelFilter(provider=config.name)))
        return Check(
            name=name,
            level="fail",
            message=f"retired: {source_message(exc, config.name)} ({kept} models kept in the registry, marked retired)",
            hint=exc.hint,
        )
    except ModelDeskError as exc:
        return Check(name=name, level="fail", message=source_message(exc, config.name), hint=exc.hint)
    detail = f"{len(models)} models" + (f", server {version}" if version else "")
    # The warning is about where keys are kept: only for a source that has one (a local llama.cpp or
    # LiteLLM without a master key needs none, and answered without one).
    needs_key = config.spec is not None and config.spec.needs_key
    if needs_key and ctx.keys.warning and ctx.keys.origin(config) is not None:
        return Check(name=name, level="warn", message=f"reachable, {detail}", hint=ctx.keys.warning)
    return Check(name=name, level="ok", message=f"reachable, {detail}")


async def run_checks(ctx: AppContext) -> list[Check]:
    checks = [Check(name="data folder", level="ok", message=str(ctx.home))]
    for notice in ctx.notices:
        checks.append(Check(name="files", level="warn", message=notice))
    total = ctx.registry.count()
    offline = (
        sum(1 for m in ctx.registry.list_models() if m.status is not ModelStatus.AVAILABLE) if total else 0
    )
    reg_msg = f"{total} models" + (f", {offline} not available" if offline else "")
    checks.append(
        Check(
            name="registry",
            level="ok" if total else "warn",
            message=f"{ctx.registry.path}: {reg_msg}",
            hint="" if total else "Run `modeldesk sync` to fill it.",
        )
    )
    if not ctx.settings.sources:
        checks.append(
            Check(
                name="sources",
                level="fail",
                message="no sources configured",
                hint="Add one with `modeldesk source add`.",
            )
        )
    checks.extend(await asyncio.gather(*(_check_source(ctx, s) for s in ctx.settings.sources)))
    return checks
