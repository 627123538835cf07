"""`sync`, `list`, `show`, `pull`, `rm`, `ps`, `doctor`: the registry and local models."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from desktop_app.cli import EXIT_FAIL, EXIT_OK, EXIT_USAGE
from desktop_app.cli._format import bar, human_seconds, table
from desktop_app.core.units import format_bytes

if TYPE_CHECKING:
    from desktop_app.core.chat import PullProgress
    from desktop_app.core.models import UnifiedModel
    from desktop_app.services.context import AppContext
    from desktop_app.services.sync import SyncReport

# Heavy imports (pydantic models, services) happen inside handlers: see COMMAND_OWNERS in cli/__init__.
CATEGORIES = (
    "embedding", "multimodal", "function_calling", "reasoning", "text",
    "cloud_text", "cloud_code", "cloud_multimodal", "cloud_general", "experimental",
)  # fmt: skip

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="ask every enabled source for its models and update the registry")
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--json", action="store_true", help="print per-source reports as JSON")
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("list", help="list models in the registry")
    p.add_argument("--category", choices=CATEGORIES)
    p.add_argument("--source", help="only models of this source")
    p.add_argument("--serving", choices=("local", "remote", "hybrid"))
    p.add_argument(
        "--capability", help="only models with this capability (embedding, vision, tools, thinking…)"
    )
    p.add_argument("--search", help="words that must all appear in id, name or description")
    p.add_argument("--json", action="store_true", help="a JSON array of UnifiedModel objects")
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help="everything known about one model")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("pull", help="download a model to an Ollama host, with progress")
    p.add_argument("name", help="e.g. llama3.2 or qwen3:8b")
    p.add_argument("--source", help="Ollama source to pull to (default: the first enabled one)")
    p.set_defaults(handler=cmd_pull)

    p = sub.add_parser("rm", help="delete a local model from its Ollama host")
    p.add_argument("id")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask about variants built on it")
    p.set_defaults(handler=cmd_rm)

    p = sub.add_parser("ps", help="models loaded in memory on each Ollama host")
    p.add_argument("--source", help="only this host (an error if it does not answer)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_ps)

    p = sub.add_parser("doctor", help="check each source and the registry, and say what to fix")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_doctor)


# --------------------------------------------------------------------------- sync
def _print_reports(reports: list[SyncReport]) -> None:
    from desktop_app.core.models import SourceHealth

    for r in reports:
        if r.ok:
            change = f" (+{r.added} -{r.removed})" if (r.added or r.removed) else ""
            print(f"{r.source}: ok, {r.model_count} models{change} in {r.seconds:.2f} s")
        else:
            state = "retired" if r.health is SourceHealth.RETIRED else "failed"
            kept = f"kept {r.model_count} models as {'retired' if state == 'retired' else 'offline'}"
            print(f"{r.source}: {state}: {r.message.rstrip('.')}; {kept}.", file=sys.stderr)
            if r.hint:
                print(f"  → {r.hint}", file=sys.stderr)


def cmd_sync(args: argparse.Namespace) -> int:
    import gc

    from desktop_app.cli._common import print_json, run_async, warn
    from desktop_app.services.sync import sync_all

    # What the imports made lives as long as the process: out of the collector's full passes, which
    # otherwise walk it all during a big sync (~50 ms at 100,000 models).
    gc.freeze()

    async def go(ctx: AppContext) -> list[SyncReport]:
        sources = [ctx.settings.source(s) for s in args.source] if args.source else None
        return await sync_all(ctx, sources)

    reports = run_async(go)
    if args.json:
        print_json([r.model_dump(mode="json") for r in reports])
    else:
        if not reports:
            warn("no enabled sources; add one with `modeldesk source add`.")
        _print_reports(reports)
    from desktop_app.cli.mlflow_cmd import sync_mlflow

    sync_mlflow(quiet=args.json)
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAIL


# --------------------------------------------------------------------------- list/show
def cmd_list(args: argparse.Namespace) -> int:
    from desktop_app.store.registry import ModelFilter

    if args.json:
        # Fast path: only the registry, and its stored JSON goes out as is (no re-validation).
        from desktop_app.store.paths import data_dir
        from desktop_app.store.registry import Registry

        reg = Registry(data_dir() / "registry.db")
        try:
            if reg.notice is not None:
                print(f"warning: {reg.notice}", file=sys.stderr)
            f = ModelFilter(args.category, args.source, args.serving, None, args.search, args.capability)
            # Streamed a batch at a time: memory does not grow with the registry.
            write, sep = sys.stdout.write, "[\n"
            for batch in reg.iter_json_batches(f):
                write(sep + ",\n".join(batch))
                sep = ",\n"
            write("[]\n" if sep == "[\n" else "\n]\n")
        finally:
            reg.close()
        return EXIT_OK
    from desktop_app.cli._common import context, warn_unusable_sources
    from desktop_app.core.models import SourceHealth

    with context() as ctx:
        warn_unusable_sources(ctx)
        f = ModelFilter(
            category=args.category,
            provider=args.source,
            serving_type=args.serving,
            search=args.search,
            capability=args.capability,
        )
        models = ctx.registry.list_models(f)
        if not models:
            print("No models. Run `modeldesk sync` (and `modeldesk doctor` if that fails).", file=sys.stderr)
            return EXIT_OK
        rows = [
            [
                m.id,
                m.category.value,
                m.serving_type.value,
                m.status.value,
                m.parameter_size or "-",
                format_bytes(m.size_bytes) if m.size_bytes else "-",
            ]
            for m in models
        ]
        print(table(["ID", "CATEGORY", "SERVING", "STATUS", "PARAMS", "SIZE"], rows))
        states = ctx.registry.source_states()
        for name, st in sorted(states.items()):
            if st.health in (SourceHealth.RETIRED, SourceHealth.DOWN):
                print(f"note: source {name} is {st.health.value}: {st.message}", file=sys.stderr)
        return EXIT_OK


def _cloud_line(m: UnifiedModel) -> str | None:
    """An Ollama cloud model: where it runs, and what it needs (no size: the local stub is not one)."""
    if m.serving_type.value != "hybrid":
        return None
    where = (m.remote_endpoint or "ollama.com").removeprefix("https://").removesuffix(":443")
    return f"runs on {where} as {m.remote_id or m.name}, through {m.provider} (needs `ollama signin` there)"


def cmd_show(args: argparse.Namespace) -> int:
    from desktop_app.cli._common import context

    with context() as ctx:
        if args.id.startswith("pool/"):
            return _show_pool(ctx, args)
        m = ctx.registry.get(args.id)
        if args.json:
            sys.stdout.write(m.model_dump_json(indent=2) + "\n")
            return EXIT_OK
        facts: list[tuple[str, Any]] = [
            ("id", m.id),
            ("name", m.name),
            ("source", f"{m.provider} ({m.source}, {m.serving_type.value})"),
            ("status", m.status.value + (f" — {m.status_message}" if m.status_message else "")),
            ("cloud", _cloud_line(m)),
            ("type", m.model_type.value),
            ("category", m.category.value),
            ("categories", ", ".join(c.value for c in m.categories)),
            ("capabilities", ", ".join(m.capabilities) or "-"),
            ("family", m.family),
            ("parameter size", m.parameter_size),
            ("quantization", m.quantization),
            ("context length", m.context_length),
            ("size on disk", format_bytes(m.size_bytes) if m.size_bytes else None),
            ("rate-limit tier", m.rate_limit_tier),
            ("parent", m.parent_id),
            ("system prompt", m.system_prompt),
            ("parameters", m.parameters or None),
            ("endpoint", m.local_endpoint or m.remote_endpoint),
            ("description", m.description or None),
            ("pool", _pool_line(ctx, m)),
        ]
        for key, value in facts:
            if value not in (None, ""):
                print(f"{key:>16}: {value}")
        return EXIT_OK


def _pool_line(ctx: AppContext, m: UnifiedModel) -> str | None:
    """The pool this host's entry belongs to, if any."""
    if not m.is_local or not m.digest:
        return None
    from desktop_app.services.pools import list_pools

    for pool in list_pools(ctx).values():
        if pool.member(m.provider) is not None and pool.name == m.ollama_name and pool.digest == m.digest:
            return f"{pool.id} ({len(pool.members)} hosts: {', '.join(pool.sources)})"
    return None


def _show_pool(ctx: AppContext, args: argparse.Namespace) -> int:
    from desktop_app.cli._common import print_json
    from desktop_app.services.pools import find_pool, host_loads

    pool = find_pool(ctx, args.id)
    loads = {h.source: h for h in host_loads(ctx, pool)}
    if args.json:
        print_json(
            {
                "id": pool.id,
                "name": pool.name,
                "digest": pool.digest,
                "hosts": [{"id": m.model_id, "source": m.source, "weight": m.weight} for m in pool.members],
            }
        )
        return EXIT_OK
    first = ctx.registry.get(pool.members[0].model_id)
    facts: list[tuple[str, Any]] = [
        ("id", pool.id),
        ("name", pool.name),
        ("pool of", f"{len(pool.members)} Ollama hosts with the same digest"),
        ("digest", pool.digest),
        ("capabilities", ", ".join(first.capabilities) or "-"),
        ("parameter size", first.parameter_size),
        ("quantization", first.quantization),
        ("context length", first.context_length),
    ]
    for key, value in facts:
        if value not in (None, ""):
            print(f"{key:>16}: {value}")
    for m in pool.members:
        weight = loads[m.source].weight
        print(f"{'host':>16}: {m.model_id}" + (f" (weight {weight:g})" if weight != 1 else ""))
    return EXIT_OK


# --------------------------------------------------------------------------- pull/rm/ps
class _PullPrinter:
    """One line per layer; on a TTY the current line is redrawn, else a line every 10%."""

    def __init__(self) -> None:
        from desktop_app.services.pull_tracker import PullTracker

        self.tty = sys.stderr.isatty()
        self.tracker = PullTracker()  # speed and ETA, computed as the window's pull dialog does
        self.last_decile: dict[str, int] = {}
        self.current: str | None = None

    def __call__(self, p: PullProgress) -> None:
        view = self.tracker.update(p)
        if view is not None and view.total:
            fraction = view.fraction or 0.0
            speed = f"{format_bytes(view.speed)}/s" if view.speed else "--/s"
            line = (
                f"{view.short} {bar(fraction)} {fraction * 100:5.1f}% "
                f"{format_bytes(view.completed)}/{format_bytes(view.total)} {speed} ETA {human_seconds(view.eta)}"
            )
            if self.tty:
                if self.current not in (None, view.digest):
                    sys.stderr.write("\n")
                sys.stderr.write("\r" + line)
                self.current = view.digest
            else:
                decile = int(fraction * 10)
                if self.last_decile.get(view.digest) != decile:
                    self.last_decile[view.digest] = decile
                    print(line, file=sys.stderr)
        else:
            if self.tty and self.current is not None:
                sys.stderr.write("\n")
                self.current = None
            print(p.status, file=sys.stderr)
        sys.stderr.flush()


def cmd_pull(args: argparse.Namespace) -> int:
    from desktop_app.cli._common import run_async
    from desktop_app.services.library import pull_model

    printer = _PullPrinter()

    async def go(ctx: AppContext) -> None:
        async for progress in pull_model(ctx, args.name, args.source):
            printer(progress)

    try:
        run_async(go)
    except KeyboardInterrupt:
        print("\nPull cancelled. Run the same command again to resume where it stopped.", file=sys.stderr)
        return 130
    print(f"pulled {args.name}")
    return EXIT_OK


def cmd_rm(args: argparse.Namespace) -> int:
    from desktop_app.cli._common import run_async
    from desktop_app.services.library import delete_check, delete_model

    async def go(ctx: AppContext) -> int:
        model = ctx.registry.get(args.id)
        check = delete_check(ctx, model)
        if not check.allowed:
            print(f"error: {check.reason}", file=sys.stderr)
            return EXIT_USAGE
        if check.variants and not args.yes:
            print(f"{model.id}: {check.warning} Repeat with --yes to delete anyway.", file=sys.stderr)
            return EXIT_FAIL
        await delete_model(ctx, model)
        print(f"deleted {model.id}")
        return EXIT_OK

    return run_async(go)


def cmd_ps(args: argparse.Namespace) -> int:
    from desktop_app.cli._common import print_json, run_async, warn
    from desktop_app.services.library import RunningModels, running_models

    async def go(ctx: AppContext) -> RunningModels:
        return await running_models(ctx, args.source)

    result = run_async(go)
    running = result.by_source
    for name, problem in result.failures.items():
        warn(f"{name} did not answer, so its models are not listed: {problem}")
    if args.json:
        print_json({k: [m.model_dump(mode="json") for m in v] for k, v in running.items()})
        return EXIT_FAIL if result.failures else EXIT_OK
    rows = []
    for source, models in running.items():
        for m in models:
            rows.append(
                [
                    source,
                    m.name,
                    format_bytes(m.size, missing="-"),
                    format_bytes(m.size_vram, missing="-"),
                    str(m.expires_at or "-"),
                ]
            )
    if rows:
        print(table(["SOURCE", "MODEL", "SIZE", "VRAM", "UNTIL"], rows))
    else:
        print("No host answered." if result.failures and not running else "No models are loaded.")
    return EXIT_FAIL if result.failures else EXIT_OK


# --------------------------------------------------------------------------- doctor
def cmd_doctor(args: argparse.Namespace) -> int:
    from desktop_app.cli._common import print_json, run_async
    from desktop_app.services.doctor import run_checks

    checks = run_async(run_checks)
    if args.json:
        print_json([c.model_dump(mode="json") for c in checks])
    else:
        for c in checks:
            mark = {"ok": "✓", "warn": "!", "fail": "✗"}[c.level]
            print(f"{mark} {c.name}: {c.message}")
            if c.hint:
                print(f"    → {c.hint}")
    return EXIT_FAIL if any(c.level == "fail" for c in checks) else EXIT_OK
