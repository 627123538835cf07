"""The one rate-limit policy, without sleeping for real: ``sleep`` is a recorder."""

from __future__ import annotations

import asyncio

import pytest

from desktop_app.core.errors import RateLimited
from desktop_app.services.retry import CHAT_RETRY, EVALUATION_RETRY, RateLimitRetry, RetryPolicy


class Recorder:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def limited(retry_after: float | None = None) -> RateLimited:
    return RateLimited("work: h:1 is rate limiting requests (429).", retry_after=retry_after, source="work")


async def test_waits_what_the_service_asked_else_the_default_and_says_so() -> None:
    sleep = Recorder()
    told: list[tuple[float, str]] = []
    retry = RateLimitRetry(CHAT_RETRY, sleep=sleep, on_wait=lambda s, m: told.append((s, m)))
    await retry.wait(limited(12))
    await retry.wait(limited(None))
    assert sleep.slept == [12, CHAT_RETRY.default_wait]
    assert told[0] == (12, "work: h:1 is rate limiting requests (429). Waiting 12 s before retry 1/3.")
    assert told[1][1].endswith("before retry 2/3.")
    assert retry.retries == 2 and retry.waited == 12 + CHAT_RETRY.default_wait


async def test_gives_up_after_the_last_retry() -> None:
    sleep = Recorder()
    retry = RateLimitRetry(RetryPolicy(max_retries=2), sleep=sleep)
    await retry.wait(limited(1))
    await retry.wait(limited(1))
    third = limited(1)
    with pytest.raises(RateLimited) as info:
        await retry.wait(third)
    assert info.value is third and sleep.slept == [1, 1]


async def test_a_wait_longer_than_a_person_would_wait_is_not_waited() -> None:
    sleep = Recorder()
    retry = RateLimitRetry(CHAT_RETRY, sleep=sleep)
    with pytest.raises(RateLimited) as info:
        await retry.wait(limited(5631))
    assert sleep.slept == []
    assert info.value.hint == "The service asks to wait 94 minutes; try again later or pick another model."


async def test_an_evaluation_waits_as_long_as_it_takes() -> None:
    sleep = Recorder()
    retry = RateLimitRetry(EVALUATION_RETRY, sleep=sleep)
    for _ in range(50):
        await retry.wait(limited(5631))
    await retry.wait(limited(0))
    assert sleep.slept == [5631] * 50 + [EVALUATION_RETRY.min_wait]


async def test_a_wait_is_cancellable() -> None:
    retry = RateLimitRetry(CHAT_RETRY)  # the real asyncio.sleep
    task = asyncio.create_task(retry.wait(limited(60)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
