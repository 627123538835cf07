"""One rate-limit policy for chat and evaluation: how long to wait after a 429 and when to give up.

A ``RateLimited`` error carries the wait the service asked for (``Retry-After`` or
``x-ratelimit-timeremaining``, read by the adapter); without one the policy's default wait is used.
A chat gives up after a few tries, or at once when the service asks for longer than a person would
wait; an evaluation waits as long as it takes. Each wait is announced through ``on_wait`` (seconds,
message) so the window and the CLI can say "waiting 12 s", and is done by an injectable ``sleep``:
``asyncio.sleep`` by default (cancellable like any await), a limiter's pause in an evaluation, a
recorder in tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from desktop_app.core.errors import RateLimited

__all__ = ["CHAT_RETRY", "EVALUATION_RETRY", "RateLimitRetry", "RetryPolicy", "Sleep", "WaitCallback"]

WaitCallback = Callable[[float, str], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` None: retry until it works. ``max_wait`` None: wait whatever the service asks."""

    max_retries: int | None = 3
    default_wait: float = 60.0  # the 429 did not say how long
    max_wait: float | None = 120.0
    min_wait: float = 0.0

    def wait_for(self, exc: RateLimited) -> float:
        wait = exc.retry_after if exc.retry_after is not None else self.default_wait
        return max(self.min_wait, wait)


# A chat: a few tries; a wait longer than two minutes (GitHub's daily limit says "wait 5631 seconds")
# goes to the user at once, saying how long the service asked for.
CHAT_RETRY = RetryPolicy()
# An evaluation: 429s are waited out, never failed.
EVALUATION_RETRY = RetryPolicy(max_retries=None, max_wait=None, min_wait=0.01)


class RateLimitRetry:
    """The retries of one request under a policy. Call ``wait`` from the ``except RateLimited``
    block: it returns after the wait (then try again) or re-raises the error when the policy gives up."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        on_wait: WaitCallback | None = None,
        sleep: Sleep = asyncio.sleep,
        describe: Callable[[RateLimited, float, int], str] | None = None,
    ) -> None:
        self.policy = policy
        self.on_wait = on_wait
        self.sleep = sleep
        self.describe = describe or self._describe
        self.retries = 0  # waits done so far
        self.waited = 0.0  # seconds asked to wait, in total

    def _describe(self, exc: RateLimited, wait: float, retry: int) -> str:
        of = f"/{self.policy.max_retries}" if self.policy.max_retries is not None else ""
        return f"{exc.message} Waiting {wait:.0f} s before retry {retry}{of}."

    async def wait(self, exc: RateLimited) -> None:
        policy = self.policy
        if policy.max_retries is not None and self.retries >= policy.max_retries:
            raise exc
        wait = policy.wait_for(exc)
        if policy.max_wait is not None and wait > policy.max_wait:
            exc.hint = (
                f"The service asks to wait {wait / 60:.0f} minutes; try again later or pick another model."
            )
            raise exc
        self.retries += 1
        self.waited += wait
        if self.on_wait is not None:
            self.on_wait(wait, self.describe(exc, wait, self.retries))
        await self.sleep(wait)
