"""What the outbox keeps about a message, as typed records: the message's metadata with its
approval, rejection, claim, delivery and attempts, and the journal's lines.

The bytes of a message are not part of `StoredMessage`: the store keeps them beside it and hands
them out on their own (`Outbox.read_bytes`), with their SHA-256 in `StoredMessage.sha256`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailer.outbox.states import State

__all__ = [
    "Approval",
    "Attempt",
    "Claim",
    "Delivery",
    "HistoryEntry",
    "JournalEntry",
    "Rejection",
    "StoredMessage",
    "sha256_hex",
]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Approval(_Frozen):
    by: str
    at: datetime
    sha256: str  # the exact bytes that were approved
    template_override: bool = False  # approved although the template version had no sign-off


class Rejection(_Frozen):
    by: str
    at: datetime
    reason: str


class Attempt(_Frozen):
    at: datetime
    outcome: str  # sent, deferred, failed, unknown
    reply: str = ""


class Delivery(_Frozen):
    at: datetime
    reply: str
    refused: dict[str, str] = Field(default_factory=dict)  # address -> server reply


class Claim(_Frozen):
    """Which sender is handing the message over to the server.

    A claim is committed just before SMTP DATA, so a message whose claimer died may have
    reached the server. `pid`, `host` and `started` (the process's start time) tell a sender on
    this computer that the claimer is gone; a claim from another computer counts as alive until
    `lease_until`.
    """

    pid: int
    host: str
    started: float
    at: datetime
    lease_until: datetime


class HistoryEntry(_Frozen):
    at: datetime
    from_state: State | None
    to_state: State
    by: str
    note: str = ""


class StoredMessage(_Frozen):
    """The metadata of one outbox message.

    `history` is the message's part of the journal: `Outbox.load` gives all of it, listings
    leave it out, and a state change returns the message with only the change it made.
    """

    id: str
    state: State
    kind: Literal["invitation", "update", "cancellation"] = "invitation"
    message_id: str
    subject: str
    to: list[str]
    child_name: str
    meeting_at: datetime
    language: str = "nl"
    record: dict[str, Any]
    record_key: str
    record_fingerprint: str
    template_version: str
    sha256: str
    created_at: datetime
    queued_by: str
    calendar_uid: str | None = None
    calendar_sequence: int = 0
    approval: Approval | None = None
    rejection: Rejection | None = None
    claim: Claim | None = None
    delivery: Delivery | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    next_attempt_at: datetime | None = None
    # When `mailer retry` sent a failed message on with its approval kept: its temporary
    # refusals count from here, as they would from a new approval.
    retried_at: datetime | None = None
    last_error: str | None = None
    purged: bool = False
    history: list[HistoryEntry] = Field(default_factory=list)


class JournalEntry(_Frozen):
    """One line of the audit journal: one state change (or purge) of one message.

    It names the message by its outbox ID and holds no personal data (server replies have their
    addresses redacted), so it is kept after the message's content is purged.
    """

    at: datetime
    message: str
    from_state: str | None
    to_state: str
    by: str
    note: str = ""
    reply: str = ""
