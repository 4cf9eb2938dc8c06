"""Every word of the review page in one place: labels, state names, problems and messages.

Each text is English in the code and read through the language layer (`mailer.i18n`), so the
page speaks Dutch by default. The core gives problems and refusals as codes with their data
(`Problem.code`, `ApprovalRefused.rule`); this module words them, and never reads English
sentences back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from mailer.i18n import _, ngettext
from mailer.outbox.models import HistoryEntry
from mailer.outbox.store import State
from mailer.review.summary import Problem

__all__ = [
    "MESSAGES",
    "STATE_ORDER",
    "approved_count",
    "decided_in_words",
    "kind_name",
    "note_in_words",
    "page_words",
    "plain",
    "problem_in_words",
    "state_hint",
    "state_name",
]

# The order of the overview: what needs a person first.
STATE_ORDER = (
    State.PENDING,
    State.UNKNOWN,
    State.FAILED,
    State.APPROVED,
    State.SENDING,
    State.SENT,
    State.REJECTED,
)


def plain(text: str) -> str:
    """Words of the core (a server's reply, a journal note) without markup characters: the
    backticks around a command become quotation marks."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:  # an unpaired backtick: no quotes to put, only drop it
        return "".join(pieces)
    return "".join(
        piece if number % 2 == 0 else f"“{piece}”" for number, piece in enumerate(pieces)
    )


def state_name(state: State) -> str:
    names = {
        State.PENDING: _("Waiting for review"),
        State.APPROVED: _("Approved"),
        State.REJECTED: _("Rejected"),
        State.SENDING: _("Being sent now"),
        State.SENT: _("Sent"),
        State.FAILED: _("Failed"),
        State.UNKNOWN: _("Unknown whether it arrived"),
    }
    return names[state]


def state_hint(state: State) -> str:
    hints = {
        State.PENDING: _("Read each letter and approve or reject it."),
        State.APPROVED: _("These letters go out with the next sending."),
        State.REJECTED: _("These letters will not be sent."),
        State.SENDING: _("These letters are being sent right now."),
        State.SENT: _("The mail server accepted these letters."),
        State.FAILED: _("These letters could not be sent; see the problem of each letter."),
        State.UNKNOWN: _(
            "It is not known whether these letters arrived; decide with the command "
            "“mailer resolve”."
        ),
    }
    return hints[state]


def kind_name(kind: str) -> str:
    names = {
        "invitation": _("Invitation"),
        "update": _("Changed invitation"),
        "cancellation": _("Cancellation"),
    }
    return names.get(kind, kind)


def decided_in_words(*, approved_by: str | None, rejected_by: str | None, reason: str) -> str:
    """Who approved or rejected a letter, and why, in a few words ("" when nobody did yet)."""
    if rejected_by is not None:
        return _("rejected by {by}: {reason}").format(by=rejected_by, reason=reason)
    if approved_by is not None:
        return _("approved by {by}").format(by=approved_by)
    return ""


def approved_count(count: int) -> str:
    return ngettext("{count} letter approved.", "{count} letters approved.", count).format(
        count=count
    )


def problem_in_words(problem: Problem) -> str:
    """A problem of `mailer.review.summary.problems_of`, worded for the reviewer."""
    data = problem.data
    if problem.code == "not_approved":
        return _("Not approved yet.")
    if problem.code == "changed_after_approval":
        return _("The letter changed after it was approved; read it and approve it again.")
    if problem.code == "unsigned_template":
        return _(
            "Template version {version} has not been signed off by the team; approving is "
            "possible only after that (command “mailer template approve”)."
        ).format(version=data["version"])
    if problem.code == "send_error":
        return _("Error while sending: {error}").format(error=plain(data["error"]))
    if problem.code == "not_delivered":
        return _("Not delivered to {addresses}.").format(addresses=data["addresses"])
    if problem.code == "unknown_outcome":
        return _(
            "It is not known whether the letter arrived; decide with the command "
            "“mailer resolve” (mark it as sent, or send it again)."
        )
    return plain(str(problem))


def _known_notes() -> dict[str, str]:
    # The journal notes the core writes without data; a note that carries data (a server's
    # reply, a name) is shown in the core's own words.
    return {
        "queued": _("queued"),
        "approved": _("approved"),
        "approved although the template version has no sign-off": _(
            "approved although the template version has no sign-off"
        ),
        "rejected (the reason is kept with the message)": _(
            "rejected (the reason is kept with the message)"
        ),
        "replaced: the record was queued again with changes before it was sent": _(
            "replaced: the record was queued again with changes before it was sent"
        ),
        "rendered again after the template or the configuration changed": _(
            "rendered again after the template or the configuration changed"
        ),
        "replaced by a cancellation before it was sent": _(
            "replaced by a cancellation before it was sent"
        ),
        "handed over to the server": _("handed over to the server"),
        "given back unsent: the server did not take it for now": _(
            "given back unsent: the server did not take it for now"
        ),
        "sent": _("sent"),
        "connection lost after DATA began": _("connection lost while sending"),
        "refused permanently": _("refused permanently"),
        "marked as delivered by a person": _("marked as delivered by a person"),
        "to be sent again (same Message-ID), by a person's decision": _(
            "to be sent again (same Message-ID), by a person's decision"
        ),
    }


def note_in_words(entry: HistoryEntry) -> str:
    """The note of a line of a message's history, through the catalog when the core wrote it
    without data. A letter made again while it was approved carries the approver's name after
    the reason; the change of state itself says the approval was withdrawn."""
    known = _known_notes()
    if entry.note in known:
        return known[entry.note]
    reason, _separator, _rest = entry.note.partition("; ")
    if reason in known and (entry.from_state, entry.to_state) == (State.APPROVED, State.PENDING):
        return _("{reason}; the approval is withdrawn, review the letter again").format(
            reason=known[reason]
        )
    return plain(entry.note)


def page_words() -> dict[str, str]:
    """The labels of the page templates (`t.name`), in the current language."""
    return {
        "app_title": _("Review invitations"),
        "overview": _("Overview"),
        "overview_intro": _(
            "All letters in the outbox, by state. Click a child's name to read the letter."
        ),
        "empty": _(
            "The outbox is empty. Queue intake records first with the command “mailer queue FILE”."
        ),
        "child": _("Child"),
        "meeting": _("Meeting"),
        "recipients": _("To"),
        "problem": _("Problem"),
        "select": _("Choose"),
        "approve_selected": _("Approve the chosen letters"),
        "approve_selected_hint": _("Only approve letters you have read."),
        "you_are": _("You are reviewing as"),
        "change_name": _("other name"),
        "name_title": _("Who is reviewing?"),
        "name_intro": _(
            "Your name is kept with every approval and rejection. You fill it in once; the "
            "page remembers it while this session lasts."
        ),
        "name_label": _("Your name"),
        "name_save": _("Continue"),
        "back": _("Back to the overview"),
        "state": _("State"),
        "kind": _("Kind of letter"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "by": _("by"),
        "reason": _("Reason"),
        "letter_html": _("The letter as parents see it"),
        "letter_html_note": _(
            "Shown in a shielded frame: scripts and images from the internet are blocked."
        ),
        "letter_text": _("Text version (for mail programs without formatting)"),
        "calendar": _("Appointment in the calendar invitation"),
        "calendar_none": _("This message has no calendar invitation."),
        "calendar_what": _("What"),
        "calendar_start": _("Start"),
        "calendar_end": _("End"),
        "calendar_where": _("Where"),
        "calendar_organizer": _("Organizer"),
        "calendar_attendees": _("Invitees"),
        "history": _("History"),
        "history_when": _("When"),
        "history_change": _("Change"),
        "history_who": _("Who"),
        "history_note": _("Details"),
        "new": _("new"),
        "decide": _("Decide"),
        "approve": _("Approve"),
        "approve_hint": _("You approve exactly this version of the letter."),
        "reject": _("Reject"),
        "reject_reason_label": _("Reason for rejecting (required)"),
        "no_html": _("This message has no HTML part."),
        "no_text": _("This message has no text part."),
        "frame_title": _("The letter"),
        "error_title": _("Something went wrong"),
        "error_intro": _(
            "The page could not show this. What went wrong is below; pass it on to whoever "
            "manages the mailer."
        ),
    }


def _messages() -> dict[str, str]:
    return {
        "no_token": _(
            "No access: open the page through the address that “mailer review” showed (with "
            "the secret token in it)."
        ),
        "bad_host": _("No access: this page can only be reached through 127.0.0.1 or localhost."),
        "bad_origin": _(
            "Refused: this request did not come from the review page itself. Go back to the "
            "overview and try again."
        ),
        "bad_csrf": _(
            "Refused: the form has expired or does not come from this page. Reload the page "
            "and try again."
        ),
        "name_invalid": _("Fill in your name (at most 80 characters, without special characters)."),
        "name_saved": _("Welcome, {name}. Your decisions are kept under this name."),
        "not_found": _(
            "Message {id} is not (or no longer) in the outbox. Go back to the overview."
        ),
        "approved": _("Approved: the letter for {child} ({id})."),
        "none_selected": _("You chose no letters; first tick the letters you approve."),
        "rejected": _(
            "Rejected: the letter for {child} ({id}). The reason is kept with the message."
        ),
        "reason_missing": _("Give a reason why you reject the letter for {child}."),
        "stale": _(
            "Not approved: the letter for {child} changed after you opened it. Read the new "
            "version and approve that one."
        ),
        "already_approved": _("The letter for {child} was already approved by {by}."),
        "four_eyes": _(
            "Not approved: you made or changed this version of the letter for {child} "
            "yourself. The four-eyes rule applies: a colleague must approve it."
        ),
        "unsigned_template": _(
            "Not approved: the letter for {child} was made with template version {version}, "
            "which the team has not signed off yet. Ask whoever manages the templates to sign "
            "it off (command “mailer template approve”); then you can approve it here."
        ),
        "wrong_state": _(
            "Not done: the letter for {child} now has the state “{state}” and can no longer be "
            "approved or rejected. Reload the page."
        ),
        "other": _("Not done for the letter for {child}: {detail}"),
        "html_changed": _(
            "This letter changed after the page was loaded. Reload the page to see the new version."
        ),
    }


class _Translated(Mapping[str, str]):
    """Texts looked up by key, each read in the language current at the moment of reading."""

    def __init__(self, texts: Callable[[], dict[str, str]]) -> None:
        self._texts = texts

    def __getitem__(self, key: str) -> str:
        return self._texts()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts())

    def __len__(self) -> int:
        return len(self._texts())


# The page's messages and refusals (the guard in `mailer.web.security` uses some of them).
MESSAGES: Mapping[str, str] = _Translated(_messages)
