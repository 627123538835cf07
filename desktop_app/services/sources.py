"""Choosing the adapter for a configured source, and managing the sources list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.store.keys import KeyStore

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext
    from desktop_app.store.settings import Settings

__all__ = [
    "add_source",
    "make_backend",
    "remove_source",
    "set_concurrency",
    "set_enabled",
    "set_model_capabilities",
    "update_source",
]


def make_backend(config: SourceConfig, keys: KeyStore, rules: CategoryRules) -> ModelBackend:
    if config.kind is SourceKind.OLLAMA:
        from desktop_app.adapters.ollama import OllamaBackend

        return OllamaBackend(config, rules=rules)
    if config.kind is SourceKind.GITHUB_MODELS:
        from desktop_app.adapters.github_models import GitHubModelsBackend

        return GitHubModelsBackend(config, api_key=keys.resolve(config), rules=rules)
    if config.kind is SourceKind.OPENAI_COMPAT:
        from desktop_app.adapters.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config, api_key=keys.resolve(config), rules=rules)
    raise ValueError(f"no adapter for source kind {config.kind}")


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


def remove_source(ctx: AppContext, name: str, *, keep_models: bool = False) -> int:
    """Remove a source from settings; its base models leave the registry unless ``keep_models``.

    Settings first, registry second: a sync of this source still running checks the settings inside
    its registry write (see ``sync_source``), so it either writes before ``forget_source`` removes its
    models or sees the source gone and writes nothing."""
    ctx.update_settings(lambda settings: settings.sources.remove(settings.source(name)))
    return 0 if keep_models else ctx.registry.forget_source(name)


def update_source(
    ctx: AppContext, name: str, *, new_name: str | None = None, base_url: str | None = None
) -> SourceConfig:
    """Rename a source or change its URL (checked as ``add_source`` checks them). A renamed source keeps
    its key (``key_ref`` names the old entry); its models get new ids at the next sync, and the caller
    forgets the old ones (``registry.forget_source(old name)``)."""
    from desktop_app.adapters._http import validate_base_url

    url = validate_base_url(base_url.strip()) if base_url is not None else None
    wanted = new_name.strip() if new_name is not None else None
    if wanted is not None and wanted != name:
        try:
            SourceConfig(name=wanted, kind=SourceKind.OLLAMA, base_url="http://127.0.0.1")
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            reason = errors()[0]["msg"] if callable(errors) else str(exc)
            raise InvalidInput(
                f"Invalid source name {wanted!r}: {reason.removeprefix('Value error, ')}"
            ) from None

    def change(settings: Settings) -> SourceConfig:
        config = settings.source(name)
        update: dict[str, object] = {}
        if url is not None and url != config.base_url:
            update["base_url"] = url
        if wanted is not None and wanted != name:
            if any(s.name == wanted for s in settings.sources):
                raise InvalidInput(f"A source named {wanted!r} already exists; pick another name.")
            update["name"] = wanted
            if config.kind is not SourceKind.OLLAMA:
                update["key_ref"] = config.key_ref or name
        if not update:
            return config
        changed = config.model_copy(update=update)
        settings.sources[settings.sources.index(config)] = changed
        return changed

    return ctx.update_settings(change)


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
        if config.kind is not SourceKind.OPENAI_COMPAT:
            raise InvalidInput(
                f"Source {source!r} is {config.kind.value}; it reports capabilities itself. "
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
