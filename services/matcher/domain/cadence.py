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
    if cadence.every == "off":
        return None
    week = _latest_round_week(cadence.timezone, cadence.weekday, cadence.at, now)
    return week if week is not None and _in_cadence(cadence, week) else None


_LATEST_ROUNDS: dict[tuple[str, str, time], tuple[datetime, datetime, date]] = {}
"""(time zone, weekday, time of day) -> the latest round week found, with the moments between
which it is the answer: a tick comes every minute, the answer changes once a week."""


def _latest_round_week(timezone: str, weekday: str, at: time, now: datetime) -> date | None:
    key = (timezone, weekday, at)
    known = _LATEST_ROUNDS.get(key)
    if known is not None and known[0] <= now < known[1]:
        return known[2]
    monday = week_monday(now.astimezone(ZoneInfo(timezone)).date())
    for week in (monday, monday - timedelta(days=7)):
        moment = round_moment(timezone, weekday, at, week)
        if moment <= now:
            following = round_moment(timezone, weekday, at, week + timedelta(days=7))
            if known is not None or len(_LATEST_ROUNDS) < 4_096:
                _LATEST_ROUNDS[key] = (moment, following, week)
            return week
    return None


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
