"""Quiet hours: a message reaches a person only inside their working hours, in their time zone.

Times are compared as wall-clock times in the recipient's zone (what "09:00" means to them, also
across daylight-saving changes); results are returned in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from schemas.base import WorkingHours
from services.common.domain.working_hours import WEEKDAYS


def _local_moment(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time on a day in a zone; a time that does not exist (skipped by a
    daylight-saving change) becomes the first instant after the gap, the change itself."""
    naive = datetime.combine(day.date(), at)
    before, after = (naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (1, 0))
    if before >= after or _wall(after, zone) == naive:  # it exists (once, or twice: the first)
        return after.astimezone(zone)
    # Read with the offset after the change, the time falls before the gap; with the offset
    # before it, after the gap. The change is the first second between whose wall time is past.
    low, high = 0, int((after - before).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if _wall(before + timedelta(seconds=middle), zone) >= naive:
            high = middle
        else:
            low = middle + 1
    return (before + timedelta(seconds=low)).astimezone(zone)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time (naive) an instant shows in a zone."""
    return instant.astimezone(zone).replace(tzinfo=None)


def is_working_time(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> bool:
    """Whether ``moment`` falls inside the working hours (start included, end excluded). Without
    working days nothing is known about the person's hours: every moment is working time."""
    return _is_working_time(moment, hours.start, hours.end, hours.days, zone)


def next_working_time(moment: datetime, hours: WorkingHours, zone: ZoneInfo) -> datetime:
    """``moment`` itself when it is working time, else the start of the next working window (UTC).
    A week always holds a working day when ``hours.days`` is not empty."""
    return _next_working_time(moment, hours.start, hours.end, hours.days, zone)


def _is_working_time(
    moment: datetime, start: time, end: time, days: tuple[str, ...], zone: ZoneInfo
) -> bool:
    if not days:
        return True
    local = moment.astimezone(zone)
    if WEEKDAYS[local.weekday()] not in days:
        return False
    return start <= local.time() < end


@lru_cache(maxsize=16_384)
def _next_working_time(
    moment: datetime, start: time, end: time, days: tuple[str, ...], zone: ZoneInfo
) -> datetime:
    """Remembered: a round's notices ask it of one moment for many people with the same hours
    and zone, and again at every tick that looks at the held ones; outside working hours it
    costs several microseconds. The hours come as their parts, not as the model: those hash and
    compare in C, the model's own ``__hash__`` and ``__eq__`` in Python. Equal arguments (the
    same instant, the same hours and zone) have the same answer, an instant in UTC."""
    if _is_working_time(moment, start, end, days, zone):
        return moment.astimezone(UTC)
    local = moment.astimezone(zone)
    for offset in range(8):
        day = local + timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in days:
            continue
        begins = _local_moment(day, start, zone)
        # A window a daylight-saving change skips whole (02:00-02:30 on the night clocks go
        # forward) starts after its end: that day has no working time.
        if begins > moment and _is_working_time(begins, start, end, days, zone):
            return begins.astimezone(UTC)
    raise AssertionError("unreachable: a working day recurs within a week")
