"""Choosing the adapter for a configured source, and managing the sources list."""

from __future__ import annotations

import importlib
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import InvalidInput, ModelDeskError, UnsupportedKind
from desktop_app.core.kinds import unsupported_kind_message
from desktop_app.core.limits import TIMEOUT_OPTIONS, parse_seconds
from desktop_app.core.models import SourceConfig
from desktop_app.core.pools import POOL_PREFIX
from desktop_app.core.urls import check_base_url, split_credentials
from desktop_app.core.variants import VARIANT_PREFIX
from desktop_app.store.keys import KeyOrigin, KeyStore

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext
    from desktop_app.store.settings import Settings

__all__ = [
    "LOGIN_OPTION",
    "SourceRemoval",
    "add_source",
    "drop_source",
    "forget_source_data",
    "login_notice",
    "make_backend",
    "migrate_url_credentials",
    "remove_source",
    "set_concurrency",
    "set_enabled",
    "set_model_capabilities",
    "set_timeouts",
    "set_weight",
    "update_source",
]

# options[LOGIN_OPTION] names the key-store entry of the basic-auth login taken out of the URL.
LOGIN_OPTION = "basic_auth"


def _login(config: SourceConfig, keys: KeyStore) -> tuple[str, str] | None:
    ref = config.options.get(LOGIN_OPTION)
    return keys.login(ref) if isinstance(ref, str) and ref else None


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
    login = _login(config, keys)
    if spec.needs_key:
        backend: ModelBackend = factory(config, api_key=keys.resolve(config), rules=rules, basic_auth=login)
    else:
        backend = factory(config, rules=rules, basic_auth=login)
    return backend


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


# Model ids are ``<source>/<model>``; these first parts name ModelDesk's own ids (pools, variants,
# MLflow's shared variants). A source of that name would mix its models with them, and its sync would
# remove theirs as vanished.
RESERVED_SOURCE_NAMES = frozenset({POOL_PREFIX.rstrip("/"), VARIANT_PREFIX, "mlflow"})


def add_source(ctx: AppContext, config: SourceConfig) -> SourceConfig:
    """Add a source after checking its URL (InvalidInput says what is wrong); names are unique.

    Credentials in the URL go to the key store, never to settings; ``ctx.notices`` gets a line
    saying so (the CLI and the window show it)."""
    if config.name.lower() in RESERVED_SOURCE_NAMES:
        raise InvalidInput(
            f"{config.name!r} cannot name a source: ModelDesk's own model ids start with it "
            f"({', '.join(sorted(n + '/' for n in RESERVED_SOURCE_NAMES))}); pick another name."
        )
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
    its stored key and URL login are forgotten when ``delete_key`` (a key entry another source still
    uses is kept). The window and the CLI both come here, so they do the same thing.

    Settings first, registry second: a sync of this source still running checks the settings inside
    its registry write (see ``sync_source``), so it either writes before ``forget_source`` removes its
    models or sees the source gone and writes nothing."""
    config = drop_source(ctx, name)
    return forget_source_data(ctx, config, delete_key=delete_key, keep_models=keep_models)


def drop_source(ctx: AppContext, name: str) -> SourceConfig:
    """Take a source out of settings and return its config; what it leaves behind (models, key) stays
    until :func:`forget_source_data` (the window's Settings forgets it on Save, so Cancel can undo)."""

    def remove(settings: Settings) -> SourceConfig:
        config = settings.source(name)
        settings.sources.remove(config)
        return config

    return ctx.update_settings(remove)


def forget_source_data(
    ctx: AppContext, config: SourceConfig, *, delete_key: bool, keep_models: bool = False
) -> SourceRemoval:
    """Forget what a removed source left: its models (unless ``keep_models``) and, when ``delete_key``,
    its login and its key entry unless a configured source still uses that entry."""
    removed = 0 if keep_models else ctx.registry.forget_source(config.name)
    if not delete_key:
        return SourceRemoval(config.name, removed)
    login = config.options.get(LOGIN_OPTION)
    if isinstance(login, str) and login:
        ctx.keys.delete(login)  # a login moved out of the URL belongs to this source only
    ref = ctx.keys.ref_for(config)
    if any(ctx.keys.ref_for(other) == ref for other in ctx.settings.sources):
        note = f"its key entry {ref!r} is kept: another source uses it"
        return SourceRemoval(config.name, removed, key_note=note)
    return SourceRemoval(config.name, removed, key_deleted=ctx.keys.delete(ref))


def update_source(
    ctx: AppContext, name: str, *, new_name: str | None = None, base_url: str | None = None
) -> SourceConfig:
    """Rename a source or change its URL (checked as ``add_source`` checks them). A renamed source keeps
    its key (``key_ref`` names the old entry); its models get new ids at the next sync, and the caller
    forgets the old ones (``registry.forget_source(old name)``)."""
    url, creds = split_credentials(base_url.strip()) if base_url is not None else (None, None)
    if url is not None:
        url = check_base_url(url)
    wanted = new_name.strip() if new_name is not None else None
    if wanted is not None and wanted != name:
        try:
            SourceConfig(name=wanted, kind=ctx.settings.source(name).kind, base_url="http://127.0.0.1")
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
        if creds is not None:  # a login typed into the URL goes to the key store, as add_source does
            ref = f"{wanted or name}:login"
            ctx.keys.set_login(ref, creds.username, creds.password)
            update["options"] = {**config.options, LOGIN_OPTION: ref}
        if wanted is not None and wanted != name:
            if any(s.name == wanted for s in settings.sources):
                raise InvalidInput(f"A source named {wanted!r} already exists; pick another name.")
            update["name"] = wanted
            if config.spec is None or config.spec.needs_key:
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


def set_weight(ctx: AppContext, source: str, weight: float | None) -> None:
    """A host's share of a pool's chats (``options["weight"]``, see ``core.pools``): 2 takes twice the
    requests of a host of weight 1; 0 keeps it out of pools; ``None`` goes back to 1."""
    if weight is not None and (isinstance(weight, bool) or not weight >= 0 or weight > 1000):
        raise InvalidInput(f"A host's weight is a number from 0 to 1000, not {weight}.")

    def change(settings: Settings) -> None:
        config = settings.source(source)
        spec = config.spec
        if spec is None or not spec.local:
            raise InvalidInput(
                f"{source} is not an Ollama host; only hosts of local models are pooled and weighed."
            )
        options = {k: v for k, v in config.options.items() if k != "weight"}
        if weight is not None:
            options["weight"] = weight
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
