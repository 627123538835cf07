"""The protocol every source adapter implements; services depend on this, not on a concrete adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from desktop_app.core.chat import ChatChunk, ChatRequest
from desktop_app.core.models import SourceConfig, UnifiedModel

__all__ = ["ModelBackend"]


@runtime_checkable
class ModelBackend(Protocol):
    """One configured source. ``model`` arguments are native names (Ollama tag or catalog id)."""

    config: SourceConfig

    async def version(self) -> str | None:
        """Server version if the source reports one; raises SourceError when unreachable."""
        ...

    async def list_models(self) -> list[UnifiedModel]:
        """Every model the source offers, as unified models with categories assigned."""
        ...

    def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Stream a reply; the last chunk has ``done=True`` and metrics."""
        ...

    async def embed(self, model: str, inputs: Sequence[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...
