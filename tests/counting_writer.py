"""An outbox writer that stores nothing: it takes every claim, records every commit, and keeps
the size of each request, for tests of how the send run batches its writes."""

from __future__ import annotations

from collections.abc import Sequence

from mailer.outbox_writer import OutboxWriter
from mailer.run_writes import Change, Recorded, ToSend


class CountingWriter(OutboxWriter):
    def __init__(self) -> None:  # no RunWrites: nothing reaches an outbox
        self.claims: list[int] = []
        self.commits: list[int] = []

    async def claim(self, message_ids: Sequence[str]) -> list[ToSend | str]:
        self.claims.append(len(message_ids))
        return [ToSend(message_id, ("ouder@example.nl",), b"") for message_id in message_ids]

    async def commit(self, changes: Sequence[Change]) -> list[Recorded | str]:
        self.commits.append(len(changes))
        return [Recorded("sent", "sent") for _ in changes]
