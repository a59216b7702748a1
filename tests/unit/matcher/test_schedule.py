"""Working weeks in UTC, overlaps and slots."""

from __future__ import annotations

from datetime import date, time

from services.common.domain.working_hours import (
    WeeklyHours,
    intersect,
    total_minutes,
    utc_intervals,
)
from services.matcher.domain.cadence import due_week
from services.matcher.domain.policy import Cadence
from services.matcher.domain.schedule import at_minute, slot_in

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
MONDAY = date(2026, 3, 2)


def hours(
    zone: str, start: int = 9, end: int = 17, days: tuple[str, ...] = WEEKDAYS
) -> WeeklyHours:
    return WeeklyHours(zone, time(start), time(end), days)


def test_amsterdam_and_new_york_share_two_hours_a_day_in_winter() -> None:
    amsterdam = utc_intervals(hours("Europe/Amsterdam"), MONDAY)  # 08:00-16:00 UTC
    new_york = utc_intervals(hours("America/New_York"), MONDAY)  # 14:00-22:00 UTC
    assert total_minutes(intersect(amsterdam, new_york)) == 5 * 120


def test_daylight_saving_is_that_of_the_round_week() -> None:
    """The US moves its clocks on 8 March 2026, Europe on 29 March: three weeks of 3 h."""
    week = date(2026, 3, 16)
    amsterdam = utc_intervals(hours("Europe/Amsterdam"), week)
    new_york = utc_intervals(hours("America/New_York"), week)
    assert total_minutes(intersect(amsterdam, new_york)) == 5 * 180


def test_no_overlap_between_kolkata_and_new_york_office_hours() -> None:
    kolkata = utc_intervals(hours("Asia/Kolkata"), MONDAY)
    new_york = utc_intervals(hours("America/New_York"), MONDAY)
    assert intersect(kolkata, new_york) == ()


def test_working_days_are_respected() -> None:
    part_time = utc_intervals(hours("UTC", days=("mon", "wed")), MONDAY)
    assert part_time == ((9 * 60, 17 * 60), (2 * 1440 + 9 * 60, 2 * 1440 + 17 * 60))


def test_a_slot_lies_inside_the_common_window_on_the_half_hour() -> None:
    common = ((9 * 60 + 10, 10 * 60 + 30),)
    start = slot_in(common, 30, choice=7)
    assert start == 9 * 60 + 30
    assert at_minute(MONDAY, start).isoformat() == "2026-03-02T09:30:00+00:00"


def test_no_slot_when_the_window_is_too_short_or_on_other_days() -> None:
    assert slot_in(((0, 20),), 30, choice=0) is None
    assert slot_in(((0, 60),), 30, choice=0, on_days=frozenset({1})) is None


def test_weekly_cadence_is_due_from_its_moment_on() -> None:
    cadence = Cadence(every="week", weekday="mon", at=time(8), timezone="Europe/Amsterdam")
    before = at_minute(MONDAY, 6 * 60)  # 07:00 in Amsterdam
    after = at_minute(MONDAY, 7 * 60)  # 08:00 in Amsterdam
    assert due_week(cadence, before) == date(2026, 2, 23)
    assert due_week(cadence, after) == MONDAY


def test_two_weekly_and_monthly_cadences_skip_weeks() -> None:
    moment = at_minute(MONDAY, 12 * 60)  # ISO week 10, the first Monday of March
    assert due_week(Cadence(every="two_weeks"), moment) == MONDAY
    assert due_week(Cadence(every="month"), moment) == MONDAY
    next_week = at_minute(date(2026, 3, 9), 12 * 60)
    assert due_week(Cadence(every="two_weeks"), next_week) is None
    assert due_week(Cadence(every="month"), next_week) is None
    assert due_week(Cadence(every="off"), moment) is None
