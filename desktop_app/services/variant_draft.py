"""A variant being edited (the window's variant editor, without Qt): its fields as the user typed
them, the spec they make, an unsaved model to try before saving, and a grid's size as values are typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import ModelType, SourceKind, UnifiedModel
from desktop_app.core.variants import (
    MAX_GRID_SIZE,
    SystemOption,
    VariantSpec,
    build_variant,
    check_parameters,
    grid_size,
    parameters_of,
    parse_axis_values,
)
from desktop_app.services.context import AppContext

__all__ = ["GRID_FIELDS", "GridPlan", "VariantDraft", "base_prompt", "can_materialize", "plan_grid_text"]

# The parameters a grid can vary in the editor (a subset of core.variants.GRID_AXES).
GRID_FIELDS = ("temperature", "top_p", "max_tokens", "seed")


@dataclass
class VariantDraft:
    """What the editor holds. ``None`` parameters are left to the base model."""

    base: UnifiedModel
    name: str = ""
    system_prompt: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    editing: UnifiedModel | None = None  # the variant being edited (saving replaces it)

    @classmethod
    def of_variant(cls, ctx: AppContext, variant: UnifiedModel) -> VariantDraft:
        """A draft to edit an existing variant: same base, its own prompt and parameters."""
        parent = ctx.registry.get(variant.parent_id) if variant.parent_id else variant
        opts = parameters_of(variant)
        return cls(
            base=parent,
            name=variant.name,
            system_prompt=variant.system_prompt or "",
            temperature=opts.temperature,
            top_p=opts.top_p,
            max_tokens=opts.max_tokens,
            seed=opts.seed,
            stop=list(opts.stop or []),
            editing=variant,
        )

    def options(self) -> ChatOptions:
        return check_parameters(
            ChatOptions(
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                seed=self.seed,
                stop=[s for s in self.stop if s] or None,
            )
        )

    def spec(self) -> VariantSpec:
        return VariantSpec(
            name=self.name.strip(),
            system_prompt=self.system_prompt.strip() or None,
            parameters=self.options(),
        )

    def preview(self, ctx: AppContext) -> UnifiedModel:
        """The variant as it would be saved, not stored: chat with it to try it (serving resolves it
        through its base in the registry)."""
        spec = self.spec()
        if not spec.name:
            spec = spec.model_copy(update={"name": "draft"})
        return build_variant(self.base, spec, ctx.rules)


def base_prompt(ctx: AppContext, model: UnifiedModel) -> str:
    """The system prompt the base already applies (a variant's own, or its chain's), for reference."""
    if model.model_type is ModelType.BASE:
        return model.system_prompt or ""
    from desktop_app.services.variants import effective_settings

    try:
        return effective_settings(ctx, model)[1] or ""
    except InvalidInput:
        return model.system_prompt or ""
    except Exception:  # a broken chain: the editor still opens
        return model.system_prompt or ""


def can_materialize(ctx: AppContext, model: UnifiedModel) -> bool:
    """Whether a variant of ``model`` can become a real Ollama model (its base runs on an Ollama host)."""
    from desktop_app.services.variants import effective_settings

    base = model
    if model.model_type is not ModelType.BASE:
        try:
            base = effective_settings(ctx, model)[0]
        except Exception:
            return False
    try:
        config = ctx.settings.source(base.provider)
    except InvalidInput:
        return False
    return config.kind is SourceKind.OLLAMA and bool(base.ollama_name)


@dataclass(frozen=True)
class GridPlan:
    """A grid typed in the editor: its axes, how many variants it makes, or what is wrong."""

    axes: dict[str, tuple[Any, ...]]
    count: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.count > 0


def plan_grid_text(values: Mapping[str, str], systems: int = 0) -> GridPlan:
    """``{"temperature": "0.2, 0.7", "seed": "1,2,3"}`` → the axes and the count (6), checked as the
    CLI checks ``variant grid`` (same parser, same cap)."""
    axes: dict[str, tuple[Any, ...]] = {}
    for name, text in values.items():
        if not text.strip():
            continue
        try:
            axes[name] = parse_axis_values(name, text)
        except InvalidInput as exc:
            return GridPlan(axes, 0, exc.message)
    system_options = [SystemOption(f"s{i}", None) for i in range(systems)]
    count = grid_size(axes, system_options) if (axes or system_options) else 0
    if not axes and systems <= 1:
        return GridPlan(axes, 0, "Type two or more values for a parameter, separated by commas.")
    if count > MAX_GRID_SIZE:
        return GridPlan(
            axes, count, f"That makes {count} variants (more than {MAX_GRID_SIZE}); use fewer values."
        )
    return GridPlan(axes, count)
