"""Experimental models: create, list, show, remove, grids, and materializing a local variant as a
real Ollama model (``/api/create``) that any Ollama client can use.

Variants live in the registry as ``model_type=experimental`` with ids ``exp/<name>``, linked to their
parent by ``parent_id``. A sync only replaces a source's *base* models, so variants survive syncs;
``serving.resolve`` routes a variant to its parent's backend with its system prompt and parameters
(or, once materialized, to the Ollama model that carries them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.chat import ChatOptions, PullProgress
from desktop_app.core.errors import InvalidInput, ModelNotFound
from desktop_app.core.models import ModelType, UnifiedModel, model_id, utcnow
from desktop_app.core.variants import (
    SystemOption,
    VariantSpec,
    base_short_name,
    build_variant,
    chain,
    collect_settings,
    expand_grid,
    ollama_parameters,
    validate_variant_name,
    variant_id,
)
from desktop_app.services.context import AppContext
from desktop_app.services.library import ollama_backend
from desktop_app.store.registry import ModelFilter

__all__ = [
    "RemoveReport",
    "children_of",
    "create_grid",
    "create_variant",
    "default_name",
    "effective_settings",
    "get_variant",
    "list_variants",
    "materialize",
    "plan_grid",
    "remove_variant",
]

_EXPERIMENTAL = (ModelType.EXPERIMENTAL, ModelType.VARIANT)


def get_variant(ctx: AppContext, ref: str) -> UnifiedModel:
    """A variant by id (``exp/name``) or name."""
    found = ctx.registry.find(ref) or ctx.registry.find(variant_id(ref))
    if found is None:
        try:
            found = ctx.registry.get(ref)
        except ModelNotFound:
            raise ModelNotFound(
                f"No variant {ref!r} in the registry.", hint="See `modeldesk variant list`."
            ) from None
    if found.model_type not in _EXPERIMENTAL:
        raise InvalidInput(f"{found.id} is a base model, not a variant (see `modeldesk variant list`).")
    return found


def list_variants(ctx: AppContext, base: str | None = None) -> list[UnifiedModel]:
    """Every variant (of ``base`` only, when given: its direct and indirect children)."""
    models = [m for m in ctx.registry.list_models() if m.model_type in _EXPERIMENTAL]
    if base is None:
        return models
    parent = ctx.registry.get(base)
    return [m for m in models if any(p.id == parent.id for p in list(chain(m, ctx.registry.find))[1:])]


def children_of(ctx: AppContext, model: UnifiedModel) -> list[UnifiedModel]:
    """Variants built directly on ``model``."""
    return ctx.registry.list_models(ModelFilter(parent_id=model.id))


def effective_settings(
    ctx: AppContext, variant: UnifiedModel
) -> tuple[UnifiedModel, str | None, ChatOptions]:
    """The base model at the end of the chain, the system prompt that applies (the nearest variant's)
    and the parameters that apply (nearer variants win)."""
    models = list(chain(variant, ctx.registry.find))
    base = models[-1]
    system, options = collect_settings(m for m in models if m.model_type is not ModelType.BASE)
    if base.model_type is not ModelType.BASE:
        raise ModelNotFound(
            f"The base model {base.parent_id!r} of {variant.id} is no longer in the registry.",
            hint="Sync the base model's source, or recreate the variant on another base.",
        )
    return base, system, options


def default_name(ctx: AppContext, parent: UnifiedModel, spec: VariantSpec) -> str:
    """A readable, unused name from the base and the parameters: ``llama3.2-temp0.2-seed7``."""
    given = spec.parameters.model_dump(exclude_none=True)
    axes = {k: [v] for k, v in given.items() if k != "stop"}
    systems = [SystemOption("custom", spec.system_prompt)] if spec.system_prompt else []
    short = base_short_name(parent)
    name = expand_grid(short, axes, systems)[0].name if (axes or systems) else f"{short}-variant"
    candidate, n = name, 1
    while ctx.registry.find(variant_id(candidate)) is not None:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def _check_free(ctx: AppContext, names: Sequence[str], replace: bool) -> None:
    taken = []
    for name in names:
        existing = ctx.registry.find(variant_id(name))
        if existing is None:
            continue
        if existing.model_type not in _EXPERIMENTAL:
            raise InvalidInput(
                f"{existing.id} is a base model of a source named 'exp'; pick another variant name."
            )
        if not replace:
            taken.append(name)
    if taken:
        listed = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise InvalidInput(f"A variant named {listed} already exists; use --replace or another name.")


def create_variant(ctx: AppContext, base: str, spec: VariantSpec, *, replace: bool = False) -> UnifiedModel:
    """Store a new variant of ``base`` (any registry model, local or remote, or another variant)."""
    parent = ctx.registry.get(base)
    if not spec.name:
        spec = spec.model_copy(update={"name": default_name(ctx, parent, spec)})
    name = validate_variant_name(spec.name)
    _check_free(ctx, [name], replace)
    variant = build_variant(parent, spec, ctx.rules)
    old = ctx.registry.find(variant.id)
    if old is not None:  # replacing: keep its birth date, drop a materialization of the old settings
        variant = variant.model_copy(update={"created_at": old.created_at})
    ctx.registry.upsert([variant])
    return variant


def plan_grid(
    ctx: AppContext,
    base: str,
    axes: Mapping[str, Sequence[Any]],
    systems: Sequence[SystemOption] = (),
    *,
    fixed: ChatOptions | None = None,
    prefix: str | None = None,
) -> tuple[UnifiedModel, list[VariantSpec]]:
    """The base model and the specs a grid would create (nothing is stored)."""
    parent = ctx.registry.get(base)
    specs = expand_grid(prefix or base_short_name(parent), axes, systems, fixed=fixed)
    return parent, specs


def create_grid(
    ctx: AppContext,
    base: str,
    axes: Mapping[str, Sequence[Any]],
    systems: Sequence[SystemOption] = (),
    *,
    fixed: ChatOptions | None = None,
    prefix: str | None = None,
    replace: bool = False,
) -> list[UnifiedModel]:
    """Create every variant of a grid, all in one registry transaction."""
    parent, specs = plan_grid(ctx, base, axes, systems, fixed=fixed, prefix=prefix)
    _check_free(ctx, [s.name for s in specs], replace)
    now = utcnow()
    variants = [build_variant(parent, s, ctx.rules, now=now) for s in specs]
    ctx.registry.upsert(variants)
    return variants


@dataclass
class RemoveReport:
    removed: list[str] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)


async def remove_variant(
    ctx: AppContext, ref: str, *, force: bool = False, delete_local: bool = False
) -> RemoveReport:
    """Remove a variant. Variants built on it make this refuse unless ``force`` (which removes them
    too). ``delete_local`` also deletes its materialized Ollama model from the host."""
    variant = get_variant(ctx, ref)
    doomed = [variant]
    queue = [variant]
    while queue:
        for child in children_of(ctx, queue.pop()):
            if child.id not in {d.id for d in doomed}:
                doomed.append(child)
                queue.append(child)
    if len(doomed) > 1 and not force:
        names = ", ".join(d.id for d in doomed[1:6])
        raise InvalidInput(
            f"{len(doomed) - 1} variant(s) are built on {variant.id} ({names}).",
            hint="Remove them first, or use --force to remove them too.",
        )
    report = RemoveReport()
    for v in doomed:
        if delete_local and v.ollama_name:
            await ollama_backend(ctx, v.provider).delete(v.ollama_name)
            ctx.registry.delete(model_id(v.provider, v.ollama_name))  # its synced base entry, if any
            report.deleted_local.append(v.ollama_name)
        if ctx.registry.delete(v.id):
            report.removed.append(v.id)
    return report


async def materialize(ctx: AppContext, ref: str, *, name: str | None = None) -> AsyncIterator[PullProgress]:
    """Create a real Ollama model from a variant of a local model (``/api/create`` with ``from``,
    ``system`` and ``parameters``), streaming its progress; then the variant records the model's name,
    and from then on requests go to it."""
    variant = get_variant(ctx, ref)
    base, system, options = effective_settings(ctx, variant)
    config = ctx.settings.source(base.provider)
    if config.spec is None or not config.spec.manages_models or not base.ollama_name:
        raise InvalidInput(
            f"{variant.id} is a variant of {base.id}, a remote model; only variants of local Ollama "
            "models can be materialized (remote variants already work everywhere in ModelDesk)."
        )
    stem, _, tag = (name or variant.name).strip().lower().partition(":")
    tagged = f"{validate_variant_name(stem)}:{validate_variant_name(tag) if tag else 'latest'}"
    clash = ctx.registry.find(model_id(base.provider, tagged))
    if clash is not None and clash.model_type is ModelType.BASE and variant.ollama_name != tagged:
        raise InvalidInput(
            f"{base.provider} already has a model named {tagged}; pick another name with --as NAME."
        )
    async for progress in ollama_backend(ctx, config.name).create(
        tagged, from_=base.ollama_name, system=system, parameters=ollama_parameters(options) or None
    ):
        yield progress
    tags = list(dict.fromkeys([*variant.tags, "materialized"]))
    updated = variant.model_copy(
        update={
            "ollama_name": tagged,
            "local_endpoint": config.base_url,
            "updated_at": utcnow(),
            "tags": tags,
        }
    )
    ctx.registry.upsert([updated])
