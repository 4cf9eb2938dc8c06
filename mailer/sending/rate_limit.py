"""The sending mailbox's limits for one send run: messages per minute and the daily recipient
cap, held across every `send` process using the same outbox (`outbox.pace` keeps them), and the
connections the server accepts at the same time.

The clock is injected: tests move it by hand instead of waiting, and see every wait.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.i18n import _
from mailer.outbox.pace import CapReached, Reservation, Taken, release, reserve_start
from mailer.outbox.store import Outbox

__all__ = [
    "SYSTEM_CLOCK",
    "CapReached",
    "Clock",
    "Reservation",
    "SendPace",
    "SystemClock",
    "Taken",
    "check_connections",
]

# Once the server asked to slow down, a run without a limit still keeps this much between starts.
SLOWEST_INTERVAL = 60.0


class Clock(Protocol):
    """Seconds since the epoch (every sender process, on any computer, compares them) and a
    way to wait."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


@dataclass
class SendPace:
    """At most `per_minute` starts per minute (0: no limit) and `daily_limit` recipients per 24
    hours (0: no cap) for `mailbox`, over every connection of every sender."""

    outbox: Outbox
    mailbox: str
    per_minute: float
    daily_limit: int = 0
    clock: Clock = field(default=SYSTEM_CLOCK)
    slowed: int = 0  # how often this run halved its pace after the server asked to slow down

    def __post_init__(self) -> None:
        if self.per_minute < 0:
            raise ValueError("per_minute must be 0 (no limit) or more")

    @property
    def interval(self) -> float:
        """Seconds between starts as this run keeps them now."""
        base = 60.0 / self.per_minute if self.per_minute else 0.0
        if not self.slowed:
            return base
        return min(max(base, 1.0) * 2.0**self.slowed, SLOWEST_INTERVAL)

    @property
    def limited(self) -> bool:
        return bool(self.interval or self.daily_limit)

    def slow_down(self) -> None:
        """The server asked to slow down: half the pace from now on, for this run."""
        self.slowed += 1

    async def start(self, message_id: str, recipients: int) -> Reservation | CapReached | Taken:
        """Wait for the next start of `message_id`, or say why it may not start."""
        if not self.limited:
            return Reservation(seq=0, at=self.clock.now())
        reserved = reserve_start(
            self.outbox,
            mailbox=self.mailbox.lower(),
            message_id=message_id,
            recipients=recipients,
            now=self.clock.now(),
            interval=self.interval,
            daily_limit=self.daily_limit,
        )
        if isinstance(reserved, Reservation):
            delay = reserved.at - self.clock.now()
            try:
                if delay > 0:
                    await self.clock.sleep(delay)
            except asyncio.CancelledError:
                self.give_back(reserved)  # stopped while waiting: the start was not used
                raise
        return reserved

    def give_back(self, reservation: Reservation) -> None:
        """Nothing was handed over with this start: it does not count, and another sender may
        take the message."""
        if reservation.seq:
            release(self.outbox, reservation)


def check_connections(settings: Settings, connections: int) -> None:
    """Refuse more connections than the server accepts from one mailbox."""
    if connections < 1:
        raise OutboxError(_("--connections must be 1 or more"))
    most = settings.smtp_max_connections
    if most and connections > most:
        raise OutboxError(
            _(
                "--connections {asked}: the server accepts at most {most} at the same time from "
                "one mailbox (smtp max_connections); use --connections {most} or fewer"
            ).format(asked=connections, most=most)
        )
