"""A messages-per-minute limit shared by every connection of one send run.

Each message reserves the next free slot, spaced evenly, before it starts; the clock and the
sleep are injected so that tests check the spacing without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most `per_minute` starts per minute over all connections (0 means no limit).

    Slots are reserved without an await in between, so concurrent connections in one event loop
    never take the same slot.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be 0 (no limit) or more")
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_slot: float | None = None

    def reserve(self) -> float:
        """Take the next slot; return how many seconds to wait before using it."""
        if not self.interval:
            return 0.0
        now = self._clock()
        slot = now if self._next_slot is None else max(now, self._next_slot)
        self._next_slot = slot + self.interval
        return slot - now

    async def acquire(self) -> None:
        """Wait until this caller may start its next message."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)
