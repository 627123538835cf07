"""`variant create|list|show|rm|grid|materialize`: experimental models (a base model + system prompt +
parameters), stored in the registry as ``exp/<name>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from desktop_app.cli import EXIT_OK, mlflow_cmd
from desktop_app.cli._common import context, print_json, run_async, warn
from desktop_app.cli._format import table
from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.models import UnifiedModel
from desktop_app.core.variants import (
    GRID_AXES,
    SystemOption,
    VariantSpec,
    check_parameters,
    describe_options,
    parameters_of,
    parse_axis_values,
)
from desktop_app.services import variants as service
from desktop_app.services.context import AppContext

__all__ = ["register"]

_PARAMS: list[tuple[str, type, str]] = [
    ("temperature", float, "sampling temperature (0-2)"),
    ("top_p", float, "nucleus sampling (0-1]"),
    ("top_k", int, "top-k sampling"),
    ("num_ctx", int, "context window in tokens"),
    ("max_tokens", int, "most tokens to generate"),
    ("seed", int, "random seed"),
]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "variant",
        help="experimental models: a base model plus a system prompt and parameters",
        description="Experimental models ('variants'): any registry model plus a system prompt and "
        "sampling parameters. They live in the registry as exp/<name> and survive syncs.",
    )
    vsub = p.add_subparsers(dest="variant_command", metavar="ACTION", required=True)

    c = vsub.add_parser("create", help="make a variant of a model")
    c.add_argument("base", help="the base model's id (see `modeldesk list`), or another variant")
    c.add_argument("--name", help="the variant's name (default: made from the base and the parameters)")
    _system_args(c)
    for name, kind, text in _PARAMS:
        c.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=text)
    c.add_argument("--stop", action="append", metavar="TEXT", help="a stop sequence (repeat for several)")
    c.add_argument("--description", default="", help="a note shown in listings")
    c.add_argument("--replace", action="store_true", help="overwrite a variant of the same name")
    c.add_argument("--json", action="store_true")
    c.set_defaults(handler=cmd_create)

    ls = vsub.add_parser("list", help="list variants")
    ls.add_argument("--base", help="only variants built on this model")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_list)

    s = vsub.add_parser("show", help="show one variant and what it resolves to")
    s.add_argument("variant")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_show)

    r = vsub.add_parser("rm", help="remove a variant")
    r.add_argument("variant")
    r.add_argument("--force", action="store_true", help="also remove the variants built on it")
    r.add_argument(
        "--delete-local", action="store_true", help="also delete its materialized model from the Ollama host"
    )
    r.add_argument(
        "--mlflow",
        dest="mlflow",
        action="store_const",
        const=True,
        help="also delete it in MLflow's Prompt Registry (default: ask at a terminal)",
    )
    r.add_argument(
        "--keep-mlflow", dest="mlflow", action="store_const", const=False, help="keep it in MLflow"
    )
    r.set_defaults(handler=cmd_rm)

    g = vsub.add_parser(
        "grid",
        help="make every combination of the given options",
        description="Make one variant per combination, e.g. `modeldesk variant grid ollama/llama3.2:latest "
        "--temperature 0.2,0.7 --system-file a.txt,b.txt` makes 4, named like llama3.2-temp0.2-sys-a.",
    )
    g.add_argument("base")
    for name, _kind, text in _PARAMS:
        g.add_argument(
            f"--{name.replace('_', '-')}", dest=name, metavar="LIST", help=f"{text}: values, comma-separated"
        )
    g.add_argument(
        "--system-file",
        dest="system_files",
        metavar="FILES",
        help="system prompts, one per file, comma-separated (the file names label the variants)",
    )
    g.add_argument("--system", help="one system prompt for every variant of the grid")
    g.add_argument("--prefix", help="start of the generated names (default: the base's short name)")
    g.add_argument("--replace", action="store_true", help="overwrite variants of the same names")
    g.add_argument("--dry-run", action="store_true", help="only show what would be made")
    g.add_argument("--json", action="store_true")
    g.set_defaults(handler=cmd_grid)

    m = vsub.add_parser(
        "materialize",
        help="create a real Ollama model from a variant of a local model",
        description="Create the variant on its Ollama host (/api/create with from, system and parameters) "
        "so any Ollama client can use it; ModelDesk then sends its requests to that model.",
    )
    m.add_argument("variant")
    m.add_argument(
        "--as", dest="as_name", metavar="NAME", help="the Ollama model's name (default: the variant's)"
    )
    m.set_defaults(handler=cmd_materialize)


def _system_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--system", help="the system prompt")
    group.add_argument("--system-file", help="read the system prompt from a file")


def _read_text(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InvalidInput(f"No such file: {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}") from None


def _row(ctx: AppContext, v: UnifiedModel) -> list[str]:
    system = " ".join((v.system_prompt or "").split())
    if len(system) > 40:
        system = system[:39] + "…"
    return [
        v.id,
        v.parent_id or "-",
        describe_options(parameters_of(v)) or "-",
        system or "-",
        v.ollama_name or "-",
    ]


_HEADERS = ["ID", "BASE", "PARAMETERS", "SYSTEM", "MATERIALIZED AS"]


def _dump(v: UnifiedModel) -> dict[str, Any]:
    return v.model_dump(mode="json")


# ------------------------------------------------------------------ handlers
def cmd_create(args: argparse.Namespace) -> int:
    with context() as ctx:
        system = _read_text(args.system_file) if args.system_file else args.system
        options = check_parameters(
            ChatOptions(**{name: getattr(args, name) for name, _, _ in _PARAMS}, stop=args.stop)
        )
        spec = VariantSpec(
            name=args.name or "", system_prompt=system, parameters=options, description=args.description
        )
        variant = service.create_variant(ctx, args.base, spec, replace=args.replace)
        if args.json:
            print_json(_dump(variant))
        else:
            print(f"Created {variant.id} (variant of {variant.parent_id}).")
        mlflow_cmd.publish_new(ctx, [variant])
        return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with context() as ctx:
        variants = service.list_variants(ctx, args.base)
        if args.json:
            print_json([_dump(v) for v in variants])
        elif not variants:
            print("No variants yet. Make one with `modeldesk variant create BASE --temperature 0.2`.")
        else:
            print(table(_HEADERS, [_row(ctx, v) for v in variants]))
        return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    with context() as ctx:
        v = service.get_variant(ctx, args.variant)
        children = service.children_of(ctx, v)
        try:
            base, system, options = service.effective_settings(ctx, v)
            base_id: str | None = base.id
        except ModelDeskError as exc:  # an orphan still shows, with the reason
            base_id, system, options = None, v.system_prompt, parameters_of(v)
            warn(str(exc))
        if args.json:
            data = _dump(v)
            data["resolved"] = {
                "base": base_id,
                "system_prompt": system,
                "parameters": options.model_dump(exclude_none=True),
                "children": [c.id for c in children],
            }
            print_json(data)
            return EXIT_OK
        lines = [
            ("id", v.id),
            ("parent", v.parent_id or "-"),
            ("base model", base_id or "(missing)"),
            ("provider", f"{v.provider} ({v.serving_type.value})"),
            ("categories", ", ".join(c.value for c in v.categories)),
            ("parameters", describe_options(options) or "(the base model's defaults)"),
            ("materialized as", v.ollama_name or "-"),
            ("created", v.created_at.strftime("%Y-%m-%d %H:%M UTC")),
            ("description", v.description or "-"),
            *mlflow_cmd.show_versions(ctx, v),
        ]
        if children:
            lines.append(("variants of it", ", ".join(c.id for c in children)))
        width = max(len(k) for k, _ in lines)
        for key, value in lines:
            print(f"{key.ljust(width)}  {value}")
        print("system prompt:" if system else "system prompt: (none)")
        if system:
            for line in system.splitlines() or [""]:
                print(f"  {line}")
        return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    async def go(ctx: AppContext) -> int:
        target = service.get_variant(ctx, args.variant)
        report = await service.remove_variant(
            ctx, args.variant, force=args.force, delete_local=args.delete_local
        )
        mlflow_cmd.delete_in_mlflow_too(ctx, target, args.mlflow)
        for name in report.deleted_local:
            print(f"Deleted {name} from its Ollama host.")
        for vid in report.removed:
            print(f"Removed {vid}.")
        return EXIT_OK

    return run_async(go)


def cmd_grid(args: argparse.Namespace) -> int:
    axes: dict[str, tuple[Any, ...]] = {}
    for name in GRID_AXES:
        raw = getattr(args, name, None)
        if raw:
            axes[name] = parse_axis_values(name, raw)
    systems: list[SystemOption] = []
    if args.system_files:
        for item in (x.strip() for x in args.system_files.split(",")):
            if item:
                label = Path(item).name.split(".")[0]
                systems.append(SystemOption(label, _read_text(item)))
    if args.system and systems:
        raise InvalidInput(
            "Give either --system (one prompt for all) or --system-file (prompts to vary), not both."
        )
    fixed_system = args.system
    with context() as ctx:
        if args.dry_run:
            parent, specs = service.plan_grid(ctx, args.base, axes, systems, prefix=args.prefix)
            if fixed_system:
                specs = [s.model_copy(update={"system_prompt": fixed_system}) for s in specs]
            if args.json:
                print_json([s.model_dump(mode="json", exclude_none=True) for s in specs])
            else:
                print(f"{len(specs)} variant(s) of {parent.id} would be made:")
                for s in specs:
                    print(f"  exp/{s.name}  {describe_options(s.parameters)}")
            return EXIT_OK
        if fixed_system:
            systems = [SystemOption("", fixed_system)]
        made = service.create_grid(ctx, args.base, axes, systems, prefix=args.prefix, replace=args.replace)
        if args.json:
            print_json([_dump(v) for v in made])
        else:
            print(f"Created {len(made)} variant(s) of {made[0].parent_id}:")
            print(table(_HEADERS, [_row(ctx, v) for v in made]))
        mlflow_cmd.publish_new(ctx, made)
        return EXIT_OK


def cmd_materialize(args: argparse.Namespace) -> int:
    async def go(ctx: AppContext) -> int:
        last = ""
        async for progress in service.materialize(ctx, args.variant, name=args.as_name):
            if progress.status != last:
                print(f"  {progress.status}", file=sys.stderr)
                last = progress.status
        v = service.get_variant(ctx, args.variant)
        print(f"Materialized {v.id} as {v.ollama_name} on {v.provider}; any Ollama client can use it now.")
        return EXIT_OK

    return run_async(go)
