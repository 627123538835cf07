"""Choosing the adapter for a configured source, and managing the sources list."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import InvalidInput, UnsupportedKind
from desktop_app.core.kinds import unsupported_kind_message
from desktop_app.core.models import SourceConfig
from desktop_app.store.keys import KeyStore

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext
    from desktop_app.store.settings import Settings

__all__ = [
    "SourceRemoval",
    "add_source",
    "make_backend",
    "remove_source",
    "set_concurrency",
    "set_enabled",
    "set_model_capabilities",
]


def make_backend(config: SourceConfig, keys: KeyStore, rules: CategoryRules) -> ModelBackend:
    """The adapter the kinds table names for this source, imported on first use. A kind the table
    does not know raises ``UnsupportedKind`` (a per-source error: sync and doctor report it)."""
    spec = config.spec
    if spec is None:
        raise UnsupportedKind(unsupported_kind_message(config.name, config.kind), source=config.name, hint="")
    factory = spec.factory
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    if spec.needs_key:
        backend: ModelBackend = factory(config, api_key=keys.resolve(config), rules=rules)
    else:
        backend = factory(config, rules=rules)
    return backend


def add_source(ctx: AppContext, config: SourceConfig) -> SourceConfig:
    """Add a source after checking its URL (InvalidInput says what is wrong); names are unique."""
    from desktop_app.adapters._http import validate_base_url

    config = config.model_copy(update={"base_url": validate_base_url(config.base_url)})

    def add(settings: Settings) -> None:
        if any(s.name == config.name for s in settings.sources):
            raise InvalidInput(
                f"A source named {config.name!r} already exists; pick another name or remove it first."
            )
        settings.sources.append(config)

    ctx.update_settings(add)
    return config


@dataclass(frozen=True)
class SourceRemoval:
    """What ``remove_source`` did: how many models left the registry, and what became of the key."""

    name: str
    models_removed: int
    key_deleted: bool = False
    key_note: str = ""  # why a key was kept although asked to delete it, else ""


def remove_source(
    ctx: AppContext, name: str, *, delete_key: bool, keep_models: bool = False
) -> SourceRemoval:
    """Remove a source from settings; its base models leave the registry unless ``keep_models``, and
    its stored key is forgotten when ``delete_key`` (unless another source still uses the same entry).
    The window and the CLI both call this, so they do the same thing.

    Settings first, registry second: a sync of this source still running checks the settings inside
    its registry write (see ``sync_source``), so it either writes before ``forget_source`` removes its
    models or sees the source gone and writes nothing."""

    def remove(settings: Settings) -> tuple[SourceConfig, bool]:
        config = settings.source(name)
        settings.sources.remove(config)
        ref = ctx.keys.ref_for(config)
        return config, any(ctx.keys.ref_for(other) == ref for other in settings.sources)

    config, shared = ctx.update_settings(remove)
    removed = 0 if keep_models else ctx.registry.forget_source(name)
    if not delete_key:
        return SourceRemoval(name, removed)
    if shared:
        note = f"its key entry {ctx.keys.ref_for(config)!r} is kept: another source uses it"
        return SourceRemoval(name, removed, key_note=note)
    return SourceRemoval(name, removed, key_deleted=ctx.keys.delete(ctx.keys.ref_for(config)))


def set_enabled(ctx: AppContext, name: str, enabled: bool) -> None:
    def change(settings: Settings) -> None:
        settings.source(name).enabled = enabled

    ctx.update_settings(change)


def set_model_capabilities(
    ctx: AppContext, source: str, remote_id: str, capabilities: list[str] | None
) -> None:
    """Capabilities the user sets by hand for a model of an OpenAI-compatible source (which publishes no
    metadata). Kept in the source's settings so they survive every sync; ``None`` clears them."""

    def change(settings: Settings) -> None:
        config = settings.source(source)
        if config.spec is None or not config.spec.hand_set_capabilities:
            raise InvalidInput(
                f"Source {source!r} is {config.kind}; it reports capabilities itself. "
                "Only OpenAI-compatible sources take hand-set capabilities."
            )
        table = dict(config.options.get("capabilities") or {})
        if capabilities is None:
            table.pop(remote_id, None)
        else:
            table[remote_id] = sorted({c.strip().lower() for c in capabilities if c.strip()})
        config.options = {**config.options, "capabilities": table}

    ctx.update_settings(change)


def set_concurrency(ctx: AppContext, source: str, limit: int | None) -> None:
    """How many requests an evaluation sends to this source at once (``options["concurrency"]``);
    ``None`` goes back to the default (2 per Ollama host, 1 per OpenAI-compatible server, GitHub
    Models by rate-limit tier)."""
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise InvalidInput(f"A source's concurrency must be 1 or more, not {limit}.")

    def change(settings: Settings) -> None:
        config = settings.source(source)
        options = {k: v for k, v in config.options.items() if k != "concurrency"}
        if limit is not None:
            options["concurrency"] = limit
        config.options = options

    ctx.update_settings(change)
