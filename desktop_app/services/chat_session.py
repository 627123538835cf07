"""A chat session: the conversation with one model, kept as it goes. No Qt: the window's chat panel
binds to its events, and the CLI or the Gradio app can hold one the same way.

The session owns the conversation (turns, model, system prompt, options, metrics) and saves it through
``store.conversations`` after each message, when a reply ends, when it is stopped and when it fails,
so nothing the user saw is lost. ``send`` streams through ``services.serving.stream_chat`` and raises
what it raises (after recording it in the reply); ``stop`` cancels the reply in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, cast

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatMetrics, ChatOptions
from desktop_app.core.conversation import Conversation, Turn
from desktop_app.core.errors import InvalidInput, ModelDeskError, StreamInterrupted
from desktop_app.core.models import utcnow
from desktop_app.store.conversations import ConversationStore

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.services.context import AppContext

# Makes a reply's chunks: (messages, options, think, on_wait, turns) -> chunks, appending to ``turns``
# the tool-call turns and tool replies it made on the way (see ChatSession.send).
ChatStream = Callable[
    [list[ChatMessage], ChatOptions, "bool | str | None", Callable[[float, str], None], list[ChatMessage]],
    AsyncIterator[ChatChunk],
]

__all__ = ["ChatSession", "Event", "consistent_metrics"]

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Event(Generic[P]):
    """A list of callbacks: ``connect(fn)``, ``emit(*args)``."""

    def __init__(self) -> None:
        self._handlers: list[Callable[P, Any]] = []

    def connect(self, handler: Callable[P, Any]) -> None:
        self._handlers.append(handler)

    def disconnect(self, handler: Callable[P, Any]) -> None:
        with contextlib.suppress(ValueError):
            self._handlers.remove(handler)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for handler in list(self._handlers):
            handler(*args, **kwargs)


def consistent_metrics(
    metrics: ChatMetrics | None, started: float, first: float | None, end: float
) -> ChatMetrics:
    """One clock for the reply's timing line: total is what the user waited (request to last chunk),
    first token is on the same clock, so first token ≤ total always holds."""
    m = metrics.model_copy() if metrics is not None else ChatMetrics()
    m.total_s = max(0.0, end - started)
    if first is not None:
        m.ttft_s = max(0.0, first - started)
    if m.ttft_s is not None and m.ttft_s > m.total_s:
        m.ttft_s = m.total_s
    return m


class ChatSession:
    """The conversation being held. Events (all called on the caller's thread/loop):

    - ``conversation_changed()``: a new or reopened conversation replaced the current one;
    - ``turn_added(turn)``: a user turn, or a reply that starts streaming;
    - ``chunk(content, thinking)``: more of the reply;
    - ``waiting(seconds, message)``: a rate limit is being waited out;
    - ``turn_finished(turn)``: the reply ended (done, stopped or failed; its metrics set);
    - ``saved(conversation)`` / ``save_failed(message)``.
    """

    def __init__(self, ctx: AppContext | None = None, store: ConversationStore | None = None) -> None:
        self.ctx = ctx
        self.store = store
        self.model: UnifiedModel | None = None
        self.conversation = Conversation()
        self._task: asyncio.Task[Any] | None = None
        self._save_lock = asyncio.Lock()
        self.conversation_changed: Event[[]] = Event()
        self.turn_added: Event[[Turn]] = Event()
        self.chunk: Event[[str, str]] = Event()
        self.waiting: Event[[float, str]] = Event()
        self.turn_finished: Event[[Turn]] = Event()
        self.saved: Event[[Conversation]] = Event()
        self.save_failed: Event[[str]] = Event()

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        return self._task is not None

    @property
    def turns(self) -> list[Turn]:
        return self.conversation.turns

    def set_model(self, model: UnifiedModel | None) -> bool:
        """Talk to ``model`` from now on. A different model starts a new conversation (the old one is
        kept in the store). Returns True when the conversation was replaced."""
        if self.busy:
            raise InvalidInput("A reply is still streaming; stop it (Esc) before changing the model.")
        same = model is not None and model.id == self.conversation.model_id
        self.model = model
        if same:
            return False
        if self.conversation.turns:
            self.new()
            return True
        self.conversation.model_id = model.id if model is not None else ""
        self.conversation.model_name = model.name if model is not None else ""
        return False

    def new(self) -> None:
        """Start afresh with the same model, system prompt and options; the current one is kept."""
        if self.busy:
            raise InvalidInput("A reply is still streaming; stop it (Esc) first.")
        old = self.conversation
        self.conversation = Conversation(
            model_id=self.model.id if self.model is not None else old.model_id,
            model_name=self.model.name if self.model is not None else old.model_name,
            system_prompt=old.system_prompt,
            options=old.options,
            think=old.think,
        )
        self.conversation_changed.emit()

    def open(self, conversation: Conversation | str, model: UnifiedModel | None = None) -> Conversation:
        """Reopen a kept conversation to read or continue it. ``model`` is its model as the registry
        knows it now (None: gone, or not synced yet; it can be read but not continued)."""
        if self.busy:
            raise InvalidInput("A reply is still streaming; stop it (Esc) first.")
        if isinstance(conversation, str):
            if self.store is None:
                raise InvalidInput("Conversations are not kept in this session.")
            conversation = self.store.load(conversation)
        self.conversation = conversation
        self.model = model
        self.conversation_changed.emit()
        return conversation

    def configure(self, *, system: str, options: ChatOptions, think: bool | str | None) -> None:
        """The system prompt and parameters the next message uses (saved with the conversation)."""
        c = self.conversation
        c.system_prompt, c.options, c.think = system, options, think

    # ------------------------------------------------------------------ saving
    def save(self) -> bool:
        """Save the conversation now (not an empty one). False (and ``save_failed``) when it failed."""
        if self.store is None or not self.conversation.turns:
            return False
        try:
            self.store.save(self.conversation)
        except ModelDeskError as exc:
            log.warning("could not save conversation %s: %s", self.conversation.id, exc)
            self.save_failed.emit(exc.message)
            return False
        self.saved.emit(self.conversation)
        return True

    async def save_async(self) -> bool:
        """``save`` with the write and its fsync in a worker thread (the conversation is serialized here,
        so it may change meanwhile); saves of one session never overtake each other."""
        if self.store is None or not self.conversation.turns:
            return False
        conversation = self.conversation
        text = conversation.to_json()
        async with self._save_lock:
            try:
                await asyncio.to_thread(self.store.write, conversation.id, text)
            except ModelDeskError as exc:
                log.warning("could not save conversation %s: %s", conversation.id, exc)
                self.save_failed.emit(exc.message)
                return False
        self.saved.emit(conversation)
        return True

    # ------------------------------------------------------------------ talking
    async def send(
        self,
        text: str,
        images: list[str] | None = None,
        *,
        system: str | None = None,
        options: ChatOptions | None = None,
        think: bool | str | None = None,
        stream: ChatStream | None = None,
    ) -> Turn:
        """Send a message and stream the reply. Returns the reply; raises what the model's source raised
        (``CancelledError`` when stopped), after recording it in the reply and saving. ``stream`` makes
        the reply's chunks instead of ``serving.stream_chat`` (the tool-call loop does, when tools are
        offered): it gets the messages, options, think setting, the rate-limit wait callback and the list
        where it keeps the reply's tool turns (sent again with the history); on a pool it tells
        ``note_host`` which host answered."""
        from desktop_app.services.serving import stream_chat

        if self.busy:
            raise InvalidInput("A reply is still streaming; wait for it or stop it (Esc).")
        model = self.model
        if model is None:
            raise InvalidInput("Pick a model in the tree first, then press Chat.")
        if self.ctx is None:
            raise InvalidInput("ModelDesk is still starting; try again in a moment.")
        c = self.conversation
        if system is not None or options is not None or think is not None:
            self.configure(
                system=system if system is not None else c.system_prompt,
                options=options if options is not None else c.options,
                think=think,
            )
        c.model_id, c.model_name = model.id, model.name
        messages: list[ChatMessage] = []
        if c.system_prompt:
            messages.append(ChatMessage(role="system", content=c.system_prompt))
        messages += c.history()
        messages.append(ChatMessage(role="user", content=text, images=list(images or [])))

        user = Turn(role="user", content=text, images=list(images or []))
        reply = Turn(role="assistant", model_id=model.id, state="streaming")
        c.turns += [user, reply]
        c.updated_at = utcnow()
        self._task = asyncio.current_task()
        self.turn_added.emit(user)
        self.turn_added.emit(reply)
        started = time.perf_counter()
        first: float | None = None
        try:
            await self.save_async()  # the question is kept before the model is even asked
            started = time.perf_counter()
            chunks = (
                stream(messages, c.options, c.think, self.waiting.emit, reply.tool_messages)
                if stream is not None
                else stream_chat(
                    self.ctx,
                    model,
                    messages,
                    c.options,
                    think=c.think,
                    on_wait=self.waiting.emit,
                    on_host=self.note_host,
                )
            )
            async with contextlib.aclosing(cast(AsyncGenerator[Any, None], chunks)):
                async for chunk in chunks:
                    if first is None and (chunk.content or chunk.thinking):
                        first = time.perf_counter()
                    if chunk.content or chunk.thinking:
                        reply.content += chunk.content
                        reply.thinking += chunk.thinking
                        self.chunk.emit(chunk.content, chunk.thinking)
                    if chunk.done:
                        reply.metrics = chunk.metrics
            reply.state = "done"
            reply.metrics = consistent_metrics(reply.metrics, started, first, time.perf_counter())
            return reply
        except asyncio.CancelledError:
            reply.state = "stopped"
            raise
        except StreamInterrupted as exc:
            if exc.partial.startswith(reply.content) and len(exc.partial) > len(reply.content):
                rest = exc.partial[len(reply.content) :]
                reply.content += rest
                self.chunk.emit(rest, "")
            reply.state, reply.error = "failed", exc.message
            raise
        except ModelDeskError as exc:
            reply.state, reply.error = "failed", exc.message
            raise
        except Exception as exc:
            reply.state, reply.error = "failed", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            c.updated_at = utcnow()
            try:
                await self.save_async()
            finally:
                self._task = None
                self.turn_finished.emit(reply)

    def note_host(self, member: str) -> None:
        """A pool's reply: ``member`` (``<source>/<model>``) is the host answering the reply in flight;
        kept with the reply (``Turn.answered_by``). Given as ``on_host`` to ``serving.stream_chat``."""
        turns = self.conversation.turns
        if self.busy and turns and turns[-1].role == "assistant":
            turns[-1].answered_by = member

    def stop(self) -> bool:
        """Stop the reply in flight (what arrived is kept). False when nothing was streaming."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            return True
        return False

    async def shutdown(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.save()
