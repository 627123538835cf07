"""The models evaluators ask for, provided: one provider per :class:`HelperRole` in ``HELPERS``.

An evaluator in core declares the helper it needs (``Evaluator.helper``: a judge, an embedding model)
and what to ask it for a case (``Evaluator.request``); a provider here resolves the model (the run's
``--judge``, the evaluator's ``modelId`` or a default from the registry), makes the call under that
model's source limiter, waiting out rate limits, and returns a :class:`HelperAnswer` for ``score``. A
new role is one provider class and one entry in ``HELPERS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar

from desktop_app.core.chat import ChatMessage, ChatOptions, ChatResult
from desktop_app.core.errors import InvalidInput, ModelDeskError, RateLimited
from desktop_app.core.evaluators import HelperAnswer, HelperRequest, HelperRole
from desktop_app.core.evaluators.llm import DEFAULT_JUDGE_MODEL
from desktop_app.core.models import Category, UnifiedModel
from desktop_app.services import serving
from desktop_app.services.context import AppContext
from desktop_app.services.limiter import SourceLimiter, hold_off
from desktop_app.services.model_refs import resolve_model_ref
from desktop_app.services.retry import EVALUATION_RETRY, RateLimitRetry

__all__ = ["HELPERS", "ChatFn", "EmbeddingProvider", "HelperProvider", "JudgeProvider"]

# The runner's chat: (limiter, model, messages, options, *, urgent) -> (reply, latency, waited); it waits
# out rate limits and reports the waits as progress.
ChatFn = Callable[..., Awaitable[tuple[ChatResult, float, float]]]


class HelperProvider:
    """Resolves and calls the model of one role for one run."""

    role: ClassVar[HelperRole]
    noun: ClassVar[str]  # in messages: "the judge 'x' cannot be used"
    how_to_pick: ClassVar[str]  # what the user does instead; {kind} is the evaluator's key
    errors: ClassVar[tuple[type[Exception], ...]] = (ModelDeskError,)  # a failed call, not a bug

    def __init__(self, ctx: AppContext, chat: ChatFn, judge_ref: str | None) -> None:
        self.ctx = ctx
        self.chat = chat
        self.judge_ref = judge_ref

    def model(self, evaluator_name: str, kind: str, declared_ref: str) -> UnifiedModel:
        ref = self.choose(declared_ref)
        if not ref:
            return self.default_model(evaluator_name, kind)
        try:
            model = resolve_model_ref(self.ctx, ref)
            serving.resolve(self.ctx, model)
            return model
        except ModelDeskError as exc:
            raise InvalidInput(
                f"Evaluator {evaluator_name!r}: the {self.noun} {ref!r} cannot be used: {exc.message}",
                hint=f"Pick a model from `modeldesk list` and {self.how_to_pick.format(kind=kind)}.",
            ) from None

    def choose(self, declared_ref: str) -> str:
        return declared_ref

    def default_model(self, evaluator_name: str, kind: str) -> UnifiedModel:
        raise NotImplementedError

    async def ask(self, model: UnifiedModel, limiter: SourceLimiter, request: HelperRequest) -> HelperAnswer:
        raise NotImplementedError

    def failure(self, model_id: str, exc: Exception) -> str:
        """The result's message when the call failed."""
        raise NotImplementedError


class JudgeProvider(HelperProvider):
    role = HelperRole.JUDGE
    noun = "judge"
    how_to_pick = "pass --judge ID"

    def choose(self, declared_ref: str) -> str:
        return self.judge_ref or declared_ref or DEFAULT_JUDGE_MODEL

    async def ask(self, model: UnifiedModel, limiter: SourceLimiter, request: HelperRequest) -> HelperAnswer:
        messages: Sequence[ChatMessage] = list(request.messages)
        options: ChatOptions | None = None
        reply, _, _ = await self.chat(limiter, model, messages, options, urgent=True)
        return HelperAnswer(model_id=model.id, text=reply.content)

    def failure(self, model_id: str, exc: Exception) -> str:
        return f"judge {model_id} failed: {exc}"


class EmbeddingProvider(HelperProvider):
    role = HelperRole.EMBEDDING
    noun = "embedding model"
    how_to_pick = "set modelId under {kind}"
    errors = (ModelDeskError, ValueError)

    def __init__(self, ctx: AppContext, chat: ChatFn, judge_ref: str | None) -> None:
        super().__init__(ctx, chat, judge_ref)
        # One embedding per (model, text) for the run: the expected text of a case is the same for
        # every model under test.
        self._cache: dict[tuple[str, str], asyncio.Future[list[float]]] = {}

    def default_model(self, evaluator_name: str, kind: str) -> UnifiedModel:
        from desktop_app.store.registry import ModelFilter

        found = [
            m
            for m in self.ctx.registry.list_models(ModelFilter(category=Category.EMBEDDING.value))
            if m.usable
        ]
        found.sort(key=lambda m: (not m.is_local, m.id))
        if not found:
            raise InvalidInput(
                f"Evaluator {evaluator_name!r} needs an embedding model and the registry has none.",
                hint=f"Pull one (e.g. `modeldesk pull nomic-embed-text`) or set modelId under {kind}.",
            )
        return found[0]

    async def ask(self, model: UnifiedModel, limiter: SourceLimiter, request: HelperRequest) -> HelperAnswer:
        vectors = await asyncio.gather(*(self._vector(model, limiter, text) for text in request.texts))
        return HelperAnswer(model_id=model.id, vectors=tuple(vectors))

    def failure(self, model_id: str, exc: Exception) -> str:
        return f"embedding with {model_id} failed: {exc}"

    async def _vector(self, model: UnifiedModel, limiter: SourceLimiter, text: str) -> list[float]:
        key = (model.id, text)
        future = self._cache.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._cache[key] = future
            try:
                future.set_result(await self._embed(model, limiter, text))
            except BaseException as exc:
                del self._cache[key]
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    future.exception()  # retrieved here; this caller re-raises it
                raise
        return await asyncio.shield(future)

    async def _embed(self, model: UnifiedModel, limiter: SourceLimiter, text: str) -> list[float]:
        retry = RateLimitRetry(EVALUATION_RETRY, sleep=hold_off(limiter))
        while True:
            await limiter.acquire(urgent=True)
            try:
                (vector,) = await serving.embed(self.ctx, model, [text])
                return vector
            except RateLimited as exc:
                await retry.wait(exc)
            finally:
                limiter.release()


HELPERS: dict[HelperRole, type[HelperProvider]] = {
    HelperRole.JUDGE: JudgeProvider,
    HelperRole.EMBEDDING: EmbeddingProvider,
}
