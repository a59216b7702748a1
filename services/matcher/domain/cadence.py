"""When a round is due: the organisation's cadence read against the clock's ticks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.common.domain.working_hours import WEEKDAYS, week_monday
from services.matcher.domain.policy import Cadence


def due_week(cadence: Cadence, now: datetime) -> date | None:
    """The Monday of the latest week whose round moment is at or before ``now`` (None when the
    cadence is off or that week is not one of the cadence's weeks)."""
    return due_week_span(cadence, now)[0]


def due_week_span(cadence: Cadence, now: datetime) -> tuple[date | None, datetime, datetime]:
    """``due_week`` and the span [start, end) around ``now`` in which it is the answer: from
    that week's round moment to the next week's."""
    if cadence.every == "off":
        return None, *NEVER_CHANGES
    timezone, weekday, at = cadence.timezone, cadence.weekday, cadence.at
    monday = week_monday(now.astimezone(ZoneInfo(timezone)).date())
    for week in (monday, monday - timedelta(days=7)):
        moment = round_moment(timezone, weekday, at, week)
        if moment <= now:
            following = round_moment(timezone, weekday, at, week + timedelta(days=7))
            return (week if _in_cadence(cadence, week) else None), moment, following
    return None, now, now  # no round moment before now nearby: holds for this instant only


NEVER_CHANGES = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))
"""The span of an answer that holds at any time (a cadence or pulse turned off)."""


@lru_cache(maxsize=4_096)
def round_moment(timezone: str, weekday: str, at: time, week: date) -> datetime:
    """The instant of a week's round (its weekday at ``at`` in the time zone), in UTC: asked at
    every clock tick of every organisation, the same few weeks over and over."""
    local = datetime.combine(
        week + timedelta(days=WEEKDAYS.index(weekday)), at, tzinfo=ZoneInfo(timezone)
    )
    return local.astimezone(UTC)


def _in_cadence(cadence: Cadence, week: date) -> bool:
    if cadence.every == "two_weeks":
        return week.isocalendar().week % 2 == 0
    if cadence.every == "month":
        return (week + timedelta(days=WEEKDAYS.index(cadence.weekday))).day <= 7
    return True


def scheduled_round_id(week: date) -> str:
    return f"coffee-{week.isoformat()}"
