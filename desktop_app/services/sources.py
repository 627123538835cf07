"""Choosing the adapter for a configured source, and managing the sources list."""

from __future__ import annotations

from desktop_app.core.backend import ModelBackend
from desktop_app.core.categories import CategoryRules
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.store.keys import KeyStore

__all__ = ["make_backend"]


def make_backend(config: SourceConfig, keys: KeyStore, rules: CategoryRules) -> ModelBackend:
    if config.kind is SourceKind.OLLAMA:
        from desktop_app.adapters.ollama import OllamaBackend

        return OllamaBackend(config, rules=rules)
    if config.kind is SourceKind.GITHUB_MODELS:
        from desktop_app.adapters.github_models import GitHubModelsBackend

        return GitHubModelsBackend(config, api_key=keys.resolve(config), rules=rules)
    if config.kind is SourceKind.OPENAI_COMPAT:
        from desktop_app.adapters.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config, api_key=keys.resolve(config), rules=rules)
    raise ValueError(f"no adapter for source kind {config.kind}")
