"""`source add|list|rm|enable|disable`: the configured sources (Ollama hosts and remote services)."""

from __future__ import annotations

import argparse

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import context, print_json, warn, warn_unusable_sources
from desktop_app.cli._format import table
from desktop_app.core.errors import InvalidInput
from desktop_app.core.kinds import KINDS
from desktop_app.core.limits import Timeouts
from desktop_app.core.models import SourceConfig
from desktop_app.core.urls import mask_url
from desktop_app.services.sources import (
    add_source,
    remove_source,
    set_concurrency,
    set_enabled,
    set_model_capabilities,
    set_timeouts,
    set_weight,
)

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("source", help="configure where models come from")
    ssub = p.add_subparsers(dest="source_command", metavar="ACTION", required=True)

    add = ssub.add_parser("add", help="add a source")
    asub = add.add_subparsers(dest="kind_command", metavar="KIND", required=True)
    for spec in KINDS.values():  # one subcommand per kind in the table
        a = asub.add_parser(spec.command, help=spec.summary)
        a.add_argument("name")
        if spec.url_required:
            a.add_argument("url", help=f"its base URL, e.g. {spec.default_url}")
        else:
            a.add_argument("--base-url", default=spec.default_url)
        if spec.takes_org:
            a.add_argument("--org", help="bill inference to this organisation")
        a.set_defaults(handler=cmd_add, kind=spec.kind)

    ls = ssub.add_parser("list", help="list sources and their last known health")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    caps = ssub.add_parser(
        "caps",
        help="set a remote model's capabilities by hand (OpenAI-compatible sources publish none)",
        description="Example: modeldesk source caps my-vllm qwen2.5-vl-7b vision,tools. Then run `modeldesk sync`.",
    )
    caps.add_argument("name", help="the source")
    caps.add_argument("model", help="the model's id on that service")
    caps.add_argument(
        "capabilities", help="comma-separated: completion, vision, tools, thinking, embedding; '-' clears"
    )
    caps.set_defaults(handler=cmd_caps)

    conc = ssub.add_parser(
        "concurrency",
        help="how many requests `eval` sends to a source at once",
        description="Example: modeldesk source concurrency my-vllm 4. Defaults: 2 per Ollama host, 1 per "
        "OpenAI-compatible server (its limits are unknown, and llama-cpp-python cuts a reply short when "
        "a second request comes in), GitHub Models by rate-limit tier. `eval --concurrency N` overrides it.",
    )
    conc.add_argument("name", help="the source")
    conc.add_argument("limit", help="a number from 1 up, or '-' for the default")
    conc.set_defaults(handler=cmd_concurrency)

    w = ssub.add_parser(
        "weight",
        help="an Ollama host's share of a pool's chats (default 1; 0 keeps it out of pools)",
        description="Example: modeldesk source weight big-gpu 2 (twice the requests of a host of weight 1). "
        "'-' goes back to 1. See `modeldesk pool list`.",
    )
    w.add_argument("name", help="the source")
    w.add_argument("weight", help="a number from 0 up, or '-' for the default (1)")
    w.set_defaults(handler=cmd_weight)

    t = ssub.add_parser(
        "timeouts",
        help="show or set how long to wait for a source (seconds)",
        description=(
            "connect: to open a connection (default 5). read: for the next bytes of a chat, pull or embed "
            "reply (default 300; a big model loads before its first byte). sync: a sync or doctor gives up "
            "on the source when no reply has come for this long; each reply moves the deadline on, so "
            "many models on a slow server still finish (default 30). 'default' clears a value. "
            "Example: modeldesk source timeouts old-box --sync 120"
        ),
    )
    t.add_argument("name")
    for field in ("connect", "read", "sync"):
        t.add_argument(f"--{field}", metavar="SECONDS", help=f"the {field} timeout, or 'default'")
    t.set_defaults(handler=cmd_timeouts)

    for action, helptext in (
        ("rm", "remove a source"),
        ("enable", "enable a source"),
        ("disable", "disable a source"),
    ):
        x = ssub.add_parser(action, help=helptext)
        x.add_argument("name")
        x.set_defaults(handler=cmd_change, action=action)
        if action == "rm":
            x.add_argument("--keep-models", action="store_true", help="keep its models in the registry")
            x.add_argument(
                "--keep-key", action="store_true", help="keep its stored API key (default: forget it too)"
            )


def cmd_add(args: argparse.Namespace) -> int:
    kind = args.kind
    url = getattr(args, "url", None) or getattr(args, "base_url", None) or ""
    try:
        config = SourceConfig(name=args.name, kind=kind, base_url=url.strip(), org=getattr(args, "org", None))
    except ValueError as exc:  # pydantic validation of the name
        reason = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
        raise InvalidInput(f"Invalid source name {args.name!r}: {reason}") from None
    with context() as ctx:
        seen = len(ctx.notices)
        config = add_source(ctx, config)
        for notice in ctx.notices[seen:]:
            warn(notice)
    print(f"added {kind} source {config.name} at {config.base_url}")
    if config.spec is not None and config.spec.needs_key:
        print(f"Set its key with: modeldesk key set {config.name}")
    print("Run `modeldesk sync` to fetch its models.")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with context() as ctx:
        states = ctx.registry.source_states()
        counts = ctx.registry.provider_counts()
        if args.json:
            print_json(
                [
                    {
                        **s.model_dump(mode="json"),
                        "health": states[s.name].health.value if s.name in states else "unknown",
                        "message": s.problem or (states[s.name].message if s.name in states else ""),
                        "models": counts.get(s.name, 0),
                    }
                    for s in ctx.settings.sources
                ]
            )
            return EXIT_OK
        rows = []
        for s in ctx.settings.sources:
            st = states.get(s.name)
            rows.append(
                [
                    s.name,
                    str(s.kind),
                    mask_url(s.base_url),
                    "yes" if s.enabled else "no",
                    "unusable" if s.problem else st.health.value if st else "unknown",
                    str(counts.get(s.name, 0)),
                ]
            )
        print(table(["NAME", "KIND", "URL", "ENABLED", "HEALTH", "MODELS"], rows))
        warn_unusable_sources(ctx)
        return EXIT_OK


def cmd_change(args: argparse.Namespace) -> int:
    with context() as ctx:
        if args.action == "rm":
            done = remove_source(ctx, args.name, delete_key=not args.keep_key, keep_models=args.keep_models)
            removed = done.models_removed
            print(f"removed source {args.name}" + (f" and its {removed} models" if removed else ""))
            if done.key_deleted:
                print("Forgot its stored key too (keep it next time with --keep-key).")
            elif done.key_note:
                print(f"Note: {done.key_note}.")
        else:
            set_enabled(ctx, args.name, args.action == "enable")
            print(f"{args.action}d source {args.name}")
    return EXIT_OK


def cmd_caps(args: argparse.Namespace) -> int:
    caps = None if args.capabilities.strip() == "-" else args.capabilities.split(",")
    with context() as ctx:
        set_model_capabilities(ctx, args.name, args.model, caps)
    what = "cleared" if caps is None else "set to " + ", ".join(sorted({c.strip() for c in caps}))
    print(f"capabilities of {args.name}/{args.model} {what}; run `modeldesk sync` to apply.")
    return EXIT_OK


def cmd_concurrency(args: argparse.Namespace) -> int:
    text = args.limit.strip()
    if text == "-":
        limit = None
    elif text.isdigit():
        limit = int(text)
    else:
        raise InvalidInput(f"The concurrency must be a whole number from 1 up, or '-', not {args.limit!r}.")
    with context() as ctx:
        set_concurrency(ctx, args.name, limit)
    print(f"{args.name}: " + (f"up to {limit} requests at once" if limit else "default concurrency"))
    return EXIT_OK


def cmd_weight(args: argparse.Namespace) -> int:
    text = args.weight.strip()
    try:
        weight = None if text == "-" else float(text)
    except ValueError:
        raise InvalidInput(f"The weight must be a number from 0 up, or '-', not {args.weight!r}.") from None
    with context() as ctx:
        set_weight(ctx, args.name, weight)
    if weight == 0:
        print(f"{args.name}: kept out of pools")
    else:
        print(f"{args.name}: pool weight {weight if weight is not None else 1:g}")
    return EXIT_OK


def cmd_timeouts(args: argparse.Namespace) -> int:
    with context() as ctx:
        changes = {f: getattr(args, f) for f in ("connect", "read", "sync")}
        if any(v is not None for v in changes.values()):
            set_timeouts(ctx, args.name, **changes)
        current = Timeouts.from_options(ctx.settings.source(args.name).options)
    print(
        f"{args.name}: connect {current.connect:g} s, read {current.read:g} s, sync {current.sync:g} s "
        f"(a sync gives up after {current.sync:g} s without a reply, {current.sync_cap:g} s in all)"
    )
    return EXIT_OK
