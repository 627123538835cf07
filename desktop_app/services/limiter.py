"""How many requests an evaluation sends to each source at once, and the shared pause after a 429.

An Ollama host runs 2 requests at a time by default; a remote source runs as many as its rate-limit
tier allows (low 5, high 2, embeddings 5, custom 1); an OpenAI-compatible source, whose limits are
unknown, runs one at a time (its kind's ``default_concurrency``). ``concurrency`` overrides every
limit, ``SourceConfig.options["concurrency"]`` one source's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import UnifiedModel
from desktop_app.services.context import AppContext
from desktop_app.services.model_refs import base_of
from desktop_app.services.retry import Sleep

__all__ = ["DEFAULT_REMOTE_TIER", "TIER_CONCURRENCY", "SourceLimiter", "default_limit", "hold_off"]

TIER_CONCURRENCY = {"low": 5, "high": 2, "embeddings": 5, "custom": 1}
DEFAULT_REMOTE_TIER = "low"  # a remote source that names no tier is treated as GitHub's "low" tier


def default_limit(
    ctx: AppContext, model: UnifiedModel, concurrency: int | None
) -> tuple[tuple[str, str], int]:
    base = base_of(ctx, model)
    try:
        config = ctx.settings.source(base.provider)
    except InvalidInput:
        config = None
    spec = config.spec if config is not None else None
    if spec is not None and spec.default_concurrency is not None and (spec.local or not base.rate_limit_tier):
        key, limit = (base.provider, "host"), spec.default_concurrency
    else:
        tier = (base.rate_limit_tier or DEFAULT_REMOTE_TIER).lower()
        key, limit = (base.provider, tier), TIER_CONCURRENCY.get(tier, TIER_CONCURRENCY[DEFAULT_REMOTE_TIER])
    if config is not None:
        configured = config.options.get("concurrency")
        if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
            limit = configured
    if concurrency is not None:
        limit = concurrency
    return key, limit


def hold_off(limiter: SourceLimiter) -> Sleep:
    """An evaluation's rate-limit wait: pause the source's limiter (every request to it holds off) and
    give the slot back; the next ``acquire`` waits the pause out."""

    async def pause(seconds: float) -> None:
        limiter.pause(seconds)

    return pause


class SourceLimiter:
    """At most ``limit`` requests at once to one source (or one tier of it), and a shared pause after
    a 429 so that the other requests to it hold off too. Counts in-flight requests for benchmarks.

    ``urgent`` requests (judging and embedding a case whose reply is already in) get the next free
    slot before new generations, so finished cases are scored and saved as the run goes instead of
    after every generation queued before them.
    """

    def __init__(self, key: tuple[str, str], limit: int) -> None:
        self.key = key
        self.limit = limit
        self._free = limit
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()
        self._paused_until = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.rate_limited = 0
        self.busy_time = 0.0  # integral of in_flight over time (for mean achieved concurrency)
        self._first_change = 0.0
        self._last_change = 0.0

    def pause(self, seconds: float) -> None:
        self.rate_limited += 1
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, *, urgent: bool = False) -> None:
        if self._free > 0 and not self._urgent and not self._normal:
            self._free -= 1
        else:
            queue = self._urgent if urgent else self._normal
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._hand_on()  # the slot was ours already: pass it on
                else:
                    with contextlib.suppress(ValueError):  # _hand_on may have dropped it already
                        queue.remove(waiter)
                raise
        try:
            while (delay := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(delay)
        except BaseException:
            self._hand_on()
            raise
        self._account(+1)
        self.requests += 1

    def release(self) -> None:
        self._account(-1)
        self._hand_on()

    def _hand_on(self) -> None:
        """Give a free slot to the next waiter (urgent ones first), else keep it free."""
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    @property
    def active_time(self) -> float:
        """Seconds from the first request's start to the last one's end."""
        return self._last_change - self._first_change if self._first_change else 0.0

    def _account(self, delta: int) -> None:
        now = time.perf_counter()
        if self._last_change:
            self.busy_time += self.in_flight * (now - self._last_change)
        else:
            self._first_change = now
        self._last_change = now
        self.in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
