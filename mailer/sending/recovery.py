"""Messages left `sending` by a sender that is gone: what became of each, as far as can be known.

The dead sender's run ledger (`send_ledger`) decides, message by message:
- its outcome is there: the server answered, and that answer is recorded now;
- it was handed over (DATA began) with no answer: it may have arrived, so it becomes `unknown`
  and a person decides (`mailer resolve`);
- neither, and the computer has not restarted since: it never left, so it goes back to
  `approved` and this run sends it;
- anything else (no ledger, another boot, a claim made before ledgers existed): `unknown`.
Nothing is ever sent again unless it surely never left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from mailer.config import Settings
from mailer.errors import OutboxError
from mailer.outbox.store import Outbox, State, StoredMessage, TransitionRequest
from mailer.send_ledger import LedgerRecord, ledger_runs, read_ledger, remove_ledger
from mailer.sending.records import (
    claimer_alive,
    outcome_request,
    release_request,
    unknown_request,
)

__all__ = ["Recovery", "StaleClaims"]

_UNREADABLE_LEDGER_KEPT = timedelta(hours=1)


@dataclass
class Recovery:
    """What recovery did, for the run's report."""

    unknown: list[str] = field(default_factory=list)  # may have arrived: a person decides
    given_back: list[str] = field(default_factory=list)  # surely never left: sent again
    recorded: dict[str, str] = field(default_factory=dict)  # ID -> outcome found in a ledger


class StaleClaims:
    """Recovers the messages of dead senders, reading each dead run's ledger once."""

    def __init__(self, outbox: Outbox, settings: Settings, by: str) -> None:
        self.outbox = outbox
        self.settings = settings
        self.by = by
        self.done = Recovery()
        self._ledgers: dict[str, LedgerRecord | None] = {}
        self._runs_in_use: set[str] = set()

    def _ledger(self, run: str | None) -> LedgerRecord | None:
        if run is None:
            return None
        if run not in self._ledgers:
            self._ledgers[run] = read_ledger(self.outbox, run)
        return self._ledgers[run]

    def recover(self, stored: StoredMessage) -> StoredMessage:
        """`stored` as recovery leaves it: unchanged unless a dead sender left it `sending`."""
        claim = stored.claim
        if stored.state != State.SENDING:
            return stored
        if claimer_alive(claim):
            if claim is not None and claim.run is not None:
                self._runs_in_use.add(claim.run)
            return stored
        ledger = self._ledger(claim.run if claim else None)
        request, note = self._request(stored, ledger)
        (result,) = self.outbox.transition_many([request])
        if isinstance(result, OutboxError):  # another process recovered or claimed it first
            if claim is not None and claim.run is not None:
                self._runs_in_use.add(claim.run)
            return stored
        if note == "unknown":
            self.done.unknown.append(stored.id)
        elif note == "given back":
            self.done.given_back.append(stored.id)
        else:
            self.done.recorded[stored.id] = note
        return result

    def _request(
        self, stored: StoredMessage, ledger: LedgerRecord | None
    ) -> tuple[TransitionRequest, str]:
        if ledger is not None and stored.id in ledger.outcomes:
            request, outcome, _ = outcome_request(
                stored,
                ledger.outcomes[stored.id],
                self.settings,
                f"{self.by} (from the ledger of a sender that stopped)",
            )
            return request, outcome
        if (
            ledger is not None
            and stored.id not in ledger.handed_over
            and ledger.shows_complete_history()
        ):
            why = "its sender stopped before handing it over to the server"
            return release_request(stored, self.by, why), "given back"
        return unknown_request(stored, self.by), "unknown"

    def remove_spent_ledgers(self) -> None:
        """Remove the ledgers of dead runs that no message still needs (call after a full
        pass over the outbox)."""
        for run in ledger_runs(self.outbox):
            if run in self._runs_in_use:
                continue
            ledger = self._ledger(run)
            if ledger is None:
                # Unreadable: perhaps a sender that is writing its first line right now.
                remove_ledger(self.outbox, run, if_older_than=_UNREADABLE_LEDGER_KEPT)
            elif not claimer_alive(ledger.claim):
                remove_ledger(self.outbox, run)
