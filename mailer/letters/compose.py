"""Composing one outbox message from one validated record: render, build, check.

This is the single place where a record becomes bytes, used by queueing and by re-rendering, so a
message made today and one re-rendered tomorrow are made the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.headerregistry import Address
from typing import Any

from mailer.clock import now_in_amsterdam
from mailer.config import Settings
from mailer.errors import TemplateProblem
from mailer.intake.records import IntakeRecord
from mailer.letters.calendar import Meeting, calendar_method, calendar_uid, invitation_ics
from mailer.letters.context import LetterKind, calendar_texts, letter_context
from mailer.letters.html import html_problems, letter_html
from mailer.letters.message import CalendarPart, MessageHeaders, build_message, new_message_id
from mailer.letters.rendering import LETTER_PARTS, LetterRenderer, RenderedLetter
from mailer.outbox.store import State, StoredMessage

__all__ = ["ComposedMessage", "Composer"]

_ICS_NAMES = {
    ("nl", "REQUEST"): "uitnodiging.ics",
    ("nl", "CANCEL"): "afzegging.ics",
    ("en", "REQUEST"): "invitation.ics",
    ("en", "CANCEL"): "cancellation.ics",
}


@dataclass(frozen=True)
class ComposedMessage:
    """The bytes of a message and the metadata to store beside them."""

    data: bytes
    draft: StoredMessage


def _recipients(record: IntakeRecord) -> list[Address]:
    addresses = []
    for parent in record.parents:
        username, _, domain = parent.email.rpartition("@")
        addresses.append(Address(display_name=parent.name, username=username, domain=domain))
    return addresses


class Composer:
    """Turns records into messages for one workspace; reuse one instance for a whole file so the
    compiled templates are cached."""

    def __init__(self, settings: Settings, renderer: LetterRenderer) -> None:
        self.settings = settings
        self.renderer = renderer
        # The version of exactly the files this renderer reads, not of the folder as it is now.
        self.template_version = renderer.version

    def compose(
        self,
        record: IntakeRecord,
        queued_by: str,
        *,
        kind: LetterKind = "invitation",
        previous: IntakeRecord | None = None,
        message_id: str | None = None,
        created_at: datetime | None = None,
        sequence: int = 0,
        record_key: str | None = None,
    ) -> ComposedMessage:
        """Render and build the message for `record`.

        `message_id` and `created_at` are given when an existing message is rendered again: its
        Message-ID stays the same for its whole life. `sequence` counts the calendar updates of
        this meeting (0 for the first invitation); `record_key` names a follow-up message (an
        update or cancellation) beside the first one in the outbox's key index.
        """
        context = letter_context(record, self.settings, kind=kind, previous=previous)
        letter = self._render(record.language, context)
        recipients = _recipients(record)
        created = created_at or now_in_amsterdam()
        uid = calendar_uid(record.dedup_key, self.settings.sender_domain)
        calendar = self._calendar(record, context, recipients, uid, sequence, created)
        headers = MessageHeaders(
            sender=self.settings.sender_address,
            to=recipients,
            subject=letter.subject,
            message_id=message_id or new_message_id(self.settings.sender_domain),
            reply_to=self.settings.reply_to_address,
        )
        data = build_message(headers, letter, calendar)
        draft = StoredMessage(
            id="",
            state=State.PENDING,
            kind=kind,
            message_id=headers.message_id,
            subject=letter.subject,
            to=[address.addr_spec for address in recipients],
            child_name=record.child_name,
            meeting_at=record.meeting_at,
            language=record.language,
            record=record.model_dump(mode="json"),
            record_key=record_key or record.dedup_key,
            record_fingerprint=record.content_fingerprint,
            template_version=self.template_version,
            sha256="",
            created_at=created,
            queued_by=queued_by,
            calendar_uid=uid,
            calendar_sequence=sequence,
        )
        return ComposedMessage(data=data, draft=draft)

    def _render(self, language: str, context: dict[str, Any]) -> RenderedLetter:
        """Render the letter and make its HTML mail-client ready: CSS inlined, and cleaned so
        that it loads and runs nothing (`mailer template check` reports what that removes)."""
        letter = self.renderer.render(language, context)
        html_name = f"{language}/{LETTER_PARTS['html']}"
        html = letter_html(letter.html, html_name)
        problems = html_problems(html)
        if problems:
            raise TemplateProblem(html_name, None, problems[0])
        return replace(letter, html=html)

    def _calendar(
        self,
        record: IntakeRecord,
        context: dict[str, Any],
        recipients: list[Address],
        uid: str,
        sequence: int,
        created: datetime,
    ) -> CalendarPart:
        summary, description, location = calendar_texts(context)
        duration = record.duration_minutes or self.settings.meeting_duration_minutes
        meeting = Meeting(
            uid=uid,
            sequence=sequence,
            start=record.meeting_at,
            end=record.meeting_end(duration),
            summary=summary,
            location=location,
            description=description,
            # Replies (RSVP) go to the mailbox that reads them: see mailer.letters.calendar.
            organizer=self.settings.reply_to_address or self.settings.sender_address,
            sent_by=self.settings.sender_address,
            attendees=recipients,
            # The creation time, not "now": rendering again gives the same calendar entry.
            stamp=created,
        )
        method = calendar_method(context["kind"])
        return CalendarPart(
            ics=invitation_ics(meeting, method),
            method=method,
            filename=_ICS_NAMES[(record.language, method)],
        )
