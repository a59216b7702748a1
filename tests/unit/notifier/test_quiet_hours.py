"""Quiet hours: working time in the recipient's zone, and when the next window opens."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given
from hypothesis import strategies as st

from schemas.base import WorkingHours
from services.notifier.domain.quiet_hours import is_working_time, next_working_time

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
OFFICE_HOURS = WorkingHours(start=time(9), end=time(17, 30))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_working_hours_are_read_in_the_recipients_zone() -> None:
    # Monday 3 March 2025: Amsterdam is UTC+1.
    assert not is_working_time(utc(2025, 3, 3, 7, 59), OFFICE_HOURS, AMSTERDAM)
    assert is_working_time(utc(2025, 3, 3, 8, 0), OFFICE_HOURS, AMSTERDAM)
    assert is_working_time(utc(2025, 3, 3, 16, 29), OFFICE_HOURS, AMSTERDAM)
    assert not is_working_time(utc(2025, 3, 3, 16, 30), OFFICE_HOURS, AMSTERDAM)


def test_a_night_waits_for_the_next_morning() -> None:
    night = utc(2025, 3, 3, 23, 0)  # Tuesday 00:00 in Amsterdam
    assert next_working_time(night, OFFICE_HOURS, AMSTERDAM) == utc(2025, 3, 4, 8, 0)


def test_friday_evening_waits_for_monday() -> None:
    friday_evening = utc(2025, 3, 7, 18, 0)
    assert next_working_time(friday_evening, OFFICE_HOURS, AMSTERDAM) == utc(2025, 3, 10, 8, 0)


def test_working_time_is_delivered_at_once() -> None:
    moment = utc(2025, 3, 4, 12, 34, 56)
    assert next_working_time(moment, OFFICE_HOURS, AMSTERDAM) == moment


def test_the_morning_after_a_daylight_saving_change_is_nine_local() -> None:
    # Clocks go forward on Sunday 30 March 2025: Monday 09:00 is 07:00 UTC, not 08:00.
    sunday = utc(2025, 3, 30, 12, 0)
    assert next_working_time(sunday, OFFICE_HOURS, AMSTERDAM) == utc(2025, 3, 31, 7, 0)


def test_a_start_inside_the_skipped_hour_begins_after_the_gap() -> None:
    early = WorkingHours(start=time(2, 30), end=time(10), days=("sun",))
    saturday = utc(2025, 3, 29, 12, 0)
    # 02:30 does not exist that night: the window opens when the clocks jump to 03:00 (01:00
    # UTC), already working time, not half an hour later (03:30, the gap's length added).
    assert next_working_time(saturday, early, AMSTERDAM) == utc(2025, 3, 30, 1, 0)


def test_no_working_days_means_no_quiet_hours() -> None:
    anytime = WorkingHours(start=time(9), end=time(17), days=())
    assert is_working_time(utc(2025, 3, 2, 3, 0), anytime, AMSTERDAM)


ZONES = st.sampled_from(
    ["Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC"]
)
DAYS = st.lists(
    st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), min_size=1, unique=True
)
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 30, 24 * 60 - 1))
    return WorkingHours(
        start=time(start // 60, start % 60), end=time(end // 60, end % 60), days=tuple(draw(DAYS))
    )


@example(
    datetime(2026, 10, 3, 12, tzinfo=UTC),  # Saturday 22:00 in Sydney, which skips 02:00-03:00
    WorkingHours(start=time(2), end=time(2, 30), days=("sun", "mon")),
    "Australia/Sydney",
)
@given(MOMENTS, working_hours(), ZONES)
def test_the_next_working_time_is_working_time_and_never_earlier(
    moment: datetime, hours: WorkingHours, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    ready = next_working_time(moment, hours, zone)
    assert ready >= moment
    assert ready - moment <= timedelta(days=8)
    assert is_working_time(ready, hours, zone)


@example(
    datetime(2024, 10, 3, tzinfo=UTC),  # Sydney skips 02:00-03:00 on Sunday 6 October 2024:
    WorkingHours(start=time(2, 1), end=time(3, 1), days=("sun",)),  # 03:00-03:01 is left
    "Australia/Sydney",
)
@given(MOMENTS, working_hours(), ZONES)
def test_no_working_time_is_skipped_before_the_next_window(
    moment: datetime, hours: WorkingHours, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    ready = next_working_time(moment, hours, zone)
    probe = moment
    while probe < ready:  # every quarter of an hour in between is quiet
        assert not is_working_time(probe, hours, zone)
        probe += timedelta(minutes=15)
