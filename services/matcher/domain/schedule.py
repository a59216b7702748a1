"""Meeting slots inside the common working time of a group (``working_hours`` intervals)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from services.common.domain.working_hours import Interval

MINUTES_PER_DAY = 24 * 60


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
