"""Experimental models ("variants"): a base model plus a system prompt and sampling parameters.

Pure: building the registry entry for a variant, checking its parameters, and expanding a variant
grid (every combination of the given options) into specs with readable generated names such as
``llama3.2-temp0.2-sys-concise``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from desktop_app.core.categories import CategoryRules
from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import Category, ModelStatus, ModelType, UnifiedModel, utcnow

__all__ = [
    "GRID_AXES",
    "MAX_GRID_SIZE",
    "VARIANT_PREFIX",
    "GridAxis",
    "SystemOption",
    "VariantSpec",
    "base_short_name",
    "build_variant",
    "chain",
    "check_parameters",
    "collect_settings",
    "describe_options",
    "expand_grid",
    "grid_size",
    "ollama_parameters",
    "options_from_parameters",
    "parameters_of",
    "parse_axis_values",
    "validate_variant_name",
    "variant_id",
]

VARIANT_PREFIX = "exp"
MAX_GRID_SIZE = 256

# Grid axes: parameter name → short label used in generated names.
GRID_AXES: dict[str, str] = {
    "temperature": "temp",
    "top_p": "topp",
    "top_k": "topk",
    "num_ctx": "ctx",
    "max_tokens": "max",
    "seed": "seed",
}
_INT_PARAMS = {"top_k", "num_ctx", "max_tokens", "seed"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def validate_variant_name(name: str) -> str:
    """A variant name: letters, digits, '.', '_' and '-' (so it is also a valid Ollama model name)."""
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"{name!r} is not a valid variant name: use 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def variant_id(name: str) -> str:
    """Registry id of a variant: ``exp/<name>``."""
    return f"{VARIANT_PREFIX}/{name}"


def check_parameters(options: ChatOptions) -> ChatOptions:
    """Range checks with messages that name the parameter."""
    o = options
    if o.temperature is not None and not (0 <= o.temperature <= 2 and math.isfinite(o.temperature)):
        raise InvalidInput(f"temperature must be between 0 and 2, not {o.temperature:g}.")
    if o.top_p is not None and not (0 < o.top_p <= 1):
        raise InvalidInput(f"top_p must be above 0 and at most 1, not {o.top_p:g}.")
    for label, value in (("top_k", o.top_k), ("num_ctx", o.num_ctx), ("max_tokens", o.max_tokens)):
        if value is not None and value < 1:
            raise InvalidInput(f"{label} must be 1 or more, not {value}.")
    if o.stop is not None and any(not s for s in o.stop):
        raise InvalidInput("a stop sequence cannot be empty.")
    return o


def ollama_parameters(options: ChatOptions) -> dict[str, Any]:
    """Parameters in Ollama's Modelfile names (``max_tokens`` is ``num_predict``), for /api/create."""
    data = options.model_dump(exclude_none=True)
    if "max_tokens" in data:
        data["num_predict"] = data.pop("max_tokens")
    return data


def base_short_name(model: UnifiedModel) -> str:
    """``ollama/llama3.2:latest`` → ``llama3.2``; ``github/openai/gpt-4.1`` → ``gpt-4.1``;
    ``llama3.2:8b`` → ``llama3.2-8b``. A variant's own name is used as it is."""
    if model.model_type is not ModelType.BASE:
        return model.name
    name = model.native_name.rsplit("/", 1)[-1]
    name = name.removesuffix(":latest").replace(":", "-")
    return _slug(name) or "model"


def _slug(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip()).strip("-._")
    return re.sub(r"-{2,}", "-", text)


class VariantSpec(BaseModel):
    """What the user asks for; ``build_variant`` turns it into a registry entry."""

    name: str
    system_prompt: str | None = None
    parameters: ChatOptions = Field(default_factory=ChatOptions)
    description: str = ""


def build_variant(
    parent: UnifiedModel,
    spec: VariantSpec,
    rules: CategoryRules,
    *,
    now: datetime | None = None,
) -> UnifiedModel:
    """The registry entry: experimental, linked to its parent, its parent's categories plus
    ``experimental`` (listed first, so the tree shows it there), the parent's provider, source and
    serving type. ``ollama_name`` stays empty until the variant is materialized."""
    name = validate_variant_name(spec.name)
    params = check_parameters(spec.parameters)
    stamp = now or utcnow()
    parent_cats: list[Category] = [c for c in parent.categories if c is not Category.EXPERIMENTAL]
    parent_cats = parent_cats or [parent.category]
    categories = rules.for_experimental(parent_cats)
    description = spec.description or _describe(parent, spec)
    return UnifiedModel(
        id=variant_id(name),
        name=name,
        provider=parent.provider,
        category=Category.EXPERIMENTAL,
        categories=categories,
        model_type=ModelType.EXPERIMENTAL,
        source=parent.source,
        serving_type=parent.serving_type,
        capabilities=list(parent.capabilities),
        parameters=params.model_dump(exclude_none=True),
        system_prompt=spec.system_prompt or None,
        parent_id=parent.id,
        status=ModelStatus.AVAILABLE,
        created_at=stamp,
        updated_at=stamp,
        description=description,
        family=parent.family,
        context_length=params.num_ctx or parent.context_length,
        parameter_size=parent.parameter_size,
        quantization=parent.quantization,
        rate_limit_tier=parent.rate_limit_tier,
        publisher=parent.publisher,
        max_output_tokens=parent.max_output_tokens,
        tags=["variant"],
    )


def _describe(parent: UnifiedModel, spec: VariantSpec) -> str:
    parts = [f"{k}={v}" for k, v in spec.parameters.model_dump(exclude_none=True).items()]
    if spec.system_prompt:
        first = " ".join(spec.system_prompt.split())
        parts.append(f'system "{first[:40]}{"…" if len(first) > 40 else ""}"')
    return f"Variant of {parent.id}" + (f": {', '.join(parts)}" if parts else "")


# --------------------------------------------------------------------------------------------- grids
@dataclass(frozen=True)
class SystemOption:
    """One system prompt of a grid; ``label`` goes into generated names (e.g. the file's stem)."""

    label: str
    text: str | None


@dataclass(frozen=True)
class GridAxis:
    parameter: str
    values: tuple[Any, ...]


def parse_axis_values(parameter: str, text: str) -> tuple[Any, ...]:
    """``"0.2,0.7"`` → ``(0.2, 0.7)``, typed for the parameter; duplicates are dropped."""
    if parameter not in GRID_AXES:
        raise InvalidInput(f"{parameter!r} cannot vary in a grid; use one of {', '.join(GRID_AXES)}.")
    values: list[Any] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            value: Any = int(item) if parameter in _INT_PARAMS else float(item)
        except ValueError:
            kind = "whole numbers" if parameter in _INT_PARAMS else "numbers"
            raise InvalidInput(
                f"--{parameter.replace('_', '-')} takes {kind} separated by commas, not {item!r}."
            ) from None
        check_parameters(ChatOptions(**{parameter: value}))
        values.append(value)
    if not values:
        raise InvalidInput(f"--{parameter.replace('_', '-')} needs at least one value.")
    return tuple(dict.fromkeys(values))


def grid_size(axes: Mapping[str, Sequence[Any]], systems: Sequence[SystemOption] = ()) -> int:
    n = 1
    for values in axes.values():
        n *= max(1, len(values))
    return n * max(1, len(systems))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:g}"
        return text
    return str(value)


def _unique_labels(systems: Sequence[SystemOption]) -> list[str]:
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(systems):
        base = _slug(s.label).lower() or f"sys{i + 1}"
        count = seen.get(base, 0) + 1
        seen[base] = count
        labels.append(base if count == 1 else f"{base}-{count}")
    return labels


def expand_grid(
    base_name: str,
    axes: Mapping[str, Sequence[Any]],
    systems: Sequence[SystemOption] = (),
    *,
    fixed: ChatOptions | None = None,
    max_size: int = MAX_GRID_SIZE,
) -> list[VariantSpec]:
    """Every combination of the axes' values and the system prompts, as specs.

    Names are ``<base>-<label><value>...``: only axes with more than one value (and the system prompt
    when there are several) appear, so names stay short; when nothing varies all given values appear.
    ``fixed`` parameters go into every variant. Raises InvalidInput for an empty or too-large grid.
    """
    clean: dict[str, tuple[Any, ...]] = {}
    for parameter, values in axes.items():
        if parameter not in GRID_AXES:
            raise InvalidInput(f"{parameter!r} cannot vary in a grid; use one of {', '.join(GRID_AXES)}.")
        if values:
            clean[parameter] = tuple(dict.fromkeys(values))
    system_list = list(systems)
    size = grid_size(clean, system_list)
    if not clean and not system_list:
        raise InvalidInput("A grid needs at least one option to vary, e.g. --temperature 0.2,0.7.")
    if size > max_size:
        raise InvalidInput(f"That grid makes {size} variants (more than {max_size}); use fewer values.")
    labels = _unique_labels(system_list)
    base = _slug(base_name) or "variant"
    varying = {p for p, v in clean.items() if len(v) > 1}
    name_system = len(system_list) > 1
    if not varying and not name_system:
        varying = set(clean)
        name_system = bool(system_list)
    order = [p for p in GRID_AXES if p in clean]
    specs: list[VariantSpec] = []
    system_choices: list[tuple[str | None, SystemOption | None]] = (
        list(zip(labels, system_list, strict=True)) if system_list else [(None, None)]
    )
    for combo in itertools.product(*(clean[p] for p in order)):
        chosen = dict(zip(order, combo, strict=True))
        for label, system in system_choices:
            parts = [base]
            parts += [f"{GRID_AXES[p]}{_fmt(chosen[p])}" for p in order if p in varying]
            if name_system and label is not None:
                parts.append(f"sys-{label}")
            params = (fixed or ChatOptions()).model_dump(exclude_none=True)
            params.update(chosen)
            specs.append(
                VariantSpec(
                    name=validate_variant_name("-".join(parts)[:80]),
                    system_prompt=system.text if system is not None else None,
                    parameters=check_parameters(ChatOptions(**params)),
                )
            )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):  # only possible when names were cut at 80 characters
        specs = [s.model_copy(update={"name": f"{s.name[:75]}-{i + 1}"}) for i, s in enumerate(specs)]
    return specs


def describe_options(options: ChatOptions) -> str:
    """``temperature=0.2, top_p=0.9`` for listings."""
    return ", ".join(f"{k}={v}" for k, v in options.model_dump(exclude_none=True).items())


_OPTION_KEYS = frozenset(ChatOptions.model_fields)
_PARAMETER_ALIASES = {
    "max_output_tokens": "max_tokens",
    "maxTokens": "max_tokens",
    "num_predict": "max_tokens",
    "topP": "top_p",
}


def options_from_parameters(parameters: dict[str, Any]) -> ChatOptions:
    """Free-form parameters (ours, Ollama's or .prompt.yml's names) as ChatOptions; unknown keys ignored."""
    data: dict[str, Any] = {}
    for key, value in parameters.items():
        key = _PARAMETER_ALIASES.get(key, key)
        if key in _OPTION_KEYS and value is not None:
            data[key] = value
    if isinstance(data.get("stop"), str):
        data["stop"] = [data["stop"]]
    return ChatOptions(**data)


def parameters_of(model: UnifiedModel) -> ChatOptions:
    """A variant's stored parameters as ChatOptions (unknown keys ignored)."""
    return options_from_parameters(model.parameters)


def collect_settings(variants: Iterable[UnifiedModel]) -> tuple[str | None, ChatOptions]:
    """Fold variants listed nearest first: the nearest system prompt applies, nearer parameters win."""
    system: str | None = None
    options = ChatOptions()
    for m in variants:
        if system is None and m.system_prompt:
            system = m.system_prompt
        options = parameters_of(m).merged(options)
    return system, options


def chain(model: UnifiedModel, find: Callable[[str], UnifiedModel | None]) -> Iterator[UnifiedModel]:
    """The model, then its parent, grandparent...; ``find(id)`` looks a model up (None if missing).
    Stops at a cycle."""
    seen: set[str] = set()
    current: UnifiedModel | None = model
    while current is not None and current.id not in seen:
        seen.add(current.id)
        yield current
        current = find(current.parent_id) if current.parent_id else None
