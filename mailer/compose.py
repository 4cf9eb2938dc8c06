"""Composing one outbox message from one validated record: render, build, check.

This is the single place where a record becomes bytes, used by queueing and by re-rendering, so a
message made today and one re-rendered tomorrow are made the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address

from mailer.config import Settings
from mailer.letter_data import LetterKind, letter_context
from mailer.message import MessageHeaders, build_message, new_message_id
from mailer.outbox import State, StoredMessage
from mailer.records import IntakeRecord, now_in_amsterdam
from mailer.rendering import LetterRenderer, template_version

__all__ = ["ComposedMessage", "Composer"]


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
        self.template_version = template_version(renderer.templates_dir)

    def compose(
        self,
        record: IntakeRecord,
        queued_by: str,
        *,
        kind: LetterKind = "invitation",
        previous: IntakeRecord | None = None,
        message_id: str | None = None,
        created_at: datetime | None = None,
    ) -> ComposedMessage:
        """Render and build the message for `record`.

        `message_id` and `created_at` are given when an existing message is rendered again: its
        Message-ID stays the same for its whole life.
        """
        context = letter_context(record, self.settings, kind=kind, previous=previous)
        letter = self.renderer.render(record.language, context)
        recipients = _recipients(record)
        created = created_at or now_in_amsterdam()
        headers = MessageHeaders(
            sender=self.settings.sender_address,
            to=recipients,
            subject=letter.subject,
            date=created,
            message_id=message_id or new_message_id(self.settings.sender_domain),
            reply_to=self.settings.reply_to_address,
        )
        data = build_message(headers, letter)
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
            record_key=record.dedup_key,
            record_fingerprint=record.content_fingerprint,
            template_version=self.template_version,
            sha256="",
            created_at=created,
            queued_by=queued_by,
        )
        return ComposedMessage(data=data, draft=draft)
