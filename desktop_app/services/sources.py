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

__all__ = [
    "add_source",
    "make_backend",
    "remove_source",
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
    if any(s.name == config.name for s in ctx.settings.sources):
        raise InvalidInput(
            f"A source named {config.name!r} already exists; pick another name or remove it first."
        )
    ctx.settings.sources.append(config)
    ctx.save_settings()
    return config


def remove_source(ctx: AppContext, name: str, *, keep_models: bool = False) -> int:
    """Remove a source from settings; its base models leave the registry unless ``keep_models``."""
    config = ctx.settings.source(name)
    ctx.settings.sources.remove(config)
    ctx.save_settings()
    return 0 if keep_models else ctx.registry.forget_source(name)


def update_source(
    ctx: AppContext, name: str, *, new_name: str | None = None, base_url: str | None = None
) -> SourceConfig:
    """Rename a source or change its URL (checked as ``add_source`` checks them). A renamed source keeps
    its key (``key_ref`` names the old entry); its models get new ids at the next sync, and the caller
    forgets the old ones (``registry.forget_source(old name)``)."""
    from desktop_app.adapters._http import validate_base_url

    config = ctx.settings.source(name)
    update: dict[str, object] = {}
    if base_url is not None and base_url.strip() != config.base_url:
        update["base_url"] = validate_base_url(base_url.strip())
    if new_name is not None and new_name.strip() != name:
        new_name = new_name.strip()
        if any(s.name == new_name for s in ctx.settings.sources):
            raise InvalidInput(f"A source named {new_name!r} already exists; pick another name.")
        try:
            SourceConfig(name=new_name, kind=config.kind, base_url=config.base_url)
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            reason = errors()[0]["msg"] if callable(errors) else str(exc)
            raise InvalidInput(
                f"Invalid source name {new_name!r}: {reason.removeprefix('Value error, ')}"
            ) from None
        update["name"] = new_name
        if config.kind is not SourceKind.OLLAMA:
            update["key_ref"] = config.key_ref or name
    if not update:
        return config
    changed = config.model_copy(update=update)
    ctx.settings.sources[ctx.settings.sources.index(config)] = changed
    ctx.save_settings()
    return changed


def set_enabled(ctx: AppContext, name: str, enabled: bool) -> None:
    config = ctx.settings.source(name)
    config.enabled = enabled
    ctx.save_settings()


def set_model_capabilities(
    ctx: AppContext, source: str, remote_id: str, capabilities: list[str] | None
) -> None:
    """Capabilities the user sets by hand for a model of an OpenAI-compatible source (which publishes no
    metadata). Kept in the source's settings so they survive every sync; ``None`` clears them."""
    config = ctx.settings.source(source)
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
    ctx.save_settings()
