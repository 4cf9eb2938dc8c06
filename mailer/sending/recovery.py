"""Messages left `sending` by a sender that is gone: what became of each, as far as can be known.

- The claim was never marked as handing over (the mark is committed just before DATA): the
  server never had the message, so it goes back to `approved` and this run sends it.
- The claim was marked: the server may have it, so it becomes `unknown` and a person decides
  (`mailer resolve`).

A claim made on this computer is checked against its process at once; one made on another
computer counts as alive until its lease runs out (`claims.CLAIM_LEASE`). Nothing is ever sent
again unless it surely never left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailer.outbox.store import Outbox, State, StoredMessage
from mailer.sending.claims import claimer_alive
from mailer.sending.records import release_request, unknown_request

__all__ = ["Recovery", "recover_stale_claim"]


@dataclass
class Recovery:
    """What recovery did, for the run's report."""

    unknown: list[str] = field(default_factory=list)  # may have arrived: a person decides
    given_back: list[str] = field(default_factory=list)  # surely never left: sent again


def recover_stale_claim(
    outbox: Outbox, stored: StoredMessage, by: str, done: Recovery
) -> StoredMessage:
    """`stored` as recovery leaves it: unchanged unless a sender that is gone left it
    `sending`."""
    if stored.state != State.SENDING or claimer_alive(stored.claim):
        return stored
    handed_over = stored.claim is None or stored.claim.handing_over
    if handed_over:
        request = unknown_request(stored, by)
    else:
        why = "its sender stopped before handing it over to the server"
        request = release_request(stored, by, why)
    (result,) = outbox.transition_many([request])
    if not isinstance(result, StoredMessage):  # another process recovered or claimed it first
        return stored
    (done.unknown if handed_over else done.given_back).append(stored.id)
    return result
