"""The send rate limit, checked with an injected clock: no test sleeps."""

from __future__ import annotations

import asyncio

import pytest

from mailer.sending.rate_limit import RateLimiter


class FakeClock:
    """A clock that only moves when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_sixty_per_minute_spaces_starts_one_second_apart() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock, sleep=clock.sleep)
    starts = []

    async def run() -> None:
        for _ in range(5):
            await limiter.acquire()
            starts.append(clock.now)

    asyncio.run(run())
    assert starts == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]


def test_the_limit_holds_across_concurrent_connections() -> None:
    clock = FakeClock()
    limiter = RateLimiter(120, clock=clock, sleep=clock.sleep)
    reserved = []

    async def connection() -> None:
        for _ in range(3):
            reserved.append(limiter.reserve())

    async def run() -> None:
        await asyncio.gather(*(connection() for _ in range(4)))

    asyncio.run(run())
    # Twelve starts over four connections still get twelve distinct half-second slots.
    assert sorted(reserved) == [index * 0.5 for index in range(12)]


def test_idle_time_is_not_saved_up_for_a_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep)
    assert limiter.reserve() == 0
    clock.now += 600  # ten idle minutes
    assert limiter.reserve() == 0
    assert limiter.reserve() == pytest.approx(2.0)


def test_zero_means_no_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    assert [limiter.reserve() for _ in range(100)] == [0.0] * 100


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(-1)
