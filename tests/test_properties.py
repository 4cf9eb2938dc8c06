"""Property tests: whatever text a planning-system export holds, validation never crashes and a
message built from a valid record carries exactly the expected headers; and every realistic family
(Dutch, Turkish, Polish, Serbian, Arabic and other names, one or two parents, long and
internationalised addresses, both letter languages) gets a message addressed to exactly its
parents, in the To header and in the envelope."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mailer.config import Settings
from mailer.errors import MailerError
from mailer.intake.files import CANONICAL_COLUMNS
from mailer.intake.records import IntakeRecord
from mailer.letters.compose import Composer
from mailer.letters.message import letter_parts
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


# Realistic names: given names and surnames as families in Dutch childcare have them.
GIVEN = [
    "Sanne", "Daan", "Anouk", "Hélène", "Anaïs", "Zoë", "Ayşe", "Çağla", "Gülşen", "Yusuf",
    "Łukasz", "Zofia", "Wojciech", "Krzysztof", "Đorđe", "Milica", "Ljubica", "Љубица",
    "Rachid", "Youssef", "Fatima", "محمد", "فاطمة", "Nguyễn", "Siobhán", "José María",
]  # fmt: skip
SURNAMES = [
    "Jansen", "Yılmaz", "Öztürk", "Şahin", "Wiśniewska", "Brzęczyszczykiewicz", "Petrović",
    "Ćirić", "Јовановић", "El Amrani", "Bouzidi", "العلوي", "Dubois", "O'Brien", "Müller",
]  # fmt: skip
PREFIXES = ["", "van ", "van der ", "van den ", "de ", "ter ", "in 't ", "El "]
DOMAINS = ["example.nl", "example.org", "kinderopvang-de-regenboog.example", "bücher.example"]


@st.composite
def surnames(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from(PREFIXES)) + draw(st.sampled_from(SURNAMES))
    if draw(st.booleans()):  # double-barrelled
        first += "-" + draw(st.sampled_from(SURNAMES))
    return first


Family = tuple[dict[str, str], list[str], list[tuple[str, str]]]


@st.composite
def families(draw: st.DrawFn) -> Family:
    """An intake row, the names it greets, and the (name, ASCII address) of each parent mailed."""
    family = draw(surnames())
    row = intake_row(
        id=f"PL-{draw(st.integers(1, 99999))}",
        child_name=f"{draw(st.sampled_from(GIVEN))} {family}",
        language=draw(st.sampled_from(["nl", "en", "Nederlands", "Engels"])),
    )
    greeted: list[str] = []
    mailed: list[tuple[str, str]] = []
    parents = draw(st.integers(1, 2))
    for number in (1, 2):
        if number > parents:
            row[f"parent{number}_name"] = row[f"parent{number}_email"] = ""
            continue
        name = f"{draw(st.sampled_from(GIVEN))} {draw(surnames())}"
        padding = draw(st.integers(0, 40))
        local = f"ouder{number}.{'x' * padding}{draw(st.integers(0, 9999))}"
        domain = draw(st.sampled_from(DOMAINS))
        row[f"parent{number}_name"] = name
        greeted.append(name)
        # The second parent may have no address: greeted, not mailed.
        if number == 2 and draw(st.booleans()):
            row["parent2_email"] = ""
            continue
        row[f"parent{number}_email"] = f"{local}@{domain}"
        mailed.append((name, f"{local}@{domain.encode('idna').decode('ascii')}"))
    return row, greeted, mailed


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(family=families())
@example(
    family=(
        intake_row(
            parent1_name="Hélène",
            parent1_email="helene.vandenheuvelbrouwer.1689@example.net",
            parent2_name="Anaïs",
            parent2_email="anais.vandenheuvelbrouwer.1689b@example.org",
        ),
        ["Hélène", "Anaïs"],
        [
            ("Hélène", "helene.vandenheuvelbrouwer.1689@example.net"),
            ("Anaïs", "anais.vandenheuvelbrouwer.1689b@example.org"),
        ],
    )
)
def test_every_realistic_family_gets_a_letter_to_exactly_its_parents(
    composer: Composer, family: Family
) -> None:
    row, greeted, mailed = family
    record = IntakeRecord.model_validate(row)
    assert record.greeted_names == greeted
    data = composer.compose(record, "Coach").data
    parsed = message_from_bytes(data, policy=policy.default)
    to = [(address.display_name, address.addr_spec) for address in parsed["To"].addresses]
    assert to == mailed
    # The envelope: the sender takes its recipients from the stored To header.
    assert to_addresses(data) == [address for _name, address in mailed]
    text = letter_parts(data).text or ""
    assert all(name in text for name in greeted)
