"""Local model management on hosts whose kind manages models (Ollama): pull (with progress), delete,
running models.

After a pull or delete the source is synced again so the registry (and every window) shows the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.chat import PullProgress
from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.kinds import KINDS, can_delete, kind_spec
from desktop_app.core.models import ModelType, SourceConfig, UnifiedModel
from desktop_app.services.context import AppContext
from desktop_app.services.sync import SyncReport, sync_source

if TYPE_CHECKING:
    from desktop_app.adapters.ollama import OllamaBackend

__all__ = [
    "DeleteCheck",
    "RunningModels",
    "can_delete",
    "delete_check",
    "delete_model",
    "fill_missing_facts",
    "manages_models",
    "missing_facts",
    "ollama_backend",
    "pull_model",
    "running_models",
]


def manages_models(config: SourceConfig) -> bool:
    """Whether the kinds table says this source can pull, delete and create models."""
    return config.spec is not None and config.spec.manages_models


def _hosts_label() -> str:
    return " or ".join(spec.label + "s" for spec in KINDS.values() if spec.manages_models) or "none"


def ollama_backend(ctx: AppContext, source: str | None = None) -> OllamaBackend:
    """The Ollama backend for ``source`` (default: the first enabled Ollama source)."""
    from desktop_app.adapters.ollama import OllamaBackend

    if source is None:
        candidates = [s for s in ctx.settings.enabled_sources() if manages_models(s)]
        if not candidates:
            raise InvalidInput(
                "No enabled Ollama source; add one with `modeldesk source add ollama NAME URL`."
            )
        config = candidates[0]
    else:
        config = ctx.settings.source(source)
        if not manages_models(config):
            raise InvalidInput(
                f"Source {source!r} is {config.kind}, not an Ollama host; only {_hosts_label()} can pull."
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


@dataclass(frozen=True)
class DeleteCheck:
    """What to tell the user before deleting ``model``, the same in the window and the CLI."""

    model: UnifiedModel
    allowed: bool
    reason: str = ""  # why it cannot be deleted, when not allowed
    variants: tuple[UnifiedModel, ...] = ()  # built on it: kept, but they cannot chat without it

    @property
    def warning(self) -> str:
        """The variants sentence (empty when none are built on it)."""
        if not self.variants:
            return ""
        names = ", ".join(v.id for v in self.variants[:5]) + (" …" if len(self.variants) > 5 else "")
        n = len(self.variants)
        return (
            f"{n} variant{'s are' if n != 1 else ' is'} built on it ({names}). "
            "They are kept but cannot chat until the base model is back."
        )


def delete_check(ctx: AppContext, model: UnifiedModel) -> DeleteCheck:
    from desktop_app.services.variants import children_of

    if not can_delete(model):
        return DeleteCheck(
            model,
            False,
            f"{model.id} is not a local model on a host ModelDesk manages; only those can be deleted.",
        )
    return DeleteCheck(model, True, variants=tuple(children_of(ctx, model)))


async def delete_model(ctx: AppContext, model: UnifiedModel) -> SyncReport:
    """Delete a local model from its host, then re-sync that host. Variants built on it are kept
    (they show their base as missing); callers warn first with :func:`delete_check`."""
    check = delete_check(ctx, model)
    if not check.allowed:
        raise InvalidInput(check.reason)
    backend = ollama_backend(ctx, model.provider)
    await backend.delete(model.native_name)
    return await sync_source(ctx, backend.config)


def missing_facts(model: UnifiedModel) -> list[str]:
    """Facts of a local Ollama model that ``/api/show`` can give and the registry lacks. A server whose
    ``/api/tags`` lists capabilities (v0.30+) is never asked ``/api/show`` during a sync, so a model can
    arrive without its context length."""
    spec = kind_spec(str(model.source))
    if model.model_type is not ModelType.BASE or spec is None or not spec.manages_models or not model.usable:
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


@dataclass
class RunningModels:
    """Models loaded in memory, by source name; ``failures`` says which hosts did not answer, and why."""

    by_source: dict[str, list[Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


async def running_models(ctx: AppContext, source: str | None = None) -> RunningModels:
    """``/api/ps`` of ``source``, or of every enabled host that manages models. Listing every host, one
    that fails is skipped and named in ``failures`` (the others still answer); an explicit ``source``
    that fails raises."""
    if source is not None:
        return RunningModels({source: list(await ollama_backend(ctx, source).ps())})
    result = RunningModels()
    for config in ctx.settings.enabled_sources():
        if manages_models(config):
            try:
                result.by_source[config.name] = list(await ollama_backend(ctx, config.name).ps())
            except ModelDeskError as exc:
                result.failures[config.name] = str(exc)
    return result
