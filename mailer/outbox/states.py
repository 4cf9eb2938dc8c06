"""The outbox's state machine: the states a message passes through and the changes allowed.

Every state change of every message is checked here (`check_transition`) by the store, which is
the only code that writes a state.
"""

from __future__ import annotations

from enum import StrEnum

from mailer.errors import TransitionNotAllowed
from mailer.i18n import _

__all__ = ["ALLOWED", "State", "check_transition"]


class State(StrEnum):
    """Where a message is on its way to the parents."""

    PENDING = "pending"  # waiting for a person to review it
    APPROVED = "approved"  # a named person approved these exact bytes
    REJECTED = "rejected"  # a named person refused it, with a reason
    SENDING = "sending"  # claimed by one sender process
    SENT = "sent"  # the server accepted it
    FAILED = "failed"  # refused for good, or too many temporary failures
    UNKNOWN = "unknown"  # lost during or after DATA: a person decides (`mailer resolve`)


ALLOWED: dict[State, frozenset[State]] = {
    # Re-rendering or replacing a pending message keeps it pending.
    State.PENDING: frozenset({State.PENDING, State.APPROVED, State.REJECTED}),
    # An approval is withdrawn (back to pending) when the message is rendered again. A sender
    # claims it just before DATA; when the server refuses every recipient before that, it
    # stays approved to be tried again (4xx) or fails (5xx) without having been claimed.
    State.APPROVED: frozenset(
        {State.PENDING, State.APPROVED, State.REJECTED, State.SENDING, State.FAILED}
    ),
    # A rejected message comes back when its record is queued again with changes.
    State.REJECTED: frozenset({State.PENDING}),
    # A temporary failure leaves the message approved, for a later `send` to try again.
    State.SENDING: frozenset({State.SENT, State.APPROVED, State.FAILED, State.UNKNOWN}),
    State.SENT: frozenset(),
    # `mailer retry` (approved again when its bytes are unchanged, else back to review) or
    # `mailer reject`; a changed re-queue also makes it pending.
    State.FAILED: frozenset({State.APPROVED, State.PENDING, State.REJECTED}),
    # `mailer resolve --sent` or `--resend`: a person's decision.
    State.UNKNOWN: frozenset({State.SENT, State.APPROVED}),
}


def _hint(current: State) -> str:
    # Worded when it is needed: each command chooses its own language.
    hints = {
        State.PENDING: _("approve it first with `mailer approve ID --by NAME`"),
        State.REJECTED: _("it was rejected; queue its record again to make a new message"),
        State.SENDING: _("a sender is working on it right now"),
        State.SENT: _("it was already sent"),
        State.FAILED: _(
            "it failed (`mailer show ID` tells why); `mailer retry ID --by NAME` sends it "
            "again, `mailer reject` ends it"
        ),
        State.UNKNOWN: _("decide first with `mailer resolve ID --sent` or `--resend`"),
        State.APPROVED: "",
    }
    return hints[current]


def check_transition(
    message_id: str, current: State, to_state: State, only_from: frozenset[State] | None = None
) -> None:
    """Raise TransitionNotAllowed unless `current -> to_state` is allowed (and, when the caller
    narrows it, `current` is one of `only_from`: a sender claims only `approved`)."""
    if to_state not in ALLOWED[current] or (only_from is not None and current not in only_from):
        raise TransitionNotAllowed(message_id, current.value, to_state.value, _hint(current))
