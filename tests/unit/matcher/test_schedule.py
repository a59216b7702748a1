"""Working weeks in UTC, overlaps and slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.clock import ClockTicked
from services.common.domain.working_hours import (
    WeeklyHours,
    intersect,
    total_minutes,
    utc_intervals,
)
from services.matcher.domain.cadence import due_week
from services.matcher.domain.clock_reading import clock_reading
from services.matcher.domain.policy import Cadence, CoffeePolicy, PulseSetting
from services.matcher.domain.pulse import pulse_week
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


def _latest_week_by_definition(cadence: Cadence, now: datetime) -> date | None:
    """The Monday of the latest week whose round moment is at or before ``now``, found by
    walking back from ``now``'s week, computing each moment afresh."""
    zone = ZoneInfo(cadence.timezone)
    local_day = now.astimezone(zone).date()
    monday = local_day - timedelta(days=local_day.weekday())
    for back in range(3):
        week = monday - timedelta(days=7 * back)
        day = week + timedelta(
            days=("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(cadence.weekday)
        )
        if datetime.combine(day, cadence.at, tzinfo=zone) <= now:
            return week
    return None


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "Europe/Amsterdam", "America/New_York", "Australia/Sydney"]),
    weekday=st.sampled_from(["mon", "wed", "sun"]),
    at=st.times(),
    minutes=st.lists(st.integers(0, 60 * 24 * 400), min_size=1, max_size=40),
)
def test_the_due_week_is_the_latest_round_week_whatever_the_order_of_ticks(
    zone: str, weekday: str, at: time, minutes: list[int]
) -> None:
    """``due_week`` (from cached round moments) is the latest week whose moment has come:
    ticks in any order, across daylight saving changes, get the answer of the definition."""
    cadence = Cadence(every="week", weekday=weekday, at=at, timezone=zone)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in minutes:
        for later in (0, 1, 60 * 24):  # the next ticks, mostly in the same span
            now = start + timedelta(minutes=minute + later)
            assert due_week(cadence, now) == _latest_week_by_definition(cadence, now)


ZONES = (
    "UTC",
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # daylight saving of half an hour
    "Asia/Kathmandu",  # an offset of 5:45
    "America/Santiago",  # changes at midnight
    "Pacific/Kiritimati",  # +14
)


@settings(max_examples=120, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    every=st.sampled_from(["week", "two_weeks", "month", "off"]),
    weekday=st.sampled_from(["mon", "wed", "fri", "sun"]),
    at=st.times(),
    pulse=st.builds(
        PulseSetting,
        enabled=st.booleans(),
        weekday=st.sampled_from(["mon", "thu", "fri", "sun"]),
        at=st.times(),
    ),
    minutes=st.lists(st.integers(0, 60 * 24 * 400), min_size=1, max_size=30),
    parsed=st.booleans(),
)
def test_a_clock_reading_reused_across_ticks_answers_as_each_tick_computed_alone(
    zone: str,
    every: str,
    weekday: str,
    at: time,
    pulse: PulseSetting,
    minutes: list[int],
    parsed: bool,
) -> None:
    """``clock_reading`` reuses one reading while it holds: ticks in any order, minutes apart or
    days apart, across daylight saving changes, in the standard library's UTC or in pydantic's
    (as decoded ticks carry), get the round week and the pulse week computed from scratch."""
    cadence = Cadence(every=every, weekday=weekday, at=at, timezone=zone)
    policy = CoffeePolicy(cadence=cadence, pulse=pulse)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in minutes:
        for later in (0, 1, 59, 60 * 24):  # the next ticks, mostly in the same reading
            now = start + timedelta(minutes=minute + later)
            if parsed:
                now = ClockTicked.model_validate_json(
                    ClockTicked(now=now, sequence=0).model_dump_json()
                ).now
            reading = clock_reading(policy, now)
            assert reading.round_week == due_week(cadence, now)
            assert reading.pulse_week == pulse_week(pulse, zone, now)
            assert reading.holds_at(now)
