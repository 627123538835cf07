"""A made-up source kind ("anthropic"), registered in the kinds table by a fixture: it shows that adding a
kind is one adapter and one ``KINDS`` entry. The adapter answers in-process (no server needed: what is
tested is how the rest of ModelDesk finds and uses a kind, not a wire protocol)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest

from desktop_app.core.categories import DEFAULT_RULES, CategoryRules
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions
from desktop_app.core.kinds import KINDS, KindSpec
from desktop_app.core.models import SourceConfig, UnifiedModel, model_id

__all__ = ["FAKE_KIND", "FakeAnthropicBackend", "fake_kind"]

FAKE_KIND = "anthropic"
CATALOG = ("claude-fake-1", "claude-fake-2")


class FakeAnthropicBackend:
    """The "one adapter file" of the made-up kind."""

    made: list[FakeAnthropicBackend] = []

    def __init__(
        self,
        config: SourceConfig,
        *,
        api_key: str | None,
        rules: CategoryRules = DEFAULT_RULES,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.config, self.api_key, self.rules, self.basic_auth = config, api_key, rules, basic_auth
        FakeAnthropicBackend.made.append(self)

    async def version(self) -> str | None:
        return "fake-anthropic 1"

    async def list_models(self) -> list[UnifiedModel]:
        models = []
        for name in CATALOG:
            cats = self.rules.for_remote(name, ["completion"])
            models.append(
                UnifiedModel(
                    id=model_id(self.config.name, name),
                    name=name,
                    remote_id=name,
                    provider=self.config.name,
                    source=self.config.kind,
                    serving_type=self.config.serving_type,
                    category=cats[0],
                    categories=cats,
                    capabilities=["completion"],
                    remote_endpoint=self.config.base_url,
                )
            )
        return models

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        options: ChatOptions | None = None,
        *,
        think: bool | str | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        response_format: str | dict[str, Any] | None = None,
    ) -> AsyncIterator[ChatChunk]:
        yield ChatChunk(content="hello", done=True)

    async def embed(self, model: str, inputs: Sequence[str]) -> list[list[float]]:
        return [[1.0] for _ in inputs]

    async def aclose(self) -> None:
        pass


@pytest.fixture
def fake_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[KindSpec]:
    """The made-up kind, in the table for one test: its one entry."""
    spec = KindSpec(
        kind=FAKE_KIND,
        label="Anthropic-compatible API",
        command="anthropic",
        summary="an Anthropic-compatible API: modeldesk source add anthropic NAME URL",
        default_url="https://api.anthropic.example/v1",
        factory="tests.fakes.kinds:FakeAnthropicBackend",  # imported lazily, like the real adapters
        default_concurrency=3,
    )
    monkeypatch.setitem(KINDS, FAKE_KIND, spec)
    FakeAnthropicBackend.made.clear()
    yield spec
    FakeAnthropicBackend.made.clear()
