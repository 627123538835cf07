"""Ollama's wire types: pydantic models of the native API's request and reply bodies (``/api/*``).

Apart from the client (``ollama.py``), as ollama-python keeps them. Unknown fields are kept, never
dropped: newer servers add fields all the time. Request bodies are sent as
``model_dump(exclude_none=True, by_alias=True)``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ChatRequest",
    "ChatResponseChunk",
    "CopyRequest",
    "CreateRequest",
    "DeleteRequest",
    "EmbedRequest",
    "EmbedResponse",
    "ModelDetails",
    "PsResponse",
    "PullRequest",
    "RunningModel",
    "ShowRequest",
    "ShowResponse",
    "StatusLine",
    "TagsModel",
    "TagsResponse",
    "VersionResponse",
    "WireMessage",
    "WireToolCall",
    "WireToolFunction",
]


class _Wire(BaseModel):
    """Base of every wire type: unknown fields are kept (newer servers add fields all the time)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


class ModelDetails(_Wire):
    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None


def _details(value: Any) -> Any:
    return ModelDetails() if value is None else value


class VersionResponse(_Wire):
    version: str


class TagsModel(_Wire):
    name: str
    model: str | None = None
    modified_at: str | None = None
    size: int | None = None
    digest: str | None = None
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: list[str] | None = None
    remote_model: str | None = None
    remote_host: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_from_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("model"), str):
            return {**data, "name": data["model"]}
        return data

    _details = field_validator("details", mode="before")(_details)


class TagsResponse(_Wire):
    models: list[TagsModel] = Field(default_factory=list)

    _models = field_validator("models", mode="before")(_none_to_empty_list)


class ShowRequest(_Wire):
    model: str


class ShowResponse(_Wire):
    license: str | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    details: ModelDetails = Field(default_factory=ModelDetails)
    model_info: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] | None = None
    modified_at: str | None = None

    _details = field_validator("details", mode="before")(_details)

    @field_validator("model_info", mode="before")
    @classmethod
    def _info(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def architecture(self) -> str | None:
        arch = self.model_info.get("general.architecture")
        return arch if isinstance(arch, str) else None

    @property
    def context_length(self) -> int | None:
        """``model_info["<general.architecture>.context_length"]``, else ``details.context_length``."""
        if self.architecture:
            value = self.model_info.get(f"{self.architecture}.context_length")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return self.details.context_length


_FRACTION = re.compile(r"(\.\d{6})\d+")


class RunningModel(_Wire):
    """One entry of ``/api/ps``."""

    name: str
    model: str | None = None
    size: int | None = None
    size_vram: int | None = None
    digest: str | None = None
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: datetime | None = None
    context_length: int | None = None

    _details = field_validator("details", mode="before")(_details)

    @field_validator("expires_at", mode="before")
    @classmethod
    def _expires(cls, value: Any) -> Any:
        # Go writes nanoseconds (9 fraction digits); keep microseconds. Unreadable → None, not an error.
        if isinstance(value, str):
            text = _FRACTION.sub(r"\1", value.strip())
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
        return value


class PsResponse(_Wire):
    models: list[RunningModel] = Field(default_factory=list)

    _models = field_validator("models", mode="before")(_none_to_empty_list)


class PullRequest(_Wire):
    model: str
    stream: bool = True
    insecure: bool | None = None


class StatusLine(_Wire):
    """One NDJSON line of ``/api/pull`` or ``/api/create``."""

    status: str | None = None
    digest: str | None = None
    total: int | None = None
    completed: int | None = None
    error: str | None = None


class DeleteRequest(_Wire):
    model: str


class CopyRequest(_Wire):
    source: str
    destination: str


class CreateRequest(_Wire):
    model: str
    from_: str = Field(alias="from")
    system: str | None = None
    parameters: dict[str, Any] | None = None
    template: str | None = None
    stream: bool = True


class WireToolFunction(_Wire):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    index: int | None = None


class WireToolCall(_Wire):
    id: str | None = None
    function: WireToolFunction


class WireMessage(_Wire):
    role: str = "assistant"
    content: str = ""
    images: list[str] | None = None
    thinking: str | None = None
    tool_calls: list[WireToolCall] | None = None
    tool_name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, value: Any) -> Any:
        return "" if value is None else value


class ChatRequest(_Wire):
    model: str
    messages: list[WireMessage]
    tools: list[dict[str, Any]] | None = None
    think: bool | str | None = None
    format: str | dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    stream: bool = True
    keep_alive: str | int | None = None


class ChatResponseChunk(_Wire):
    model: str | None = None
    created_at: str | None = None
    message: WireMessage | None = None
    done: bool = False
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    error: str | None = None


class EmbedRequest(_Wire):
    model: str
    input: list[str]
    truncate: bool | None = None


class EmbedResponse(_Wire):
    model: str | None = None
    embeddings: list[list[float]]
