"""stream_chat hands a backend's chunk on as it is when there is nothing to change in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatMetrics, ChatRequest
from desktop_app.core.models import SourceConfig, SourceKind, UnifiedModel
from desktop_app.services import serving
from desktop_app.services.context import AppContext


class _Backend:
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:9")

    def __init__(self, chunks: list[ChatChunk]) -> None:
        self.chunks = chunks

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        for c in self.chunks:
            yield c


async def test_plain_chunks_pass_through_uncopied_and_think_tags_still_move(monkeypatch: Any) -> None:
    ctx = AppContext.open()
    model = UnifiedModel(id="ollama/m:latest", name="m:latest", ollama_name="m:latest", provider="ollama")
    ctx.registry.upsert([model])
    plain = ChatChunk(content="hello ")
    chunks = [plain, ChatChunk(content="<think>hm</think>ok"), ChatChunk(done=True, metrics=ChatMetrics())]
    monkeypatch.setattr(ctx, "backend", lambda _name: _Backend(chunks))
    out = [c async for c in serving.stream_chat(ctx, model, [ChatMessage(role="user", content="hi")])]
    ctx.close()
    assert out[0] is plain
    assert (out[1].content, out[1].thinking) == ("ok", "hm")
    assert out[-1].done and out[-1].metrics is not None and out[-1].metrics.total_s is not None
