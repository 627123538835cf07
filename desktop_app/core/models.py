"""The unified model: one shape for every model ModelDesk knows, local or remote.

Field names follow the seed's ``UnifiedModelObject`` plus the facts users ask for (context length,
parameter size, quantization, size on disk, rate-limit tier). ``extra="ignore"`` so that a registry
written by a newer version still loads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Enums live in core.enums (no pydantic) so light code paths can use them; re-exported here.
from desktop_app.core.enums import (
    Category,
    ModelStatus,
    ModelType,
    ServingType,
    SourceHealth,
    SourceKind,
)
from desktop_app.core.kinds import KindSpec, kind_spec, unsupported_kind_message

__all__ = [
    "Category",
    "ModelStatus",
    "ModelType",
    "ServingType",
    "SourceConfig",
    "SourceHealth",
    "SourceKind",
    "SourceState",
    "UnifiedModel",
    "model_id",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def model_id(source_name: str, native_name: str) -> str:
    """Registry ids are ``<source-name>/<model-name>``, e.g. ``ollama/llama3.2:latest``."""
    return f"{source_name}/{native_name}"


class UnifiedModel(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=False)

    id: str
    name: str
    version: str = ""
    ollama_name: str | None = None
    remote_id: str | None = None
    provider: str = Field(description="Name of the configured source this model comes from.")
    category: Category = Category.TEXT
    categories: list[Category] = Field(default_factory=list)
    model_type: ModelType = ModelType.BASE
    source: SourceKind | str = Field(default=SourceKind.OLLAMA, union_mode="left_to_right")
    serving_type: ServingType = ServingType.LOCAL
    capabilities: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str | None = None
    parent_id: str | None = None
    local_endpoint: str | None = None
    remote_endpoint: str | None = None
    status: ModelStatus = ModelStatus.AVAILABLE
    status_message: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    description: str = ""
    # Facts users ask for.
    family: str | None = None
    context_length: int | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    size_bytes: int | None = None
    digest: str | None = None
    rate_limit_tier: str | None = None
    publisher: str | None = None
    max_output_tokens: int | None = None
    tags: list[str] = Field(default_factory=list)
    user_capabilities: list[str] | None = Field(
        default=None, description="Capabilities the user set by hand; they win over inferred ones."
    )

    @field_validator("categories")
    @classmethod
    def _dedupe(cls, value: list[Category]) -> list[Category]:
        return list(dict.fromkeys(value))

    @property
    def native_name(self) -> str:
        """The name the source itself uses (Ollama tag or catalog id)."""
        return self.ollama_name or self.remote_id or self.name

    @property
    def is_local(self) -> bool:
        return self.serving_type is ServingType.LOCAL

    @property
    def usable(self) -> bool:
        return self.status is ModelStatus.AVAILABLE


_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SourceConfig(BaseModel):
    """One configured source. The key itself never lives here: ``key_ref`` names the keyring entry."""

    model_config = ConfigDict(extra="ignore")

    name: str
    # A key of core.kinds.KINDS. A kind this version cannot use (a typo, a newer ModelDesk's) is kept as
    # written, so that the user's settings survive; ``problem`` says why such a source is skipped.
    kind: SourceKind | str = Field(union_mode="left_to_right")
    base_url: str
    enabled: bool = True
    key_ref: str | None = None
    org: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _SOURCE_NAME.match(value):
            raise ValueError(
                "a source name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @property
    def spec(self) -> KindSpec | None:
        """What the kinds table says about this source's kind (None: this version cannot use it)."""
        return kind_spec(self.kind)

    @property
    def problem(self) -> str | None:
        """Why this source cannot be used at all (an unknown kind); None when it can."""
        return None if self.spec is not None else unsupported_kind_message(self.name, self.kind)

    @property
    def serving_type(self) -> ServingType:
        spec = self.spec
        return ServingType.LOCAL if spec is not None and spec.local else ServingType.REMOTE


class SourceState(BaseModel):
    """What the last sync learned about one source."""

    name: str
    health: SourceHealth = SourceHealth.UNKNOWN
    message: str = ""
    model_count: int = 0
    version: str | None = None
    checked_at: datetime | None = None
