"""`pool list` and `pool on|off`: one model on several Ollama hosts, addressed as ``pool/<model>``."""

from __future__ import annotations

import argparse

from desktop_app.cli import EXIT_OK
from desktop_app.cli._common import context, print_json
from desktop_app.cli._format import table

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pool",
        help="models served by several Ollama hosts, used as one (pool/<model>)",
        description="A pool is one model with the same name and digest on two or more enabled, healthy "
        "Ollama hosts. `chat pool/llama3.2:latest` goes to the least busy host (and to the next when one "
        "fails before answering); `eval --model pool/llama3.2:latest` spreads the cases over the hosts. "
        "Weigh a host with `modeldesk source weight NAME N` (0 keeps it out of pools).",
    )
    psub = p.add_subparsers(dest="pool_command", metavar="ACTION", required=True)
    ls = psub.add_parser("list", help="list the pools and their hosts")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)
    for action, helptext in (("on", "turn pooling on (the default)"), ("off", "turn pooling off")):
        x = psub.add_parser(action, help=helptext)
        x.set_defaults(handler=cmd_switch, on=action == "on")


def cmd_list(args: argparse.Namespace) -> int:
    from desktop_app.services.pools import list_pools, pooling_enabled

    with context() as ctx:
        pools = list_pools(ctx)
        if args.json:
            print_json(
                [
                    {
                        "id": p.id,
                        "name": p.name,
                        "digest": p.digest,
                        "hosts": [
                            {"id": m.model_id, "source": m.source, "weight": m.weight} for m in p.members
                        ],
                    }
                    for p in pools.values()
                ]
            )
            return EXIT_OK
        if not pooling_enabled(ctx):
            print("Pooling is off (turn it on with `modeldesk pool on`).")
            return EXIT_OK
        if not pools:
            print(
                "No pools: a pool is one model with the same digest on two or more healthy Ollama hosts. "
                "Add hosts with `modeldesk source add ollama NAME URL`, then `modeldesk sync`."
            )
            return EXIT_OK
        rows = []
        for p in pools.values():
            hosts = ", ".join(m.source + (f" ×{m.weight:g}" if m.weight != 1 else "") for m in p.members)
            rows.append([p.id, str(len(p.members)), p.digest.removeprefix("sha256:")[:12], hosts])
        print(table(["POOL", "HOSTS", "DIGEST", "ON"], rows))
        return EXIT_OK


def cmd_switch(args: argparse.Namespace) -> int:
    from desktop_app.store.settings import Settings

    def change(settings: Settings) -> None:
        settings.preferences.pooling = args.on

    with context() as ctx:
        ctx.update_settings(change)
    print("pooling " + ("on" if args.on else "off"))
    return EXIT_OK
