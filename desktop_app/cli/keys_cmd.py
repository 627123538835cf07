"""`key set|rm|list`: API keys of remote sources, kept in the system keyring (else a 0600 file).

``key set SOURCE`` reads the key without echo (getpass) at a terminal, or the first line of stdin when
stdin is a pipe (``pass show openai | modeldesk key set work``). No command ever prints a key.
"""

from __future__ import annotations

import argparse

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import context, print_json, read_secret, warn
from desktop_app.cli._format import table
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig
from desktop_app.services.context import AppContext
from desktop_app.services.sources import LOGIN_OPTION
from desktop_app.store.keys import KeyOrigin

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("key", help="store, remove and list API keys of remote sources (never shown)")
    ksub = p.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    s = ksub.add_parser(
        "set",
        help="store a source's key (asked without echo; or piped on stdin)",
        description="Store the API key of SOURCE in the system keyring (or, without one, in a file only "
        "you can read). At a terminal the key is asked for without echo; in a script pipe it on stdin.",
    )
    s.add_argument("source", help="the source's name (see `modeldesk source list`)")
    s.set_defaults(handler=cmd_set)

    r = ksub.add_parser("rm", help="forget a source's stored key")
    r.add_argument("source")
    r.set_defaults(handler=cmd_rm)

    ls = ksub.add_parser("list", help="which sources have a key (the keys themselves are never shown)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)


def _ref(ctx: AppContext, name: str) -> tuple[str, SourceConfig | None]:
    """The key reference for a source name. A name not configured yet is allowed (set the key first,
    add the source after) but must be a valid source name."""
    config = next((s for s in ctx.settings.sources if s.name == name), None)
    if config is not None:
        if config.spec is not None and not config.spec.needs_key:
            raise InvalidInput(f"{name} is an {config.spec.label}, which takes no API key.")
        return ctx.keys.ref_for(config), config
    try:
        SourceConfig(name=name, kind="any", base_url="http://x")
    except ValueError:
        raise InvalidInput(f"{name!r} is not a source name: 1-64 letters, digits, '.', '_' or '-'.") from None
    return name, None


def cmd_set(args: argparse.Namespace) -> int:
    with context() as ctx:
        ref, config = _ref(ctx, args.source)
        where = ctx.keys.set(ref, read_secret(f"API key for {args.source}", "key"))
        if where is KeyOrigin.FILE and ctx.keys.warning:
            warn(ctx.keys.warning)
        place = "the system keyring" if where is KeyOrigin.KEYRING else str(ctx.keys.file)
        print(f"Stored the key for {args.source} in {place}.")
        if config is None:
            print(
                f"No source is named {args.source} yet; "
                "the key will be used by the source you add under that name."
            )
        elif config.spec is not None and config.spec.key_env:
            print(
                f"Note: ${config.spec.key_env}, when set, is used instead of the stored key "
                f"for {config.spec.label} sources."
            )
        return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    with context() as ctx:
        config = next((s for s in ctx.settings.sources if s.name == args.source), None)
        ref = ctx.keys.ref_for(config) if config is not None else args.source
        if ctx.keys.delete(ref):
            print(f"Removed the stored key for {args.source}.")
        else:
            print(f"No key was stored for {args.source}.")
        return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with context() as ctx:
        rows: list[dict[str, object]] = []
        seen: set[str] = set()
        for config in ctx.settings.sources:
            if config.spec is not None and not config.spec.needs_key:
                continue
            ref = ctx.keys.ref_for(config)
            seen.add(ref)
            origin = ctx.keys.origin(config)
            rows.append(
                {
                    "source": config.name,
                    "kind": str(config.kind),
                    "key_ref": ref,
                    "has_key": origin is not None,
                    "origin": origin.value if origin else None,
                }
            )
        # Logins taken out of source URLs (basic auth) are not keys to list.
        seen.update(str(c.options.get(LOGIN_OPTION)) for c in ctx.settings.sources)
        for ref in ctx.keys.file_refs():
            if ref not in seen:  # a key kept for a source that is not configured (any more)
                rows.append({"source": None, "kind": None, "key_ref": ref, "has_key": True, "origin": "file"})
        if args.json:
            print_json({"storage": "keyring" if ctx.keys.uses_keyring else "file", "keys": rows})
            return EXIT_OK
        if not rows:
            print("No remote sources. Add one with `modeldesk source add openai NAME URL`.")
            return EXIT_OK
        labels = {"keyring": "keyring", "file": "file"}
        env = {c.name: f"${c.spec.key_env}" for c in ctx.settings.sources if c.spec and c.spec.key_env}
        print(
            table(
                ["SOURCE", "KIND", "KEY", "FROM"],
                [
                    [
                        str(r["source"] or f"({r['key_ref']}, no source)"),
                        str(r["kind"] or "-"),
                        "set" if r["has_key"] else "not set",
                        env.get(str(r["source"]), "-")
                        if r["origin"] == "env"
                        else labels.get(str(r["origin"]), "-"),
                    ]
                    for r in rows
                ],
            )
        )
        if not ctx.keys.uses_keyring and ctx.keys.warning:
            warn(ctx.keys.warning)
        return EXIT_OK
