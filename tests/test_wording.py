"""Dates, times and names as people write them, in Dutch and English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailer.clock import AMSTERDAM
from mailer.letters.wording import (
    format_meeting_date,
    format_meeting_moment,
    format_meeting_time,
    join_names,
)


def test_dutch_and_english_moment_in_winter_time() -> None:
    moment = datetime(2026, 12, 15, 14, 30, tzinfo=AMSTERDAM)
    assert format_meeting_moment(moment, "nl") == "dinsdag 15 december 2026 om 14.30"
    assert format_meeting_moment(moment, "en") == "Tuesday 15 December 2026 at 14:30"


@pytest.mark.parametrize(
    ("utc_hour", "language", "expected"),
    [
        # 12:30 UTC is 14:30 in summer time (+02:00) ...
        (12, "nl", "woensdag 1 juli 2026 om 14.30"),
        (12, "en", "Wednesday 1 July 2026 at 14:30"),
    ],
)
def test_summer_time_is_shown_in_amsterdam_whatever_the_input_zone(
    utc_hour: int, language: str, expected: str
) -> None:
    moment = datetime(2026, 7, 1, utc_hour, 30, tzinfo=UTC)
    assert format_meeting_moment(moment, language) == expected


def test_winter_time_from_utc_is_one_hour_ahead() -> None:
    # ... and 13:30 UTC is 14:30 in winter time (+01:00).
    moment = datetime(2026, 12, 15, 13, 30, tzinfo=UTC)
    assert format_meeting_moment(moment, "nl") == "dinsdag 15 december 2026 om 14.30"


def test_days_of_the_clock_change_keep_their_local_time() -> None:
    spring = datetime(2026, 3, 29, 14, 30, tzinfo=AMSTERDAM)  # clocks went forward that night
    autumn = datetime(2026, 10, 25, 9, 0, tzinfo=AMSTERDAM)  # clocks went back that night
    assert format_meeting_moment(spring, "nl") == "zondag 29 maart 2026 om 14.30"
    assert format_meeting_moment(autumn, "en") == "Sunday 25 October 2026 at 09:00"
    assert spring.utcoffset() == timedelta(hours=2)
    assert autumn.utcoffset() == timedelta(hours=1)


def test_date_has_no_time() -> None:
    moment = datetime(2027, 1, 12, 9, 30, tzinfo=AMSTERDAM)
    assert format_meeting_date(moment, "nl") == "dinsdag 12 januari 2027"
    assert format_meeting_date(moment, "en") == "Tuesday 12 January 2027"


@pytest.mark.parametrize(
    ("names", "language", "expected"),
    [
        (["Sanne"], "nl", "Sanne"),
        (["Sanne", "Mark"], "nl", "Sanne en Mark"),
        (["Sanne", "Mark"], "en", "Sanne and Mark"),
        (["Anna", "Fatima", "Joost"], "nl", "Anna, Fatima en Joost"),
        (["Anna", "Fatima", "Joost"], "en", "Anna, Fatima and Joost"),
        ([], "nl", ""),
    ],
)
def test_names_are_joined_as_people_write_them(
    names: list[str], language: str, expected: str
) -> None:
    assert join_names(names, language) == expected


def test_dutch_morning_times_have_no_leading_zero_and_a_point() -> None:
    moment = datetime(2027, 1, 12, 9, 30, tzinfo=AMSTERDAM)
    assert format_meeting_time(moment, "nl") == "9.30"
    assert format_meeting_time(moment, "en") == "09:30"
