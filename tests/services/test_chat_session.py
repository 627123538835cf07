"""The chat session without Qt: conversations kept as they go (each message, a stop, a failure),
continued with their history, a new model starts a new conversation, and one clock for the timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from desktop_app.core.chat import ChatMetrics, ChatOptions
from desktop_app.core.errors import SourceUnavailable
from desktop_app.core.models import UnifiedModel
from desktop_app.services.chat_session import ChatSession, consistent_metrics
from desktop_app.services.context import AppContext
from desktop_app.store.conversations import ConversationStore
from tests.fakes.ollama import FakeOllama


@pytest.fixture
async def ctx(fake_ollama: FakeOllama) -> AsyncIterator[AppContext]:
    from desktop_app.services.sync import sync_all

    context = AppContext.open()
    context.settings.sources = [
        context.settings.source("ollama").model_copy(update={"base_url": fake_ollama.url})
    ]
    context.save_settings()
    await sync_all(context, context.settings.enabled_sources())
    yield context
    await context.aclose()
    context.close()


def model(ctx: AppContext, name: str) -> UnifiedModel:
    return ctx.registry.get(f"ollama/{name}")


async def test_each_message_is_saved_and_the_conversation_continues(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    store = ConversationStore()
    session = ChatSession(ctx, store)
    session.set_model(model(ctx, "llama3.2:latest"))
    chunks: list[str] = []
    session.chunk.connect(lambda content, _thinking: chunks.append(content))
    reply = await session.send("Why is the sky blue?", system="Be brief.", options=ChatOptions(seed=7))
    assert reply.state == "done" and reply.content == "".join(chunks) and reply.content
    assert reply.metrics is not None and reply.metrics.total_s is not None

    kept = store.load(session.conversation.id)
    assert kept.model_id == "ollama/llama3.2:latest" and kept.system_prompt == "Be brief."
    assert kept.options.seed == 7 and [t.role for t in kept.turns] == ["user", "assistant"]
    assert kept.turns[1].content == reply.content and kept.turns[1].metrics == reply.metrics

    # Reopened in a new session, it continues with its history sent along.
    again = ChatSession(ctx, store)
    again.open(kept.id, model(ctx, "llama3.2:latest"))
    await again.send("And at sunset?")
    sent = fake_ollama.last_bodies["/api/chat"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == reply.content
    assert len(store.load(kept.id).turns) == 4 and len(store.list()) == 1


async def test_a_stopped_reply_is_kept_and_saved(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    store = ConversationStore()
    session = ChatSession(ctx, store)
    session.set_model(model(ctx, "llama3.2:latest"))
    fake_ollama.chunk_delay = 0.05
    first_chunk = asyncio.Event()
    session.chunk.connect(lambda *_: first_chunk.set())
    task = asyncio.ensure_future(session.send("Tell me a long story"))
    await asyncio.wait_for(first_chunk.wait(), 10)
    assert session.busy and session.stop()
    with pytest.raises(asyncio.CancelledError):
        await task
    kept = store.load(session.conversation.id).turns[-1]
    assert kept.state == "stopped" and kept.content and kept.content == session.turns[-1].content
    assert not session.busy


async def test_a_failure_is_recorded_and_the_question_kept(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    store = ConversationStore()
    session = ChatSession(ctx, store)
    session.set_model(model(ctx, "llama3.2:latest"))
    fake_ollama.stop()
    with pytest.raises(SourceUnavailable):
        await session.send("Anyone there?")
    kept = store.load(session.conversation.id)
    assert kept.turns[0].content == "Anyone there?"
    assert kept.turns[1].state == "failed" and "127.0.0.1" in kept.turns[1].error
    assert kept.history() == []  # the failed question is not sent again as if it had been answered


async def test_another_model_starts_a_new_conversation_and_keeps_the_old(ctx: AppContext) -> None:
    store = ConversationStore()
    session = ChatSession(ctx, store)
    changed: list[str] = []
    session.conversation_changed.connect(lambda: changed.append(session.conversation.id))
    session.set_model(model(ctx, "llama3.2:latest"))
    await session.send("hello")
    first = session.conversation.id
    assert session.set_model(model(ctx, "llama3.2:latest")) is False  # same model: same conversation
    assert session.set_model(model(ctx, "qwen3:8b")) is True
    assert changed and session.conversation.id != first and session.turns == []
    assert session.conversation.model_id == "ollama/qwen3:8b"
    assert [s.id for s in store.list()] == [first]  # an empty conversation is not written


async def test_timing_line_uses_one_clock(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    # The server's total_duration (a few ms) is shorter than the wait for the first token.
    fake_ollama.delays["/api/chat"] = 0.3
    fake_ollama.ns_per_token = 1000
    fake_ollama.load_duration_ns = 1000
    session = ChatSession(ctx, ConversationStore())
    session.set_model(model(ctx, "llama3.2:latest"))
    reply = await session.send("quick")
    m = reply.metrics
    assert m is not None and m.ttft_s is not None and m.total_s is not None
    assert m.ttft_s >= 0.3 and m.ttft_s <= m.total_s


def test_consistent_metrics_never_lets_first_token_exceed_total() -> None:
    m = consistent_metrics(ChatMetrics(ttft_s=5.01, total_s=0.2), started=0.0, first=None, end=0.1)
    assert m.total_s == pytest.approx(0.1) and m.ttft_s == pytest.approx(0.1)
    m = consistent_metrics(None, started=1.0, first=1.5, end=3.0)
    assert (m.ttft_s, m.total_s) == (0.5, 2.0)


async def test_missing_facts_are_fetched_from_the_host_and_kept(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    from desktop_app.services.library import fill_missing_facts, missing_facts

    listed = model(ctx, "llama3.2:latest")
    assert listed.context_length == 131_072, "a v0.30+ /api/tags gives details.context_length"
    # A model that arrived without it (an /api/tags entry without the field):
    bare = listed.model_copy(update={"context_length": None})
    ctx.registry.upsert([bare])
    assert missing_facts(bare) == ["context_length"]
    shows = fake_ollama.requests["/api/show"]
    done = await fill_missing_facts(ctx, bare)
    assert done is not None and done.context_length == 131_072
    assert fake_ollama.requests["/api/show"] == shows + 1
    assert model(ctx, "llama3.2:latest").context_length == 131_072
    assert await fill_missing_facts(ctx, done) is None  # nothing missing: the host is not asked
    assert fake_ollama.requests["/api/show"] == shows + 1


async def test_stream_chat_reports_first_token_and_total_on_one_clock(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    """The CLI and the window show stream_chat's metrics: the server's total_duration (a few ms here)
    must not be shown beside a wall-clock first token of 0.3 s."""
    from desktop_app.core.chat import ChatMessage
    from desktop_app.services.serving import chat_once

    fake_ollama.delays["/api/chat"] = 0.3
    fake_ollama.ns_per_token = 1000
    fake_ollama.load_duration_ns = 1000
    result = await chat_once(ctx, "ollama/llama3.2:latest", [ChatMessage(role="user", content="hi")])
    m = result.metrics
    assert m.ttft_s is not None and m.total_s is not None
    assert 0.3 <= m.ttft_s <= m.total_s


async def test_a_replys_tool_turns_are_kept_and_sent_again_with_the_history(
    ctx: AppContext, fake_ollama: FakeOllama
) -> None:
    """A stream that ran tools (the tool-call loop) leaves its call and result turns in the reply; they
    survive a reopen and go back to the model before that answer."""
    from desktop_app.core.chat import ChatChunk, ChatMessage

    async def with_tools(
        messages: list[ChatMessage], options: ChatOptions, think: object, on_wait: object, turns: list
    ) -> AsyncIterator[ChatChunk]:
        turns.append(
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[{"id": "call_1", "name": "calculator", "arguments": {"expression": "2*3"}}],
            )
        )
        turns.append(ChatMessage(role="tool", content="6", tool_name="calculator", tool_call_id="call_1"))
        yield ChatChunk(content="It is 6.")
        yield ChatChunk(done=True)

    store = ConversationStore()
    session = ChatSession(ctx, store)
    session.set_model(model(ctx, "llama3.2:latest"))
    reply = await session.send("What is 2*3?", stream=with_tools)
    assert reply.content == "It is 6." and [m.role for m in reply.tool_messages] == ["assistant", "tool"]

    again = ChatSession(ctx, store)
    again.open(session.conversation.id, model(ctx, "llama3.2:latest"))
    await again.send("Thanks")
    sent = fake_ollama.last_bodies["/api/chat"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[2]["content"] == "6"
