"""GitHub Models (models.github.ai), built on the OpenAI-compatible adapter.

- Catalog: ``GET {base}/catalog/models`` with ``Accept: application/vnd.github+json``,
  ``X-GitHub-Api-Version: 2022-11-28`` and ``Authorization: Bearer <token>``: a JSON array of
  ``{id, name, publisher, registry, summary, html_url, version, capabilities, limits
  {max_input_tokens, max_output_tokens}, rate_limit_tier, supported_input_modalities,
  supported_output_modalities, tags}``.
- Inference (OpenAI-compatible): ``{base}/inference/chat/completions`` and ``{base}/inference/embeddings``,
  or ``{base}/orgs/{org}/inference/...`` when the source names an organization.
- Errors: ``{"error": {"code": "unauthorized" | "unknown_model" | "RateLimitReached" | "content_filter",
  "message"}}``; 429 with ``x-ratelimit-timeremaining`` / ``Retry-After``.

GitHub retired the service on 2026-07-30: every endpoint answers 410 Gone (during the July brownouts,
403 with ``Sunset``/``Deprecation`` headers and an empty body). That is reported on every call as
``ServiceRetired`` with the date, the successor GitHub names, and what to configure instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from desktop_app.adapters._errors import ErrorReply, map_reply
from desktop_app.adapters.openai_compat import (
    OpenAICompatBackend,
    positive_int,
    user_capabilities_for,
)
from desktop_app.core.categories import CategoryRules
from desktop_app.core.errors import AuthError, BadResponse, ServiceRetired, SourceError
from desktop_app.core.limits import MAX_LIST_BODY
from desktop_app.core.models import ServingType, SourceConfig, SourceKind, UnifiedModel, model_id

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "RETIRED_ON",
    "SUCCESSOR",
    "GitHubModelsBackend",
    "catalog_capabilities",
    "catalog_entry_to_model",
    "retired_error",
]

DEFAULT_BASE_URL = "https://models.github.ai"
API_VERSION = "2022-11-28"
RETIRED_ON = "2026-07-30"
SUCCESSOR = "Azure AI Foundry"

_AUTH_HINT = (
    "Set GITHUB_TOKEN, or store a token with `modeldesk key set {name}` "
    "(a personal access token with the models scope)."
)


def retired_error(source: str, status: int | None = 410, server_message: str = "") -> ServiceRetired:
    """The plain 'GitHub Models is gone' error, the same whatever endpoint noticed it."""
    said = f" (the server said: {server_message})" if server_message else ""
    return ServiceRetired(
        f"{source}: GitHub Models was retired on {RETIRED_ON}; its model catalog and inference API "
        f"are no longer available{said}.",
        retired_on=RETIRED_ON,
        successor=SUCCESSOR,
        source=source,
        status_code=status,
        hint=(
            f"Add an OpenAI-compatible source instead, e.g. {SUCCESSOR} (GitHub's named successor), "
            "OpenAI or a local server: `modeldesk source add openai NAME URL`, then `modeldesk key set NAME`."
        ),
    )


# ----------------------------------------------------------------------------------------------- catalog


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [s.strip() for s in value if isinstance(s, str) and s.strip()]


def catalog_capabilities(entry: Mapping[str, Any]) -> list[str]:
    """Catalog metadata → capabilities in the Ollama vocabulary the category rules use."""
    outputs = {s.lower() for s in _str_list(entry.get("supported_output_modalities"))}
    inputs = {s.lower() for s in _str_list(entry.get("supported_input_modalities"))}
    features = {s.lower() for s in _str_list(entry.get("capabilities"))}
    tags = {s.lower() for s in _str_list(entry.get("tags"))}
    caps: list[str] = []
    if "embeddings" in outputs or "embedding" in outputs:
        caps.append("embedding")
    if "image" in inputs:
        caps.append("vision")
    if "audio" in inputs:
        caps.append("audio")
    if "tool-calling" in features or "tool_calling" in features or "tools" in features:
        caps.append("tools")
    if "reasoning" in tags or "reasoning" in features:
        caps.append("thinking")
    if "text" in outputs or (not outputs and "embedding" not in caps):
        caps.append("completion")
    return caps


def catalog_entry_to_model(
    entry: Mapping[str, Any],
    config: SourceConfig,
    rules: CategoryRules,
    *,
    chat_url: str,
    embeddings_url: str,
) -> UnifiedModel | None:
    """One catalog entry → a UnifiedModel; None for an entry without an ``id`` (skipped, not fatal).
    Missing fields are left empty, unknown ones ignored."""
    remote_id = _str(entry.get("id"))
    if remote_id is None:
        return None
    user = user_capabilities_for(config, remote_id)
    caps = user if user is not None else catalog_capabilities(entry)
    categories = rules.for_remote(remote_id, caps)
    raw_limits = entry.get("limits")
    limits: Mapping[str, Any] = raw_limits if isinstance(raw_limits, Mapping) else {}
    publisher = _str(entry.get("publisher")) or (remote_id.split("/", 1)[0] if "/" in remote_id else None)
    return UnifiedModel(
        id=model_id(config.name, remote_id),
        name=_str(entry.get("name")) or remote_id,
        version=_str(entry.get("version")) or "",
        remote_id=remote_id,
        provider=config.name,
        source=SourceKind.GITHUB_MODELS,
        serving_type=ServingType.REMOTE,
        category=categories[0],
        categories=categories,
        capabilities=caps,
        user_capabilities=user,
        remote_endpoint=embeddings_url if "embedding" in caps else chat_url,
        description=_str(entry.get("summary")) or "",
        publisher=publisher,
        rate_limit_tier=_str(entry.get("rate_limit_tier")),
        context_length=positive_int(limits.get("max_input_tokens")),
        max_output_tokens=positive_int(limits.get("max_output_tokens")),
        tags=_str_list(entry.get("tags")),
        # No family: the catalog's ``registry`` ("azureml-deepseek", "azure-openai") names where the
        # model is hosted, not what family it belongs to, and the catalog has no family field.
    )


# ----------------------------------------------------------------------------------------------- backend


class GitHubModelsBackend(OpenAICompatBackend):
    kind = SourceKind.GITHUB_MODELS

    def _raw_base_url(self) -> str:
        return self.config.base_url.strip() or DEFAULT_BASE_URL

    def _inference_base(self) -> str:
        if self.config.org:
            return f"{self.base}/orgs/{quote(self.config.org.strip(), safe='')}/inference"
        return f"{self.base}/inference"

    def _models_url(self) -> str:
        return f"{self.base}/catalog/models"

    def _chat_url(self) -> str:
        return f"{self._inference_base()}/chat/completions"

    def _embeddings_url(self) -> str:
        return f"{self._inference_base()}/embeddings"

    def _headers(self, *, accept: str = "application/json") -> dict[str, str]:
        headers = super()._headers(accept=accept)
        headers["X-GitHub-Api-Version"] = API_VERSION
        return headers

    def _error(
        self, status: int, headers: Mapping[str, str], body: bytes | str, model: str | None
    ) -> SourceError:
        # Without a token the request still goes out, so that a retired service reads as retired;
        # any refusal then means "set a token", not "your token was refused".
        hint = _AUTH_HINT.format(name=self.config.key_ref or self.config.name)
        reply = ErrorReply.read(
            status,
            headers,
            body,
            source=self.config.name,
            host=self.host,
            model=model,
            secrets=[self._api_key],
            deprecation_counts=True,
        )
        error = map_reply(reply, hints={AuthError: hint})
        if isinstance(error, ServiceRetired):
            return retired_error(self.config.name, status, reply.server)
        if isinstance(error, AuthError) and not self._api_key:
            return AuthError(
                f"{self.config.name}: no GitHub token is set ({self.host} answered {status}).",
                source=self.config.name,
                status_code=status,
                hint=hint,
            )
        return error

    async def list_models(self) -> list[UnifiedModel]:
        data = await self._request_json(
            "GET",
            self._models_url(),
            model=None,
            what="the GitHub Models catalog",
            headers={"Accept": "application/vnd.github+json"},
            max_bytes=MAX_LIST_BODY,
            listing=True,
        )
        entries: Sequence[Any]
        if isinstance(data, list):
            entries = data
        elif isinstance(data, dict) and isinstance(data.get("data"), list):
            entries = data["data"]
        else:
            raise BadResponse(
                f"{self.config.name}: the GitHub Models catalog is not a list of models.",
                source=self.config.name,
            )
        models: list[UnifiedModel] = []
        seen: set[str] = set()
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            model = catalog_entry_to_model(
                entry,
                self.config,
                self.rules,
                chat_url=self._chat_url(),
                embeddings_url=self._embeddings_url(),
            )
            if model is not None and model.id not in seen:
                seen.add(model.id)
                models.append(model)
        return models
