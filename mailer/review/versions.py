"""Which version of a message a person saw, made or approved, read from the message's journal.

A message's bytes change only through a state change to `pending` (queued, queued again with
changes, rendered again), so its journal tells who made or changed the version it holds,
whether it changed since it was first queued, and whether the approval on record was made for
this version. The version code is the start of the bytes' SHA-256: short enough to type, and
shown by `mailer show`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailer.i18n import _
from mailer.outbox.store import Approval, HistoryEntry, State
from mailer.review.names import same_person

__all__ = [
    "CODE_LENGTH",
    "approval_not_on_record",
    "changed_since_queued",
    "is_version_code",
    "made_by",
    "shows_version",
    "version_code",
]

CODE_LENGTH = 8
_CODE = re.compile(rf"[0-9a-f]{{{CODE_LENGTH}}}")
# Changes to `pending` that keep the bytes: a render that made the same letter (see
# `outbox.rescheduling`). Every other one may bring a new version, so a change nobody listed
# here counts as one. (`mailer retry` keeps unchanged bytes approved and sends only changed
# ones back to review, so its note marks a new version.)
_SAME_BYTES_NOTES = ("rendered again with template version",)


def version_code(sha256: str) -> str:
    """The short code of the version whose bytes hash to `sha256`."""
    return sha256[:CODE_LENGTH]


def is_version_code(text: str) -> bool:
    return bool(_CODE.fullmatch(text))


def shows_version(shown: str, sha256: str) -> bool:
    """Whether what a reviewer saw (the full SHA-256, or the version code) is this version."""
    shown = shown.strip().lower()
    return shown == sha256 or (is_version_code(shown) and shown == version_code(sha256))


def _new_version(entry: HistoryEntry) -> bool:
    """Whether this journal line may have put new bytes up for review."""
    return entry.to_state == State.PENDING and not entry.note.startswith(_SAME_BYTES_NOTES)


def made_by(queued_by: str, history: Sequence[HistoryEntry]) -> list[str]:
    """Everyone who made or changed the message's letter: who queued it, and everyone who
    queued it again with changes or rendered it again."""
    names = [queued_by]
    for entry in history:
        if _new_version(entry) and not any(same_person(entry.by, name) for name in names):
            names.append(entry.by)
    return names


def changed_since_queued(history: Sequence[HistoryEntry]) -> bool:
    """Whether the message's letter changed after it was first queued."""
    return sum(_new_version(entry) for entry in history) > 1


def approval_not_on_record(approval: Approval, history: Sequence[HistoryEntry]) -> str | None:
    """Why `approval` is not one that was made, or None when the journal holds it.

    Its approver must have approved the message (a journal line of theirs from `pending` or
    `approved` to `approved`) after its current version was put up for review; the hash of the
    bytes is checked against the approval's separately. A state and an approval written into
    the database by hand have no such line.
    """
    last_version = max((i for i, entry in enumerate(history) if _new_version(entry)), default=-1)
    for entry in history[last_version + 1 :]:
        if (
            entry.to_state == State.APPROVED
            and entry.from_state in {State.PENDING, State.APPROVED}
            and entry.note.startswith("approved")
            and entry.by == approval.by
        ):
            return None
    return _("the approval on record is not in the journal (approve it again)")
