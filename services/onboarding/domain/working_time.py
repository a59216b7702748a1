"""Working time across time zones: how long two people can meet, and when a check-in is due.

Overlaps are measured on a reference week in UTC, so that each person's own time zone rules
(daylight saving included) apply to that very week. The results depend only on the arguments and
are cached: most members share a handful of time zones and working patterns.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.common.domain.working_hours import WeeklyHours, longest_common_stretch


@lru_cache(maxsize=65_536)
def longest_shared_stretch(first: WeeklyHours, second: WeeklyHours, monday: date) -> timedelta:
    """The longest time both work without a break, in the week starting ``monday``."""
    return timedelta(minutes=longest_common_stretch(first, second, monday))


def checkin_moment(hours: WeeklyHours, day: date, minutes_after_start: int) -> datetime:
    """When a check-in planned for ``day`` is due (UTC): on that day or the next working day,
    ``minutes_after_start`` into the working day, or at its start if the day is shorter."""
    working_day = next_working_day(hours, day)
    start = datetime.combine(working_day, hours.start)
    end = datetime.combine(working_day, hours.end)
    local = start + timedelta(minutes=minutes_after_start)
    if local >= end:
        local = start
    return local.replace(tzinfo=ZoneInfo(hours.timezone)).astimezone(UTC)


def next_working_day(hours: WeeklyHours, day: date) -> date:
    """``day`` itself when it is a working day, else the first working day after it."""
    if not hours.days:
        return day
    while not hours.works_on(day):
        day += timedelta(days=1)
    return day


def months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` earlier (the month's last day when it is shorter)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def whole_months_between(start: date, end: date) -> int:
    """Completed months from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)
