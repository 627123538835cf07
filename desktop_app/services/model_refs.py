"""A model id as a suite or the command line writes it, resolved to a registry model."""

from __future__ import annotations

from desktop_app.core.errors import InvalidInput, ModelNotFound
from desktop_app.core.models import UnifiedModel
from desktop_app.core.variants import chain
from desktop_app.services.context import AppContext

__all__ = ["base_of", "resolve_model_ref"]


def resolve_model_ref(ctx: AppContext, ref: str) -> UnifiedModel:
    """A registry model from an id (``ollama/llama3.2:latest``), a unique name, a catalog id as
    suites write them (``openai/gpt-4o``) or an Ollama name without its tag (``llama3.2``)."""
    ref = ref.strip()
    if not ref:
        raise InvalidInput("An empty model id was given.")
    try:
        return ctx.registry.get(ref)
    except ModelNotFound:
        pass
    tagged = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
    found = [
        m
        for m in ctx.registry.list_models()
        if ref in (m.remote_id, m.ollama_name) or tagged in (m.ollama_name, m.id, m.name)
    ]
    usable = [m for m in found if m.usable] or found
    if len(usable) == 1:
        return usable[0]
    if len(usable) > 1:
        ids = ", ".join(m.id for m in usable[:5])
        raise InvalidInput(f"{ref!r} matches several models ({ids}); give the full id.")
    raise ModelNotFound(
        f"No model {ref!r} in the registry.",
        hint="Run `modeldesk sync`, then `modeldesk list` to see the ids.",
    )


def base_of(ctx: AppContext, model: UnifiedModel) -> UnifiedModel:
    last = model
    for m in chain(model, ctx.registry.find):
        last = m
    return last
