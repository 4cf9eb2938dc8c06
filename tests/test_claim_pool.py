"""Claiming ahead: batches grow from one claim per connection to the full batch, in order."""

from __future__ import annotations

import asyncio
from collections import Counter

from mailer.claim_pool import ClaimPool
from tests.counting_writer import CountingWriter


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
    assert writer.claims == [4, 16, 64, 64, 52]


def test_a_first_batch_larger_than_the_batch_is_cut_to_it() -> None:
    writer = CountingWriter()
    ids = [f"m{n:03d}" for n in range(20)]
    pool = ClaimPool(writer, iter(ids), Counter(), batch=8, ahead=True, first_batch=16)
    assert asyncio.run(take_all(pool)) == ids
    assert writer.claims == [8, 8, 4]
