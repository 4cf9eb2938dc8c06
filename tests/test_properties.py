"""Property tests: whatever text a planning-system export holds, validation never crashes and a
message built from a valid record carries exactly the expected headers."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mailer.config import Settings
from mailer.errors import MailerError
from mailer.intake.files import CANONICAL_COLUMNS
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.rendering import LetterRenderer
from mailer.sending.claims import to_addresses
from mailer.workspace import defaults_root
from tests.conftest import intake_row

EXPECTED_HEADERS = [
    "Content-Type",
    "From",
    "MIME-Version",
    "Message-ID",
    "Reply-To",
    "Subject",
    "To",
]
TEXT_FIELDS = [name for name in CANONICAL_COLUMNS if name not in {"meeting_date", "language"}]

# Text that attacks headers on purpose, mixed with anything at all.
hostile = st.sampled_from(
    [
        "=?utf-8?q?a=0D=0ABcc:_e@x.example?=",
        "a\r\nBcc: e@x.example",
        "<b>x</b>",
        "Zoë\u2028",
        "[naam kind]",
    ]
)
any_text = st.one_of(st.text(max_size=60), hostile)


@pytest.fixture(scope="module")
def composer() -> Composer:
    templates = defaults_root() / "templates"
    return Composer(
        Settings(sender="Opvang <intake@opvang.example>", reply_to="R <r@opvang.example>"),
        LetterRenderer(templates),
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(TEXT_FIELDS), value=any_text)
def test_any_text_in_any_field_is_validated_or_refused_never_crashes(
    composer: Composer, field: str, value: str
) -> None:
    row = intake_row(**{field: value})
    try:
        record = IntakeRecord.model_validate(row)
    except ValidationError as error:
        assert error.errors()
        return
    try:
        data = composer.compose(record, "Coach").data
    except MailerError as error:
        # A refused letter is fine (a leftover placeholder, say); it must say why.
        assert str(error)
        return
    parsed = message_from_bytes(data, policy=policy.default)
    assert sorted(parsed.keys()) == sorted(EXPECTED_HEADERS)
    assert [a.addr_spec for a in parsed["To"].addresses] == [p.email for p in record.parents]
    # The quick To reader a sender uses at every claim agrees with the email package.
    assert to_addresses(data) == [p.email for p in record.parents]


@settings(max_examples=100, deadline=None)
@given(values=st.dictionaries(st.sampled_from(list(CANONICAL_COLUMNS)), any_text, max_size=13))
def test_any_mix_of_fields_is_validated_or_refused(values: dict[str, str]) -> None:
    try:
        IntakeRecord.model_validate(values)
    except ValidationError as error:
        assert all(issue["msg"] for issue in error.errors())


def test_defaults_root_holds_the_templates() -> None:
    assert (defaults_root() / "templates" / "nl" / "letter.html.j2").is_file()
    assert isinstance(defaults_root(), Path)
