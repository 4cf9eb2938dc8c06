"""The pace of a sending mailbox as the outbox keeps it, shared by every sender process.

One row per mailbox holds when the next message may start; each start is a reservation row (the
message, when, how many recipients), so the last 24 hours of reservations are the daily count,
and a message reserved by one process is passed over by the others. Both are read and written
in one short transaction that holds the mailbox's row locked (SQLite: the write lock, taken at
BEGIN IMMEDIATE; PostgreSQL: the row's lock), so two senders never take the same start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailer.outbox.schema import messages, send_pace, send_reservations
from mailer.outbox.store import Outbox

__all__ = [
    "DAY",
    "RESERVATION_LEASE",
    "CapReached",
    "Reservation",
    "Taken",
    "release",
    "reserve_start",
]

DAY = 24 * 60 * 60.0
# A reservation that is this old no longer keeps other senders off its message: its sender
# handed the message over (and claimed it) long ago, or is gone.
RESERVATION_LEASE = 10 * 60.0


@dataclass(frozen=True)
class Reservation:
    """A start for one message: wait until `at` (seconds since the epoch), then send."""

    seq: int
    at: float


@dataclass(frozen=True)
class CapReached:
    """The mailbox's daily recipient cap is reached; a start is free again at `until`."""

    until: float


@dataclass(frozen=True)
class Taken:
    """Another sender reserved this message a moment ago."""


@contextmanager
def _locked(outbox: Outbox, mailbox: str, now: float) -> Iterator[Connection]:
    """A write transaction holding `mailbox`'s pace row, made on first use."""
    with (
        outbox.engine.connect().execution_options(outbox_writes=True) as connection,
        connection.begin(),
    ):
        if _lock_row(connection, mailbox) is None:
            try:
                with connection.begin_nested():
                    connection.execute(insert(send_pace).values(mailbox=mailbox, next_at=now))
            except IntegrityError:
                pass  # another sender made it at the same moment (PostgreSQL)
            _lock_row(connection, mailbox)
        yield connection


def _lock_row(connection: Connection, mailbox: str) -> float | None:
    query = select(send_pace.c.next_at).where(send_pace.c.mailbox == mailbox).with_for_update()
    found = connection.execute(query).scalar()
    return None if found is None else float(found)


def reserve_start(
    outbox: Outbox,
    *,
    mailbox: str,
    message_id: str,
    recipients: int,
    now: float,
    interval: float,
    daily_limit: int,
) -> Reservation | CapReached | Taken:
    """Take the next start for `message_id`: `interval` seconds after the previous one of any
    sender (never earlier than `now`), unless the 24-hour recipient count would pass
    `daily_limit` (0: no cap) or another sender holds the message."""
    with _locked(outbox, mailbox, now) as connection:
        mine = send_reservations.c.mailbox == mailbox
        connection.execute(
            delete(send_reservations).where(mine, send_reservations.c.at < now - DAY)
        )
        # A start taken before the message last changed state (it was tried, then retried or
        # resent by a person) no longer holds it: only one taken for its current turn does.
        changed = connection.execute(
            select(messages.c.changed_at).where(messages.c.id == message_id)
        ).scalar()
        since = max(now - RESERVATION_LEASE, changed.timestamp() if changed else 0.0)
        held = select(send_reservations.c.seq).where(
            send_reservations.c.message_id == message_id,
            send_reservations.c.at > since,
        )
        if connection.execute(held).first() is not None:
            return Taken()
        next_at = _lock_row(connection, mailbox) or now
        start = max(now, next_at)
        if daily_limit:
            cap = _cap(connection, mailbox, start, recipients, daily_limit)
            if cap is not None:
                return cap
        connection.execute(
            update(send_pace).where(send_pace.c.mailbox == mailbox).values(next_at=start + interval)
        )
        seq = connection.execute(
            insert(send_reservations)
            .values(mailbox=mailbox, message_id=message_id, at=start, recipients=recipients)
            .returning(send_reservations.c.seq)
        ).scalar_one()
    return Reservation(int(seq), start)


def _cap(
    connection: Connection, mailbox: str, start: float, recipients: int, daily_limit: int
) -> CapReached | None:
    """None while `recipients` more stay within the cap for the 24 hours before `start`; else
    when enough of the oldest reservations have left that window."""
    window = (
        select(send_reservations.c.at, send_reservations.c.recipients)
        .where(send_reservations.c.mailbox == mailbox, send_reservations.c.at > start - DAY)
        .order_by(send_reservations.c.at)
    )
    total = connection.execute(
        select(func.coalesce(func.sum(send_reservations.c.recipients), 0)).where(
            send_reservations.c.mailbox == mailbox, send_reservations.c.at > start - DAY
        )
    ).scalar_one()
    over = int(total) + recipients - daily_limit
    if over <= 0:
        return None
    for at, counted in connection.execute(window):
        over -= int(counted)
        if over <= 0:
            return CapReached(float(at) + DAY)
    return CapReached(start + DAY)  # more recipients than the cap allows in a day


def release(outbox: Outbox, reservation: Reservation) -> None:
    """Give a start back that was not used (nothing was handed over): it no longer counts
    towards the daily cap, and other senders may take its message."""
    with (
        outbox.engine.connect().execution_options(outbox_writes=True) as connection,
        connection.begin(),
    ):
        connection.execute(
            delete(send_reservations).where(send_reservations.c.seq == reservation.seq)
        )
