"""Local model management on Ollama hosts: pull (with progress), delete, running models.

After a pull or delete the source is synced again so the registry (and every window) shows the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from desktop_app.core.chat import PullProgress
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import ModelType, SourceKind, UnifiedModel
from desktop_app.services.context import AppContext
from desktop_app.services.sync import SyncReport, sync_source

if TYPE_CHECKING:
    from desktop_app.adapters.ollama import OllamaBackend

__all__ = [
    "delete_model",
    "fill_missing_facts",
    "missing_facts",
    "ollama_backend",
    "pull_model",
    "running_models",
]


def ollama_backend(ctx: AppContext, source: str | None = None) -> OllamaBackend:
    """The Ollama backend for ``source`` (default: the first enabled Ollama source)."""
    from desktop_app.adapters.ollama import OllamaBackend

    if source is None:
        candidates = [s for s in ctx.settings.enabled_sources() if s.kind is SourceKind.OLLAMA]
        if not candidates:
            raise InvalidInput(
                "No enabled Ollama source; add one with `modeldesk source add ollama NAME URL`."
            )
        config = candidates[0]
    else:
        config = ctx.settings.source(source)
        if config.kind is not SourceKind.OLLAMA:
            raise InvalidInput(
                f"Source {source!r} is {config.kind.value}, not an Ollama host; only Ollama hosts can pull."
            )
    backend = ctx.backend(config)
    assert isinstance(backend, OllamaBackend)
    return backend


async def pull_model(ctx: AppContext, name: str, source: str | None = None) -> AsyncIterator[PullProgress]:
    """Stream pull progress; when it ends with success the source is synced. Closing the iterator
    (or cancelling the task) closes the connection, which cancels the pull on the server."""
    name = name.strip()
    if not name or any(ch.isspace() for ch in name):
        raise InvalidInput(f"{name!r} is not a model name (e.g. llama3.2 or qwen3:8b).")
    backend = ollama_backend(ctx, source)
    async for progress in backend.pull(name):
        yield progress
    await sync_source(ctx, backend.config)


async def delete_model(ctx: AppContext, model: UnifiedModel) -> SyncReport:
    """Delete a local model from its host, then re-sync that host. Variants built on it are kept
    (they show their base as missing); callers warn first using ``services.variants.children_of``."""
    if model.model_type is not ModelType.BASE or model.source is not SourceKind.OLLAMA:
        raise InvalidInput(f"{model.id} is not a local Ollama model; only those can be deleted from a host.")
    backend = ollama_backend(ctx, model.provider)
    await backend.delete(model.native_name)
    return await sync_source(ctx, backend.config)


def missing_facts(model: UnifiedModel) -> list[str]:
    """Facts of a local Ollama model that ``/api/show`` can give and the registry lacks. A server whose
    ``/api/tags`` lists capabilities (v0.30+) is never asked ``/api/show`` during a sync, so a model can
    arrive without its context length."""
    if model.model_type is not ModelType.BASE or model.source is not SourceKind.OLLAMA or not model.usable:
        return []
    wanted = {"context_length": model.context_length, "family": model.family}
    wanted["parameter_size"] = model.parameter_size
    wanted["quantization"] = model.quantization
    return [k for k, v in wanted.items() if v is None]


async def fill_missing_facts(ctx: AppContext, model: UnifiedModel) -> UnifiedModel | None:
    """Ask the model's host (``/api/show``) for the facts it is missing, store them in the registry and
    return the completed model; None when nothing was missing or the host told nothing new."""
    missing = missing_facts(model)
    if not missing:
        return None
    backend = ollama_backend(ctx, model.provider)
    show = await backend.show(model.native_name)
    found: dict[str, Any] = {
        "context_length": show.context_length,
        "family": show.details.family,
        "parameter_size": show.details.parameter_size,
        "quantization": show.details.quantization_level,
    }
    update = {k: v for k, v in found.items() if k in missing and v}
    if not update:
        return None
    done = model.model_copy(update=update)
    await asyncio.to_thread(ctx.registry.upsert, [done])
    return done


async def running_models(ctx: AppContext) -> dict[str, list[Any]]:
    """``/api/ps`` of every enabled Ollama host, by source name (hosts that fail are skipped)."""
    result: dict[str, list[Any]] = {}
    for config in ctx.settings.enabled_sources():
        if config.kind is SourceKind.OLLAMA:
            result[config.name] = list(await ollama_backend(ctx, config.name).ps())
    return result
