"""The letters as a parent reads them: every fact in its place, in Dutch and English."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from mailer.config import load_settings
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.html import remote_resources
from mailer.letters.rendering import LetterRenderer, find_placeholders
from mailer.workspace import Workspace
from tests.conftest import intake_row

SEED_QUESTIONS = [
    "Hoe ziet u onze samenwerking en communicatie voor zich?",
    "Op welke manier wilt u samenwerken rondom de ontwikkeling van uw kind binnen de opvang?",
    "Hoe kunnen we samen het beste inspelen op eventuele uitdagingen of zorgen rondom uw kind?",
]


def _compose(workspace: Workspace, **kwargs: Any) -> tuple[EmailMessage, str, str]:
    overrides = kwargs.pop("row", {})
    record = IntakeRecord.model_validate(intake_row(**overrides))
    composer = Composer(load_settings(workspace.root), LetterRenderer(workspace.templates_dir))
    if "previous" in kwargs:
        kwargs["previous"] = IntakeRecord.model_validate(intake_row(**kwargs["previous"]))
    data = composer.compose(record, "test", **kwargs).data
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return parsed, text, html


def test_dutch_letter_follows_the_seed_with_every_fact(workspace: Workspace) -> None:
    row = {"meeting_date": "2027-01-12", "meeting_time": "09:30"}
    parsed, text, html = _compose(workspace, row=row)
    assert parsed["Subject"] == (
        "Uitnodiging kennismakingsgesprek voor Zoë de Vries op dinsdag 12 januari 2027 om 9.30 uur"
    )
    assert text.startswith("Beste Sanne en Mark,\n")
    assert "Binnenkort verwelkomen we Zoë de Vries en u op onze groep Dolfijnen." in text
    assert "Op dinsdag 12 januari 2027 om 9.30 uur zullen wij kennismaken" in text
    assert "Wanneer: dinsdag 12 januari 2027, 9.30-10.00 uur" in text
    assert "speelt een cruciale rol in het welbevinden en de ontwikkeling van uw kind" in text
    for question in SEED_QUESTIONS:
        assert f"- {question}" in text
        assert f">{question}</li>" in html
    assert "We kijken uit naar een fijne samenwerking!" in text
    closing = text[text.index("Met vriendelijke groeten,") :]
    assert "Anna, Fatima en Joost" in closing
    assert "Groep Dolfijnen, Kinderopvang Het Kompas, locatie De Speeldoos" in closing
    assert "Kastanjelaan 12, 1234 AB Amsterdam" in closing
    assert find_placeholders(text) == [] and find_placeholders(html) == []


def test_english_letter_has_the_same_facts(workspace: Workspace) -> None:
    row = {"language": "en", "meeting_date": "2027-07-06", "meeting_time": "14:30"}
    parsed, text, html = _compose(workspace, row=row)
    assert parsed["Subject"] == (
        "Invitation to the introductory meeting for Zoë de Vries on Tuesday 6 July 2027 at 14:30"
    )
    assert text.startswith("Dear Sanne and Mark,\n")
    assert "On Tuesday 6 July 2027 at 14:30 we will get to know each other" in text
    assert "We will soon welcome Zoë de Vries and you to our Dolfijnen group." in text
    assert "If this time does not suit you, simply reply to this e-mail" in text
    assert "Does this time not suit you" not in text
    assert "Anna, Fatima and Joost" in text
    assert "Kind regards," in text
    assert 'lang="en"' in html
    assert "uur" not in text  # no Dutch left in the English letter


def test_name_with_markup_is_escaped_in_html_only(workspace: Workspace) -> None:
    _, text, html = _compose(workspace, row={"child_name": "<b>Zoë</b>"})
    assert "<b>Zoë</b>" in text
    assert "&lt;b&gt;Zoë&lt;/b&gt;" in html
    assert "<b>Zoë</b>" not in html


def test_update_says_first_that_the_meeting_moved(workspace: Workspace) -> None:
    row = {"meeting_date": "2027-01-14", "meeting_time": "10:00"}
    previous = {"meeting_date": "2027-01-12", "meeting_time": "09:30"}
    parsed, text, _ = _compose(workspace, row=row, kind="update", previous=previous)
    assert str(parsed["Subject"]).startswith("Gewijzigd: ")
    first_paragraph = text.split("\n\n")[1]
    assert first_paragraph == (
        "Let op: het kennismakingsgesprek over Zoë de Vries is verplaatst. Het is niet meer op "
        "dinsdag 12 januari 2027 om 9.30 uur, maar op donderdag 14 januari 2027 om 10.00 uur."
    )


def test_cancellation_says_the_meeting_does_not_take_place(workspace: Workspace) -> None:
    parsed, text, html = _compose(workspace, row={"language": "en"}, kind="cancellation")
    assert str(parsed["Subject"]).startswith("Cancelled: ")
    assert "will not take place" in text.split("\n\n")[1]
    assert "following questions" not in text
    assert "will not take place" in html


@pytest.mark.parametrize("language", ["nl", "en"])
def test_html_part_loads_nothing_and_keeps_dark_mode(workspace: Workspace, language: str) -> None:
    _, _, html = _compose(workspace, row={"language": language})
    assert remote_resources(html) == []
    assert 'role="presentation"' in html
    assert "prefers-color-scheme: dark" in html
    assert 'style="' in html  # the CSS was inlined
    assert "http://" not in html and "https://" not in html


def test_text_part_is_not_html(workspace: Workspace) -> None:
    _, text, _ = _compose(workspace)
    assert "<" not in text and "&nbsp;" not in text
