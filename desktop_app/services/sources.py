"""Choosing the adapter for a configured source, and managing the sources list."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.limits import TIMEOUT_OPTIONS, parse_seconds
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.urls import check_base_url, split_credentials
from desktop_app.store.keys import KeyOrigin, KeyStore

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext
    from desktop_app.store.settings import Settings

__all__ = [
    "LOGIN_OPTION",
    "add_source",
    "login_notice",
    "make_backend",
    "migrate_url_credentials",
    "remove_source",
    "set_concurrency",
    "set_enabled",
    "set_model_capabilities",
    "set_timeouts",
]

# options[LOGIN_OPTION] names the key-store entry of the basic-auth login taken out of the URL.
LOGIN_OPTION = "basic_auth"


def _login(config: SourceConfig, keys: KeyStore) -> tuple[str, str] | None:
    ref = config.options.get(LOGIN_OPTION)
    return keys.login(ref) if isinstance(ref, str) and ref else None


def make_backend(config: SourceConfig, keys: KeyStore, rules: CategoryRules) -> ModelBackend:
    if config.kind is SourceKind.OLLAMA:
        from desktop_app.adapters.ollama import OllamaBackend

        return OllamaBackend(config, rules=rules, basic_auth=_login(config, keys))
    if config.kind is SourceKind.GITHUB_MODELS:
        from desktop_app.adapters.github_models import GitHubModelsBackend

        return GitHubModelsBackend(
            config, api_key=keys.resolve(config), rules=rules, basic_auth=_login(config, keys)
        )
    if config.kind is SourceKind.OPENAI_COMPAT:
        from desktop_app.adapters.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(
            config, api_key=keys.resolve(config), rules=rules, basic_auth=_login(config, keys)
        )
    raise ValueError(f"no adapter for source kind {config.kind}")


def _adopt_credentials(ctx: AppContext, config: SourceConfig) -> tuple[SourceConfig, KeyOrigin | None]:
    """The config with any ``user:password@`` taken out of its URL and stored in the key store (the
    source then sends it as HTTP basic auth); where it went, or None when the URL had none."""
    clean, creds = split_credentials(config.base_url)
    if creds is None:
        return config, None
    ref = f"{config.name}:login"
    origin = ctx.keys.set_login(ref, creds.username, creds.password)
    options = {**config.options, LOGIN_OPTION: ref}
    return config.model_copy(update={"base_url": clean, "options": options}), origin


def login_notice(ctx: AppContext, config: SourceConfig, origin: KeyOrigin) -> str:
    """What to tell the user when a URL's credentials were moved (never the credentials)."""
    where = "the system keyring" if origin is KeyOrigin.KEYRING else f"{ctx.keys.file} (readable only by you)"
    return (
        f"The user name and password in the URL of {config.name} were moved to {where} and are sent as "
        f"HTTP basic auth; the URL is kept without them ({config.base_url})."
    )


def add_source(ctx: AppContext, config: SourceConfig) -> SourceConfig:
    """Add a source after checking its URL (InvalidInput says what is wrong); names are unique.

    Credentials in the URL go to the key store, never to settings; ``ctx.notices`` gets a line
    saying so (the CLI and the window show it)."""
    clean, _ = split_credentials(config.base_url)
    check_base_url(clean)
    if any(s.name == config.name for s in ctx.settings.sources):  # before any key is stored
        raise InvalidInput(
            f"A source named {config.name!r} already exists; pick another name or remove it first."
        )
    config, origin = _adopt_credentials(ctx, config)
    config = config.model_copy(update={"base_url": check_base_url(config.base_url)})

    def add(settings: Settings) -> None:
        if any(s.name == config.name for s in settings.sources):
            raise InvalidInput(
                f"A source named {config.name!r} already exists; pick another name or remove it first."
            )
        settings.sources.append(config)

    ctx.update_settings(add)
    if origin is not None:
        ctx.notices.append(login_notice(ctx, config, origin))
    return config


def remove_source(ctx: AppContext, name: str, *, keep_models: bool = False) -> int:
    """Remove a source from settings (and the login taken from its URL, if any); its base models
    leave the registry unless ``keep_models``.

    Settings first, registry second: a sync of this source still running checks the settings inside
    its registry write (see ``sync_source``), so it either writes before ``forget_source`` removes its
    models or sees the source gone and writes nothing."""

    def remove(settings: Settings) -> SourceConfig:
        config = settings.source(name)
        settings.sources.remove(config)
        return config

    config = ctx.update_settings(remove)
    login = config.options.get(LOGIN_OPTION)
    if isinstance(login, str) and login:
        ctx.keys.delete(login)  # a login moved out of the URL belongs to this source only
    return 0 if keep_models else ctx.registry.forget_source(name)


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


def migrate_url_credentials(ctx: AppContext) -> list[str]:
    """Move credentials found in the URLs of loaded settings (written by an older ModelDesk or by
    hand) to the key store, scrub them from the registry, and save; one notice per source moved."""
    notices: list[str] = []
    moved_configs: dict[str, tuple[str, SourceConfig]] = {}
    for i, config in enumerate(ctx.settings.sources):
        _, creds = split_credentials(config.base_url)
        if creds is None:
            continue
        userinfo = config.base_url.strip().partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        try:
            moved, origin = _adopt_credentials(ctx, config)
        except ModelDeskError as exc:  # e.g. the key file cannot be written: the source stays unusable
            notices.append(
                f"The URL of {config.name} holds a user name and password that could not be moved to "
                f"the keyring ({exc.message}); that source is not used until they are."
            )
            continue
        ctx.settings.sources[i] = moved
        moved_configs[config.name] = (config.base_url, moved)
        with suppress(ModelDeskError):  # a busy registry: the next sync rewrites those records anyway
            ctx.registry.scrub(config.name, f"{userinfo}@", "")
        if origin is not None:
            notices.append(login_notice(ctx, moved, origin))
    if moved_configs:

        def replace(settings: Settings) -> None:
            for j, current in enumerate(settings.sources):
                old = moved_configs.get(current.name)
                if old is not None and current.base_url == old[0]:  # unchanged since we read it
                    settings.sources[j] = old[1]

        ctx.update_settings(replace)
    return notices


def set_timeouts(ctx: AppContext, name: str, **seconds: float | str | None) -> dict[str, float]:
    """Set a source's ``connect``/``read``/``sync`` timeouts (seconds; ``None`` leaves one as it is,
    ``"default"`` clears it); returns the values now stored."""

    def change(settings: Settings) -> dict[str, Any]:
        config = settings.source(name)
        options = dict(config.options)
        for field, value in seconds.items():
            key = TIMEOUT_OPTIONS.get(field)
            if key is None:
                raise InvalidInput(f"Unknown timeout {field!r}: use connect, read or sync.")
            if value is None:
                continue
            if value == "default":
                options.pop(key, None)
            else:
                options[key] = parse_seconds(value, f"the {field} timeout")
        config.options = options
        return options

    options = ctx.update_settings(change)
    return {f: float(options[k]) for f, k in TIMEOUT_OPTIONS.items() if k in options}
