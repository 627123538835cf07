"""Wire-neutral chat, embedding and pull types shared by every backend.

Adapters turn their own wire formats (Ollama NDJSON, OpenAI SSE) into these, so services, the CLI
and the window handle one shape whatever the model's source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "THINK_LEVELS",
    "ChatChunk",
    "ChatMessage",
    "ChatMetrics",
    "ChatOptions",
    "ChatRequest",
    "ChatResult",
    "PullProgress",
    "ToolCall",
]

# Ollama's ``think`` levels (api.ThinkValue; "max" since v0.22). ``think`` is also True/False, or None
# for the model's own default (Ollama's thinking models think).
THINK_LEVELS: tuple[str, ...] = ("low", "medium", "high", "max")

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    """One turn. ``images`` are base64 strings (no data: prefix)."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str = ""
    images: list[str] = Field(default_factory=list)
    thinking: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_name: str | None = None
    tool_call_id: str | None = None  # a tool reply: the id of the call it answers (OpenAI needs it)


class ChatOptions(BaseModel):
    """Sampling parameters, named once; each adapter maps them to its own wire names."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    num_ctx: int | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None

    def merged(self, override: ChatOptions | None) -> ChatOptions:
        """``override``'s set fields win over ours."""
        if override is None:
            return self
        data = self.model_dump(exclude_none=True)
        data.update(override.model_dump(exclude_none=True))
        return ChatOptions(**data)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one ``ModelBackend.chat`` call needs, named once for every backend.

    ``model`` is the native name (Ollama tag or catalog id). ``think`` is True/False, one of
    THINK_LEVELS, or None for the model's default; ``response_format`` is "text", "json" or a JSON schema.
    """

    model: str
    messages: Sequence[ChatMessage]
    options: ChatOptions | None = None
    think: bool | str | None = None
    tools: Sequence[dict[str, Any]] | None = None
    response_format: str | dict[str, Any] | None = None


class ChatMetrics(BaseModel):
    """Per-reply measurements. Durations in seconds."""

    ttft_s: float | None = None
    total_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    done_reason: str | None = None
    load_s: float | None = None

    def summary(self, sep: str = ", ", *, total: bool = False) -> str:
        """``first token 0.21 s, 48 tokens, 40.0 tokens/s``: what the CLI and the window show per reply."""
        parts = []
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s:.2f} s")
        if self.completion_tokens is not None:
            parts.append(f"{self.completion_tokens} tokens")
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:.1f} tokens/s")
        if total and self.total_s is not None:
            parts.append(f"total {seconds_text(self.total_s)}")
        return sep.join(parts)


def seconds_text(seconds: float) -> str:
    """A reply's total time as the window and the CLI print it: two decimals below 10 s, like the
    first-token time beside it (one decimal made a 0.04 s reply read "first token 0.02 s … total 0.0 s")."""
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


class ChatChunk(BaseModel):
    """One streamed piece. The last chunk has ``done=True`` and ``metrics`` filled in."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    done: bool = False
    metrics: ChatMetrics | None = None


class ChatResult(BaseModel):
    """A whole reply, assembled from chunks."""

    content: str = ""
    thinking: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    metrics: ChatMetrics = Field(default_factory=ChatMetrics)

    def add(self, chunk: ChatChunk) -> None:
        self.content += chunk.content
        self.thinking += chunk.thinking
        self.tool_calls.extend(chunk.tool_calls)
        if chunk.metrics is not None:
            self.metrics = chunk.metrics


class PullProgress(BaseModel):
    """One status line of a pull. ``digest`` set for per-layer progress lines."""

    status: str
    digest: str | None = None
    total: int | None = None
    completed: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, (self.completed or 0) / self.total))
