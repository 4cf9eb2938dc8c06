"""Messages left `sending` by a sender that is gone: they become `unknown`, for a person to decide.

A claim is committed just before DATA, so the server may have a message whose claimer died; it is
never sent again by itself (`mailer resolve` decides). A claim made on this computer is checked
against its process at once; one made on another computer counts as alive until its lease runs
out (`claims.CLAIM_LEASE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.sending.claims import claimer_alive
from mailer.sending.records import unknown_request

__all__ = ["Recovery", "recover_stale_claim"]


@dataclass
class Recovery:
    """What recovery did, for the run's report."""

    unknown: list[str] = field(default_factory=list)  # may have arrived: a person decides


def recover_stale_claim(
    outbox: Outbox, stored: StoredMessage, by: str, done: Recovery
) -> StoredMessage:
    """`stored` as recovery leaves it: unchanged unless a sender that is gone left it
    `sending`."""
    if stored.state != State.SENDING or claimer_alive(stored.claim):
        return stored
    (result,) = outbox.transition_many([unknown_request(stored, by)])
    if not isinstance(result, StoredMessage):  # another process recovered it first
        return stored
    done.unknown.append(stored.id)
    return result
