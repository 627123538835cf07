"""The source kinds ModelDesk can use, declared in one table.

Each kind says here, and only here, what the window, the CLI and the services need to know about it:
its label, default URL, whether it needs a key, whether it is local, whether it manages models (pull,
delete, create), and which adapter serves it. Callers ask the table (``kind_spec(config.kind).local``)
and never test for a particular kind. Adding a kind is one adapter module and one entry in ``KINDS``.

The factory is a ``"module:attribute"`` path (imported lazily by ``services.sources.make_backend``, so
that core never imports an adapter) or a callable. It is called as
``factory(config, rules=rules, basic_auth=login)`` (the ``user:password`` taken out of the source's URL,
or None), plus ``api_key=...`` when the kind needs a key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop_app.core.enums import SourceKind
from desktop_app.core.pools import is_pool_id

__all__ = ["KINDS", "KindSpec", "kind_spec", "unsupported_kind_message"]


@dataclass(frozen=True)
class KindSpec:
    kind: str  # the value kept in settings.json ("ollama")
    label: str  # what the window calls it ("Ollama host")
    command: str  # `modeldesk source add COMMAND ...`
    summary: str  # the CLI's help line for that command
    default_url: str
    factory: str | Callable[..., Any]  # "module:attribute" or a callable; see the module docstring
    needs_key: bool = True
    local: bool = False  # runs on the user's machines: LOCAL models, no rate-limit tiers
    manages_models: bool = False  # can pull, delete and create models (and so materialize variants)
    hand_set_capabilities: bool = False  # publishes no capabilities: the user may set them per model
    default_concurrency: int | None = None  # requests at once in an evaluation; None: by rate-limit tier
    url_required: bool = True  # the CLI asks for a URL; else ``--base-url`` defaults to default_url
    takes_org: bool = False  # the CLI offers ``--org`` (bill inference to an organisation)
    key_env: str | None = None  # an environment variable that, when set, wins over the stored key
    note: str = ""  # shown after the label where a kind is picked, e.g. "retired 2026-07-30"
    product: str = ""  # the server's own name in messages ("Ollama is not running at …"); else label
    not_running_hint: str = ""  # a local kind: what to do when nothing listens at a loopback address

    @property
    def choice_label(self) -> str:
        return f"{self.label} ({self.note})" if self.note else self.label


KINDS: dict[str, KindSpec] = {
    SourceKind.OLLAMA: KindSpec(
        kind=SourceKind.OLLAMA,
        label="Ollama host",
        command="ollama",
        summary="an Ollama host: modeldesk source add ollama gpu-box http://10.0.0.5:11434",
        default_url="http://127.0.0.1:11434",
        factory="desktop_app.adapters.ollama:OllamaBackend",
        needs_key=False,
        local=True,
        manages_models=True,
        default_concurrency=2,
        product="Ollama",
        not_running_hint="start it (ollama serve) or install it (ollama.com)",
    ),
    SourceKind.OPENAI_COMPAT: KindSpec(
        kind=SourceKind.OPENAI_COMPAT,
        label="OpenAI-compatible API",
        command="openai",
        summary="any OpenAI-compatible API: OpenAI, Azure AI Foundry, OpenRouter, vLLM, LM Studio, llama.cpp",
        default_url="https://api.openai.com/v1",
        factory="desktop_app.adapters.openai_compat:OpenAICompatBackend",
        hand_set_capabilities=True,
        # Limits unknown: one at a time until the user says more (llama-cpp-python cuts a reply short
        # when a second request comes in). Used when the model has no rate-limit tier.
        default_concurrency=1,
    ),
    SourceKind.GITHUB_MODELS: KindSpec(
        kind=SourceKind.GITHUB_MODELS,
        label="GitHub Models",
        command="github",
        summary="GitHub Models (retired 2026-07-30; kept for existing registries)",
        default_url="https://models.github.ai",
        factory="desktop_app.adapters.github_models:GitHubModelsBackend",
        url_required=False,
        takes_org=True,
        key_env="GITHUB_TOKEN",
        note="retired 2026-07-30",
    ),
}


def kind_spec(kind: str) -> KindSpec | None:
    """The table's entry for ``kind``; None for a kind this version cannot use (a typo, or a kind
    from a newer ModelDesk)."""
    return KINDS.get(kind)


def unsupported_kind_message(name: str, kind: str) -> str:
    usable = ", ".join(sorted(str(k) for k in KINDS))
    return (
        f"source {name} has kind {str(kind)!r}, which this version of ModelDesk cannot use "
        f"(it can use {usable}); it stays in settings.json and is skipped. Fix the kind in settings.json, "
        f"remove it with `modeldesk source rm {name}`, or update ModelDesk."
    )


def can_delete(model: Any) -> bool:
    """Whether ``model`` (a UnifiedModel, or a row with ``model_type`` and ``source``) is a base model
    on a host whose kind deletes models. Here, not in services, so the window can ask before its first
    paint without importing pydantic models or httpx."""
    if is_pool_id(str(getattr(model, "id", ""))):  # a pool is deleted host by host
        return False
    spec = kind_spec(str(model.source))
    return str(model.model_type) == "base" and spec is not None and spec.manages_models
