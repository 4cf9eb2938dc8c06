"""Everything a send run writes to the outbox, a batch at a time: claims, outcomes, give-backs.

It keeps the messages the run has claimed, so that an outcome or a give-back names only the
message and what happened; `outbox_writer` runs it away from the SMTP connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.outbox.store import Claim, Outbox, StoredMessage, TransitionRequest
from mailer.sending.delivery import TransactionResult
from mailer.sending.records import Claimed, claim_messages, outcome_request, release_request

__all__ = ["Change", "Recorded", "RunWrites", "ToSend"]


@dataclass(frozen=True)
class ToSend:
    """A message the run has claimed: exactly what goes on the wire."""

    message_id: str
    recipients: tuple[str, ...]  # the envelope, from the record, never from the headers
    data: bytes  # the approved bytes


@dataclass(frozen=True)
class Change:
    """What became of one claimed message: the server's answer, or (a text) why it goes back
    unsent."""

    message_id: str
    result: TransactionResult | str


@dataclass(frozen=True)
class Recorded:
    """A change as stored: the outcome name ("" when given back) and one line for the sender."""

    outcome: str
    line: str


class RunWrites:
    """The outbox writes of one send run (one `Claim`)."""

    def __init__(self, outbox: Outbox, settings: Settings, by: str, claim: Claim) -> None:
        self.outbox = outbox
        self.settings = settings
        self.by = by
        self.claim = claim
        # Filled by claims, emptied by commits; in the writer process these run in two threads,
        # and a commit names only messages whose claim the sender has already received.
        self._claimed: dict[str, StoredMessage] = {}

    def claim_batch(self, message_ids: Sequence[str]) -> list[ToSend | str]:
        """Claim these messages in one commit (see `send_records.claim_messages`); per
        message what to send, or why it was not claimed."""
        taken: list[ToSend | str] = []
        for result in claim_messages(self.outbox, message_ids, self.by, self.claim):
            if isinstance(result, Claimed):
                self._claimed[result.stored.id] = result.stored
                taken.append(ToSend(result.stored.id, tuple(result.stored.to), result.data))
            else:
                taken.append(result)
        return taken

    def commit(self, changes: Sequence[Change]) -> list[Recorded | str]:
        """Store these changes in one commit; per change what was stored, or why it was not.

        Each message must have been claimed by this run and not changed since.
        """
        requests: list[TransitionRequest] = []
        recorded: list[Recorded] = []
        for change in changes:
            stored = self._claimed.pop(change.message_id)
            if isinstance(change.result, str):
                requests.append(release_request(stored, self.by, change.result))
                recorded.append(Recorded("", change.result))
            else:
                request, outcome, line = outcome_request(
                    stored, change.result, self.settings, self.by
                )
                requests.append(request)
                recorded.append(Recorded(outcome, line))
        results = self.outbox.transition_many(requests)
        return [
            str(result) if isinstance(result, OutboxError) else done
            for result, done in zip(results, recorded, strict=True)
        ]
