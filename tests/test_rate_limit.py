"""The mailbox's pace and daily cap, shared by every sender using one outbox, on SQLite and on
PostgreSQL; checked with an injected clock: no test sleeps."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from mailer.outbox.pace import DAY
from mailer.outbox.schema import send_reservations
from mailer.outbox.store import Outbox
from mailer.sending.rate_limit import CapReached, Reservation, SendPace, Taken
from mailer.workspace import Workspace
from tests.conftest import open_outbox
from tests.provider_servers import FakeClock

MAILBOX = "intake@speeldoos.example"


@pytest.fixture
def outbox(workspace: Workspace, outbox_engine: str) -> Outbox:
    return open_outbox(workspace)


def starts(pace: SendPace, *message_ids: str, recipients: int = 1) -> list[object]:
    async def run() -> list[object]:
        return [await pace.start(message_id, recipients) for message_id in message_ids]

    return asyncio.run(run())


def test_sixty_per_minute_spaces_starts_one_second_apart(outbox: Outbox) -> None:
    clock = FakeClock()
    pace = SendPace(outbox, MAILBOX, 60, clock=clock)
    began = clock.now()
    taken = starts(pace, "aaaaaaa1", "aaaaaaa2", "aaaaaaa3", "aaaaaaa4")
    assert [start.at - began for start in taken if isinstance(start, Reservation)] == [
        0.0,
        1.0,
        2.0,
        3.0,
    ]
    assert clock.sleeps == [1.0, 1.0, 1.0]


def test_two_senders_on_one_outbox_share_one_pace(workspace: Workspace, outbox: Outbox) -> None:
    other_process = open_outbox(workspace)  # its own engine and connections
    clock = FakeClock()
    began = clock.now()
    first = SendPace(outbox, MAILBOX, 120, clock=clock)
    second = SendPace(other_process, MAILBOX.upper(), 120, clock=FakeClock(began))
    reserved = []
    for number in range(6):
        sender = first if number % 2 == 0 else second
        start = asyncio.run(sender.start(f"bbbbbb{number:02d}", 1))
        assert isinstance(start, Reservation)
        reserved.append(start.at - began)
    # Twelve a minute between them, not each: six distinct half-second starts.
    assert reserved == [index * 0.5 for index in range(6)]


def test_a_message_reserved_by_one_sender_is_passed_over_by_the_other(
    workspace: Workspace, outbox: Outbox
) -> None:
    clock = FakeClock()
    first = SendPace(outbox, MAILBOX, 30, clock=clock)
    second = SendPace(open_outbox(workspace), MAILBOX, 30, clock=clock)
    (mine,) = starts(first, "cccccc01")
    assert starts(second, "cccccc01") == [Taken()]
    assert isinstance(mine, Reservation)
    first.give_back(mine)  # not handed over after all: free for the other sender
    assert isinstance(starts(second, "cccccc01")[0], Reservation)


def test_the_daily_cap_counts_recipients_over_24_hours_for_every_sender(
    workspace: Workspace, outbox: Outbox
) -> None:
    clock = FakeClock()
    first = SendPace(outbox, MAILBOX, 0, daily_limit=5, clock=clock)
    second = SendPace(open_outbox(workspace), MAILBOX, 0, daily_limit=5, clock=clock)
    began = clock.now()
    assert all(isinstance(s, Reservation) for s in starts(first, "dddddd01", recipients=2))
    clock.time += 3600
    assert all(isinstance(s, Reservation) for s in starts(second, "dddddd02", recipients=2))
    (refused,) = starts(first, "dddddd03", recipients=2)
    # Free again once the first two recipients are 24 hours old.
    assert refused == CapReached(until=began + DAY)
    assert isinstance(starts(first, "dddddd04", recipients=1)[0], Reservation)
    clock.time = began + DAY + 1
    assert isinstance(starts(second, "dddddd05", recipients=2)[0], Reservation)


def test_idle_time_is_not_saved_up_for_a_burst(outbox: Outbox) -> None:
    clock = FakeClock()
    pace = SendPace(outbox, MAILBOX, 30, clock=clock)
    starts(pace, "eeeeee01")
    clock.time += 600  # ten idle minutes
    starts(pace, "eeeeee02", "eeeeee03")
    assert clock.sleeps == [pytest.approx(2.0)]


def test_slowing_down_halves_the_pace(outbox: Outbox) -> None:
    clock = FakeClock()
    pace = SendPace(outbox, MAILBOX, 30, clock=clock)
    pace.slow_down()
    starts(pace, "ffffff01", "ffffff02")
    assert clock.sleeps == [pytest.approx(4.0)]


def test_zero_means_no_limit_and_no_database_work(outbox: Outbox) -> None:
    clock = FakeClock()
    pace = SendPace(outbox, MAILBOX, 0, clock=clock)
    assert not pace.limited
    starts(pace, *(f"gggggg{n:02d}" for n in range(50)))
    assert clock.sleeps == []
    with outbox.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(send_reservations)).scalar() == 0


def test_negative_rate_is_refused(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="per_minute"):
        SendPace(outbox, MAILBOX, -1)


class StoppedWhileWaiting(FakeClock):
    """A clock whose waits never end by themselves: the run is stopped during them."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.Event().wait()


def test_a_start_given_up_while_waiting_counts_for_nothing(
    workspace: Workspace, outbox: Outbox
) -> None:
    clock = StoppedWhileWaiting()
    pace = SendPace(outbox, MAILBOX, 30, daily_limit=2, clock=clock)
    starts(pace, "hhhhhh01")  # the first start needs no wait

    async def stop_while_waiting() -> None:
        waiting = asyncio.create_task(pace.start("hhhhhh02", 1))
        await asyncio.sleep(0)  # let it reserve and begin to wait
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(stop_while_waiting())
    # Neither the daily count nor the message is held by the start that was given up.
    other = SendPace(
        open_outbox(workspace), MAILBOX, 0, daily_limit=2, clock=FakeClock(clock.now())
    )
    assert isinstance(starts(other, "hhhhhh02")[0], Reservation)
