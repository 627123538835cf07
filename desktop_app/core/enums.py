"""The app's enumerations, free of pydantic so that light code paths (``list --json``) can import them
without building any model class. ``core.models`` re-exports them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Category", "ModelStatus", "ModelType", "ServingType", "SourceHealth", "SourceKind"]


class Category(StrEnum):
    EMBEDDING = "embedding"
    MULTIMODAL = "multimodal"
    FUNCTION_CALLING = "function_calling"
    REASONING = "reasoning"
    TEXT = "text"
    CLOUD_TEXT = "cloud_text"
    CLOUD_CODE = "cloud_code"
    CLOUD_MULTIMODAL = "cloud_multimodal"
    CLOUD_GENERAL = "cloud_general"
    EXPERIMENTAL = "experimental"


class SourceKind(StrEnum):
    """``source`` of a model: which kind of system it comes from."""

    OLLAMA = "ollama"
    GITHUB_MODELS = "github_models"
    OPENAI_COMPAT = "openai_compat"
    MLFLOW = "mlflow"  # no adapter yet: settings may name it; see core.kinds


class ServingType(StrEnum):
    LOCAL = "local"
    REMOTE = "remote"
    HYBRID = "hybrid"


class ModelType(StrEnum):
    BASE = "base"
    EXPERIMENTAL = "experimental"
    VARIANT = "variant"


class ModelStatus(StrEnum):
    AVAILABLE = "available"
    OFFLINE = "offline"
    RETIRED = "retired"
    ERROR = "error"
    DISABLED = "disabled"  # its source is disabled in Settings (shown so, never stored)


class SourceHealth(StrEnum):
    OK = "ok"
    DOWN = "down"
    RETIRED = "retired"
    DISABLED = "disabled"
    UNKNOWN = "unknown"
