"""The intake record's validation rules, one behaviour per test."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from pydantic import ValidationError

from mailer.clock import AMSTERDAM
from mailer.intake.records import IntakeRecord
from tests.conftest import intake_row

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=AMSTERDAM)


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


@pytest.mark.parametrize("written", ["2026-12-15", "15-12-2026", "15/12/2026"])
def test_dutch_and_iso_dates_are_both_read(written: str) -> None:
    assert validate(meeting_date=written).meeting_date.isoformat() == "2026-12-15"


@pytest.mark.parametrize(("written", "expected"), [("14:30", time(14, 30)), ("9.05", time(9, 5))])
def test_times_with_colon_or_dot_are_read(written: str, expected: time) -> None:
    assert validate(meeting_time=written).meeting_time == expected


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


def test_parent_name_without_address_is_refused() -> None:
    with pytest.raises(ValidationError, match="has a name but no e-mail"):
        validate(parent2_email="")


def test_language_is_nl_or_en_in_any_case() -> None:
    assert validate(language="EN").language == "en"
    assert validate(language="").language == "nl"
    with pytest.raises(ValidationError):
        validate(language="de")


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
