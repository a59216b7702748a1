"""Working hours as intervals of one week in UTC: overlaps across time zones and meeting slots.

A week is counted in minutes from Monday 00:00 UTC of the round's week. Each member's working
days are converted with their time zone's rules for that very week, so daylight-saving changes
are respected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

Interval = tuple[int, int]
"""[start, end) in minutes since Monday 00:00 UTC of the week (may reach into the next week)."""


@dataclass(frozen=True)
class WeeklyHours:
    """A working pattern: who shares it shares every overlap computation (a schedule class)."""

    timezone: str
    start: time
    end: time
    days: tuple[str, ...]


@lru_cache(maxsize=4096)
def utc_intervals(hours: WeeklyHours, week_starting: date) -> tuple[Interval, ...]:
    """The working intervals of a pattern in the week starting on ``week_starting`` (a Monday)."""
    zone = ZoneInfo(hours.timezone)
    week_start = datetime.combine(week_starting, time(0), tzinfo=UTC)
    intervals = []
    for offset, weekday in enumerate(WEEKDAYS):
        if weekday not in hours.days:
            continue
        day = week_starting + timedelta(days=offset)
        start = datetime.combine(day, hours.start, tzinfo=zone)
        end = datetime.combine(day, hours.end, tzinfo=zone)
        intervals.append((_minutes(start, week_start), _minutes(end, week_start)))
    return tuple(sorted(intervals))


def _minutes(moment: datetime, origin: datetime) -> int:
    return int((moment - origin).total_seconds() // 60)


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> tuple[Interval, ...]:
    """The common part of two sorted interval lists."""
    common: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        start = max(first[i][0], second[j][0])
        end = min(first[i][1], second[j][1])
        if start < end:
            common.append((start, end))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return tuple(common)


def intersect_all(interval_lists: Iterable[Sequence[Interval]]) -> tuple[Interval, ...]:
    lists = list(interval_lists)
    common = tuple(lists[0]) if lists else ()
    for other in lists[1:]:
        common = intersect(common, other)
    return common


def total_minutes(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


def slot_in(
    common: Sequence[Interval], length: int, choice: int, *, on_days: frozenset[int] | None = None
) -> int | None:
    """A slot start inside ``common`` long enough for ``length`` minutes, or None. ``choice``
    (a number derived from the group's id) spreads meetings over the possible windows;
    ``on_days`` (day indexes from Monday) restricts them, e.g. to a shared office day. Slots
    start on a half hour where the window allows it."""
    windows = [
        (start, end)
        for start, end in common
        if end - start >= length and (on_days is None or (start // MINUTES_PER_DAY) in on_days)
    ]
    if not windows:
        return None
    start, end = windows[choice % len(windows)]
    rounded = -(-start // 30) * 30
    return rounded if rounded + length <= end else start


def at_minute(week_starting: date, minute: int) -> datetime:
    """The UTC moment of a minute of the week."""
    return datetime.combine(week_starting, time(0), tzinfo=UTC) + timedelta(minutes=minute)


def describe_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"
