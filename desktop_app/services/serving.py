"""Chat and embeddings routed by a model's source, so every model streams the same way.

Experimental models resolve to their parent's backend (or to their materialized Ollama model) with
their system prompt and parameters applied; explicit options from the caller win over the variant's.
Rate limits (429) before the first token are waited out and retried, telling the caller how long.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from desktop_app.core.backend import ModelBackend
from desktop_app.core.capabilities import chat_refusal as _refusal
from desktop_app.core.chat import ChatChunk, ChatMessage, ChatMetrics, ChatOptions, ChatRequest, ChatResult
from desktop_app.core.errors import (
    InvalidInput,
    ModelNotFound,
    RateLimited,
    ServiceRetired,
    StreamInterrupted,
    UnsupportedCapability,
)
from desktop_app.core.models import ModelStatus, ModelType, UnifiedModel
from desktop_app.core.pools import is_pool_id
from desktop_app.core.thinking import ThinkSplitter
from desktop_app.core.variants import chain, collect_settings, options_from_parameters
from desktop_app.services.context import AppContext
from desktop_app.services.retry import CHAT_RETRY, RateLimitRetry, WaitCallback

__all__ = [
    "CHAT_RETRY",
    "Target",
    "chat_once",
    "chat_refusal",
    "embed",
    "options_from_parameters",
    "resolve",
    "stream_chat",
]


@dataclass(frozen=True)
class Target:
    """Where a model's requests actually go."""

    model: UnifiedModel
    backend: ModelBackend
    native_name: str
    system_prompt: str | None
    options: ChatOptions


def resolve(ctx: AppContext, model: UnifiedModel | str) -> Target:
    """Walk a variant chain up to its base (or to the nearest materialized variant, whose Ollama model
    already carries its own settings); the variants passed on the way give the system prompt and options."""
    m = ctx.registry.get(model) if isinstance(model, str) else model
    passed: list[UnifiedModel] = []
    for node in chain(m, ctx.registry.find):
        _refuse_disabled(ctx, m, node.provider)
        if node.model_type is ModelType.BASE:
            if node.status is ModelStatus.RETIRED:
                raise ServiceRetired(
                    f"{node.id} belongs to a retired service: {node.status_message or 'it is gone'}",
                    source=node.provider,
                    hint="Pick a model from another source; its record stays in the registry.",
                )
            system, options = collect_settings(passed)
            return Target(m, ctx.backend(node.provider), node.native_name, system, options)
        if node.ollama_name and node.provider:
            system, options = collect_settings(passed)
            return Target(m, ctx.backend(node.provider), node.ollama_name, system, options)
        passed.append(node)
    last = passed[-1]
    if last.parent_id and ctx.registry.find(last.parent_id) is not None:
        raise InvalidInput(f"Model {m.id!r} has a cycle in its parents.")
    raise ModelNotFound(
        f"The base model {last.parent_id!r} of {m.id!r} is no longer in the registry.",
        hint="Sync the base model's source, or recreate the variant on another base.",
    )


def _refuse_disabled(ctx: AppContext, model: UnifiedModel, provider: str) -> None:
    """A disabled source is not asked anything: its models stay listed, greyed, and cannot chat."""
    for config in ctx.settings.sources:
        if config.name == provider and not config.enabled:
            raise InvalidInput(
                f"{model.id} cannot chat: its source {provider!r} is disabled.",
                hint=f"Enable it in Settings, or with `modeldesk source enable {provider}`.",
            )


def chat_refusal(model: UnifiedModel) -> str | None:
    """Why ``model`` cannot chat (its server would refuse: an image generator, an embedding model), or
    None. The CLI and the window ask this before offering chat; ``stream_chat`` enforces it."""
    return _refusal(model.name, model.capabilities)


def _with_system(messages: Sequence[ChatMessage], system: str | None) -> list[ChatMessage]:
    msgs = list(messages)
    if system and not any(x.role == "system" for x in msgs):
        msgs.insert(0, ChatMessage(role="system", content=system))
    return msgs


async def stream_chat(
    ctx: AppContext,
    model: UnifiedModel | str,
    messages: Sequence[ChatMessage],
    options: ChatOptions | None = None,
    *,
    think: bool | str | None = None,
    tools: Sequence[dict[str, Any]] | None = None,
    response_format: str | dict[str, Any] | None = None,
    on_wait: WaitCallback | None = None,
    on_host: Callable[[str], None] | None = None,
    wait_out_rate_limits: bool = True,
) -> AsyncIterator[ChatChunk]:
    """Stream a reply. ``<think>`` tags in content are moved to ``thinking``; the final chunk's metrics
    always carry ttft and tokens/s (measured here when the backend does not report them).

    ``wait_out_rate_limits=False`` raises a 429 at once instead of waiting: a server relaying to
    its own client passes the Retry-After on and lets that client decide. A pool id
    (``pool/<model>``) goes to the least busy of its hosts (``services.pools``); ``on_host`` is told
    which host entry answers."""
    ref = model if isinstance(model, str) else model.id
    if is_pool_id(ref):
        from desktop_app.services.pools import stream_pool_chat

        kwargs = {
            "think": think,
            "tools": tools,
            "response_format": response_format,
            "on_wait": on_wait,
            "wait_out_rate_limits": wait_out_rate_limits,
        }
        async for chunk in stream_pool_chat(ctx, ref, messages, options, on_host=on_host, **kwargs):
            yield chunk
        return
    target = resolve(ctx, model)
    refusal = chat_refusal(target.model)
    if refusal is not None:
        raise UnsupportedCapability(
            refusal,
            source=target.model.provider,
            hint="Pick a model with the completion capability (the Text category) to chat.",
        )
    msgs = _with_system(messages, target.system_prompt)
    request = ChatRequest(
        target.native_name,
        msgs,
        target.options.merged(options),
        think=think,
        tools=tools,
        response_format=response_format,
    )
    retry = RateLimitRetry(CHAT_RETRY, on_wait=on_wait)
    while True:
        started = time.perf_counter()
        first: float | None = None
        splitter = ThinkSplitter()
        try:
            async for chunk in target.backend.chat(request):
                if first is None and (chunk.content or chunk.thinking or chunk.tool_calls):
                    first = time.perf_counter()
                content, tagged = splitter.feed(chunk.content)
                if not chunk.done and not tagged and content == chunk.content:
                    yield chunk  # nothing to move: no copy (a copy per token is most of this loop's cost)
                    continue
                if chunk.done:
                    rest, rest_thinking = splitter.flush()
                    content, tagged = content + rest, tagged + rest_thinking
                update: dict[str, Any] = {"content": content, "thinking": chunk.thinking + tagged}
                if chunk.done:
                    update["metrics"] = _complete(chunk.metrics, started, first)
                yield chunk.model_copy(update=update)
            return
        except RateLimited as exc:
            if first is not None or not wait_out_rate_limits:
                raise
            await retry.wait(exc)  # or re-raises when the policy gives up


def _complete(metrics: ChatMetrics | None, started: float, first: float | None) -> ChatMetrics:
    m = metrics.model_copy() if metrics else ChatMetrics()
    end = time.perf_counter()
    if m.ttft_s is None and first is not None:
        m.ttft_s = first - started
    # One clock for the whole line: the server's own total (Ollama's total_duration leaves out the
    # queue and the network) read beside a wall-clock first token gave "first token 5.01 s … total 0.2 s".
    m.total_s = max(end - started, m.ttft_s or 0.0)
    if m.tokens_per_s is None and m.completion_tokens and first is not None and end > first:
        m.tokens_per_s = m.completion_tokens / (end - first)
    return m


async def chat_once(
    ctx: AppContext,
    model: UnifiedModel | str,
    messages: Sequence[ChatMessage],
    options: ChatOptions | None = None,
    **kwargs: Any,
) -> ChatResult:
    """Collect a whole reply. A stream cut midway raises StreamInterrupted carrying the partial text."""
    result = ChatResult()
    try:
        async for chunk in stream_chat(ctx, model, messages, options, **kwargs):
            result.add(chunk)
    except StreamInterrupted as exc:
        if not exc.partial:
            exc.partial = result.content
        raise
    return result


async def embed(ctx: AppContext, model: UnifiedModel | str, inputs: Sequence[str]) -> list[list[float]]:
    target = resolve(ctx, model)
    return await target.backend.embed(target.native_name, list(inputs))
