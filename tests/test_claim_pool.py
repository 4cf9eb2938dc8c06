"""Claiming ahead: batches grow from one claim per connection to the full batch, in order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

from mailer.claim_pool import ClaimPool
from mailer.outbox_writer import OutboxWriter
from mailer.run_writes import ToSend


class CountingWriter(OutboxWriter):
    """Claims everything it is asked for, and keeps the size of each request."""

    def __init__(self) -> None:
        self.requests: list[int] = []

    async def claim(self, message_ids: Sequence[str]) -> list[ToSend | str]:
        self.requests.append(len(message_ids))
        return [ToSend(message_id, ("ouder@example.nl",), b"") for message_id in message_ids]


async def take_all(pool: ClaimPool) -> list[str]:
    taken: list[str] = []
    while (claimed := await pool.take()) is not None:
        taken.append(claimed.message_id)
    return taken


def test_claims_start_with_one_per_connection_and_grow_to_the_full_batch() -> None:
    writer = CountingWriter()
    ids = [f"m{n:03d}" for n in range(200)]
    pool = ClaimPool(writer, iter(ids), Counter(), batch=64, ahead=True, first_batch=4)
    assert asyncio.run(take_all(pool)) == ids
    assert writer.requests == [4, 16, 64, 64, 52]


def test_a_first_batch_larger_than_the_batch_is_cut_to_it() -> None:
    writer = CountingWriter()
    ids = [f"m{n:03d}" for n in range(20)]
    pool = ClaimPool(writer, iter(ids), Counter(), batch=8, ahead=True, first_batch=16)
    assert asyncio.run(take_all(pool)) == ids
    assert writer.requests == [8, 8, 4]
