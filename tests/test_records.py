"""The intake record's validation rules, one behaviour per test."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from pydantic import ValidationError

from mailer.clock import AMSTERDAM
from mailer.intake.records import IntakeRecord
from tests.conftest import intake_row

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=AMSTERDAM)


# These tests read the English wording (Dutch is the default).
pytestmark = pytest.mark.usefixtures("english")


def validate(**overrides: str) -> IntakeRecord:
    row = intake_row(**{"meeting_date": "2026-12-15", **overrides})
    return IntakeRecord.model_validate(row, context={"now": NOW})


def error_fields(error: ValidationError) -> list[str]:
    return [str(issue["loc"][0]) if issue["loc"] else issue["msg"] for issue in error.errors()]


def test_valid_row_gives_parents_and_an_aware_meeting_time_in_amsterdam() -> None:
    record = validate()
    assert [parent.email for parent in record.parents] == ["sanne@example.nl", "mark@example.nl"]
    assert record.meeting_at == datetime(2026, 12, 15, 14, 30, tzinfo=AMSTERDAM)
    assert record.meeting_at.utcoffset() == timedelta(hours=1)
    assert record.professionals == ["Anna", "Fatima", "Joost"]


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-15",
        "15-12-2026",
        "15/12/2026",
        "15.12.2026",
        "15-12-26",
        "15 december 2026",
        "15 dec 2026",
        "dinsdag 15 december 2026",
        " 15  December 2026 ",
    ],
)
def test_dates_as_dutch_staff_write_them_are_read(written: str) -> None:
    assert validate(meeting_date=written).meeting_date.isoformat() == "2026-12-15"


def test_a_short_dutch_date_with_one_digit_day_and_month() -> None:
    record = IntakeRecord.model_validate(intake_row(meeting_date="5-1-27"), context={"now": NOW})
    assert record.meeting_date.isoformat() == "2027-01-05"


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("31-02-2027", "'31-02-2027' does not exist: month 2 of 2027 has 28 days"),
        ("29-02-2027", "'29-02-2027' does not exist: month 2 of 2027 has 28 days"),
        ("12-13-2027", "'12-13-2027' has no month 13; months go from 1 to 12"),
        ("morgen", "'morgen' is not a date; write it as DD-MM-YYYY, e.g. 12-01-2027"),
    ],
)
def test_an_impossible_date_gets_its_real_reason(written: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(meeting_date=written)
    assert [str(issue["ctx"]["error"]) for issue in caught.value.errors()] == [problem]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("14:30", time(14, 30)),
        ("9.05", time(9, 5)),
        ("09:30 uur", time(9, 30)),
        ("10.15 uur", time(10, 15)),
        ("9:30u", time(9, 30)),
        ("15u15", time(15, 15)),
        ("9 uur", time(9, 0)),
        ("14:30:00", time(14, 30)),
    ],
)
def test_times_as_dutch_staff_write_them_are_read(written: str, expected: time) -> None:
    assert validate(meeting_time=written).meeting_time == expected


@pytest.mark.parametrize("written", ["9", "25:00", "9:75", "half tien"])
def test_what_is_not_a_time_is_refused_with_the_way_to_write_it(written: str) -> None:
    with pytest.raises(ValidationError, match="write it as HH:MM"):
        validate(meeting_time=written)


def test_summer_meeting_has_summer_time_offset() -> None:
    record = IntakeRecord.model_validate(
        intake_row(meeting_date="2027-07-06"), context={"now": NOW}
    )
    assert record.meeting_at.utcoffset() == timedelta(hours=2)


def test_meeting_in_the_past_is_refused() -> None:
    with pytest.raises(ValidationError, match="not in the future"):
        validate(meeting_date="2026-11-30")


@pytest.mark.parametrize(
    "name", ["Ann\nBcc: x@example.nl", "Ann\rB", "=?utf-8?q?a=0D=0AB?=", "Ann\x00", "Ann\u2028B"]
)
def test_names_that_could_forge_a_header_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate(parent1_name=name)
    assert error_fields(caught.value) == ["parent1_name"]


def test_empty_child_name_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(child_name="   ")
    assert error_fields(caught.value) == ["child_name"]


def test_bad_address_is_refused_without_dns_lookup() -> None:
    with pytest.raises(ValidationError) as caught:
        validate(parent1_email="sanne(at)example.nl")
    assert error_fields(caught.value) == ["parent1_email"]


def test_at_least_one_parent_with_an_address_is_required() -> None:
    with pytest.raises(ValidationError, match="at least one parent"):
        validate(parent1_name="", parent1_email="", parent2_name="", parent2_email="")


def test_second_parent_alone_is_enough() -> None:
    record = validate(parent1_name="", parent1_email="")
    assert [parent.name for parent in record.parents] == ["Mark"]


def test_a_parent_without_address_is_greeted_but_not_mailed() -> None:
    record = validate(parent2_email="")
    assert record.greeted_names == ["Sanne", "Mark"]
    assert [parent.email for parent in record.parents] == ["sanne@example.nl"]


def test_an_address_without_a_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="parent 2 has an e-mail address but no name"):
        validate(parent2_name="")


def test_with_no_address_at_all_at_least_one_is_asked_for() -> None:
    with pytest.raises(ValidationError, match="at least one parent needs an e-mail address"):
        validate(parent1_email="", parent2_email="")


@pytest.mark.parametrize(
    ("written", "expected"),
    [("EN", "en"), ("", "nl"), ("Nederlands", "nl"), ("Engels", "en"), ("english", "en")],
)
def test_language_as_staff_write_it(written: str, expected: str) -> None:
    assert validate(language=written).language == expected


def test_an_unknown_language_says_which_ones_exist() -> None:
    with pytest.raises(ValidationError, match="'Duits' is not a letter language; write"):
        validate(language="Duits")


@pytest.mark.parametrize(
    ("written", "sent_to"),
    [
        ("ouder@bücher.example", "ouder@xn--bcher-kva.example"),
        ("ouder@xn--bcher-kva.example", "ouder@xn--bcher-kva.example"),
        ("Sanne@Example.NL", "Sanne@example.nl"),
    ],
)
def test_an_internationalised_domain_is_kept_in_its_ascii_form(written: str, sent_to: str) -> None:
    assert validate(parent1_email=written).parent1_email == sent_to


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ('"juf@school.example" <other@elsewhere.example>', "is not one bare address"),
        ("Sanne <sanne@example.nl>", "is not one bare address"),
        ("sanne@example.nl, mark@example.nl", "is not one bare address"),
        ("sanne@example.nl mark@example.nl", "is not one bare address"),
        ("jürgen@example.nl", "has letters outside ASCII before the @"),
        ("ouder@exаmple.com", "mixes alphabets in its domain"),  # a Cyrillic а
        ("sanne@localhost", "is not an e-mail address"),
    ],
)
def test_an_address_cell_holds_exactly_one_sendable_address(written: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        validate(parent1_email=written)
    assert error_fields(caught.value) == ["parent1_email"]


def test_spreadsheet_numbers_and_library_types_read_as_text_or_get_a_plain_reason() -> None:
    record = IntakeRecord.model_validate(
        {**intake_row(meeting_date="2026-12-15"), "id": 141.0, "duration_minutes": 45.0},
        context={"now": NOW},
    )
    assert (record.id, record.duration_minutes) == ("141", 45)
    with pytest.raises(ValidationError) as caught:
        validate(duration_minutes="drie kwartier")
    assert [str(issue["ctx"]["error"]) for issue in caught.value.errors()] == [
        "'drie kwartier' is not a number of minutes; write e.g. 45"
    ]


def test_non_ascii_names_are_kept_exactly() -> None:
    record = validate(child_name="Đorđe Petrović", parent1_name="Ümit", parent2_name="Anaïs")
    assert record.child_name == "Đorđe Petrović"
    assert [parent.name for parent in record.parents] == ["Ümit", "Anaïs"]


def test_same_record_has_same_key_and_id_decides_when_given() -> None:
    assert validate().dedup_key == validate().dedup_key
    assert validate().dedup_key != validate(id="PL-2").dedup_key
    # With an id, a new time is the same record (a reschedule), not a new one.
    assert validate().dedup_key == validate(meeting_time="15:00").dedup_key


def test_without_id_the_child_time_and_addresses_make_the_key() -> None:
    base = validate(id="")
    assert base.dedup_key == validate(id="", parent1_email="SANNE@example.nl").dedup_key
    assert base.dedup_key != validate(id="", meeting_time="15:00").dedup_key
    assert base.dedup_key != validate(id="", parent2_email="other@example.nl").dedup_key


def test_meeting_years_ahead_is_a_typo_in_the_year() -> None:
    with pytest.raises(ValidationError, match="more than two years ahead"):
        validate(meeting_date="2207-12-15")
    with pytest.raises(ValidationError, match="more than two years ahead"):
        validate(meeting_date="9999-12-31", meeting_time="23:59")


def test_a_time_skipped_by_the_clock_change_is_refused() -> None:
    with pytest.raises(ValidationError, match="does not exist on 28-03-2027"):
        validate(meeting_date="2027-03-28", meeting_time="02:30")
    assert validate(meeting_date="2027-03-28", meeting_time="03:30").meeting_time == time(3, 30)
    with pytest.raises(ValidationError, match="happens twice on 31-10-2027"):
        validate(meeting_date="2027-10-31", meeting_time="02:30")
    assert validate(meeting_date="2027-10-31", meeting_time="03:00").meeting_at.utcoffset() == (
        timedelta(hours=1)
    )


def test_the_same_address_twice_in_other_case_is_refused() -> None:
    with pytest.raises(ValidationError, match="same address"):
        validate(parent2_email="SANNE@example.nl")
