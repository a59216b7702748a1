"""Working time across time zones and the calendar arithmetic of the policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.common.domain.working_hours import WeeklyHours, week_monday
from services.onboarding.domain.working_time import (
    checkin_moment,
    longest_shared_stretch,
    months_before,
    whole_months_between,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def hours(
    zone: str, start: str = "09:00", end: str = "17:00", days: tuple[str, ...] = WEEKDAYS
) -> WeeklyHours:
    return WeeklyHours(zone, time.fromisoformat(start), time.fromisoformat(end), days)


@pytest.mark.parametrize(
    ("monday", "expected"),
    [
        (date(2025, 3, 3), timedelta(hours=2)),  # both on winter time: 14:00-16:00 UTC
        (date(2025, 3, 10), timedelta(hours=3)),  # New York moved on 9 March, Amsterdam not yet
        (date(2025, 3, 31), timedelta(hours=2)),  # both on summer time
    ],
)
def test_the_overlap_follows_each_zone_through_daylight_saving(
    monday: date, expected: timedelta
) -> None:
    amsterdam, new_york = hours("Europe/Amsterdam"), hours("America/New_York")
    assert longest_shared_stretch(amsterdam, new_york, monday) == expected
    assert longest_shared_stretch(new_york, amsterdam, monday) == expected


def test_the_overlap_across_the_date_line_counts_work_on_different_local_days() -> None:
    """Auckland's Tuesday 08:00-12:00 is Monday 20:00-24:00 UTC in June; Los Angeles works
    Monday 19:00-24:00 UTC."""
    auckland = hours("Pacific/Auckland", "08:00", "12:00")
    los_angeles = hours("America/Los_Angeles", "12:00", "17:00")
    assert longest_shared_stretch(auckland, los_angeles, date(2025, 6, 2)) == timedelta(hours=4)
    only_mondays = hours("Pacific/Auckland", "08:00", "12:00", days=("mon",))
    # Auckland's Monday morning is Los Angeles' Sunday: no working time in common.
    assert longest_shared_stretch(only_mondays, los_angeles, date(2025, 6, 2)) == timedelta(0)


def test_no_common_working_day_means_no_overlap() -> None:
    weekend = hours("Europe/Amsterdam", days=("sat", "sun"))
    assert longest_shared_stretch(hours("Europe/Amsterdam"), weekend, date(2025, 6, 2)) == (
        timedelta(0)
    )


def test_a_checkin_is_due_an_hour_into_the_working_day_in_utc() -> None:
    amsterdam = hours("Europe/Amsterdam")
    assert checkin_moment(amsterdam, date(2025, 3, 10), 60) == datetime(
        2025, 3, 10, 9, 0, tzinfo=UTC
    )
    assert checkin_moment(amsterdam, date(2025, 4, 7), 60) == datetime(2025, 4, 7, 8, 0, tzinfo=UTC)


def test_a_checkin_moves_to_the_next_working_day_and_stays_inside_short_hours() -> None:
    short = hours("Asia/Tokyo", "09:00", "09:30", days=("wed",))  # Wednesdays only
    assert checkin_moment(short, date(2025, 3, 10), 60) == datetime(2025, 3, 12, 0, 0, tzinfo=UTC)


def test_calendar_helpers() -> None:
    assert week_monday(date(2025, 3, 16)) == date(2025, 3, 10)
    assert months_before(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert months_before(date(2025, 3, 3), 6) == date(2024, 9, 3)
    assert months_before(date(2025, 1, 15), 13) == date(2023, 12, 15)
    assert whole_months_between(date(2024, 9, 3), date(2025, 3, 3)) == 6
    assert whole_months_between(date(2024, 9, 4), date(2025, 3, 3)) == 5
    assert whole_months_between(date(2025, 9, 4), date(2025, 3, 3)) == 0
