"""Working hours across time zones: one week of someone's working time as intervals in UTC.

A week is counted in minutes from Monday 00:00 UTC. Each person's working days are converted with
their time zone's rules for that very week, so daylight-saving changes are respected; an interval
may start before the week (a zone ahead of UTC) or end after it. The matcher finds overlaps and
slots with it, the onboarding the time a buddy and a new hire share, the notifier quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import get_args
from zoneinfo import ZoneInfo

from schemas.base import Weekday
from schemas.members import MemberProfile

WEEKDAYS: tuple[str, ...] = get_args(Weekday)
"""Weekday names of the contract, indexed by ``date.weekday()``."""


Interval = tuple[int, int]
"""[start, end) in minutes since Monday 00:00 UTC of the week (may reach into the next week)."""


@dataclass(frozen=True)
class WeeklyHours:
    """A working pattern: who shares it shares every overlap computation (a schedule class)."""

    timezone: str
    start: time
    end: time
    days: tuple[str, ...]

    @classmethod
    def of(cls, profile: MemberProfile) -> WeeklyHours:
        hours = profile.working_hours
        return cls(profile.timezone, hours.start, hours.end, tuple(hours.days))

    def works_on(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.days


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


def week_monday(day: date) -> date:
    """The Monday of the week a day is in."""
    return day - timedelta(days=day.weekday())


def total_minutes(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


def longest_common_stretch(first: WeeklyHours, second: WeeklyHours, week_starting: date) -> int:
    """Minutes of the longest time both work without a break in the week."""
    common = intersect(utc_intervals(first, week_starting), utc_intervals(second, week_starting))
    return max((end - start for start, end in common), default=0)
