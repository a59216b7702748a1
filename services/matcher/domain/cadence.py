"""When a round is due: the organisation's cadence read against the clock's ticks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.common.domain.working_hours import WEEKDAYS, week_monday
from services.matcher.domain.policy import Cadence


def due_week(cadence: Cadence, now: datetime) -> date | None:
    """The Monday of the latest week whose round moment is at or before ``now`` (None when the
    cadence is off or that week is not one of the cadence's weeks)."""
    if cadence.every == "off":
        return None
    local = now.astimezone(ZoneInfo(cadence.timezone))
    monday = week_monday(local.date())
    for week in (monday, monday - timedelta(days=7)):
        moment = datetime.combine(
            week + timedelta(days=WEEKDAYS.index(cadence.weekday)),
            cadence.at,
            tzinfo=ZoneInfo(cadence.timezone),
        )
        if moment <= now:
            return week if _in_cadence(cadence, week) else None
    return None


def _in_cadence(cadence: Cadence, week: date) -> bool:
    if cadence.every == "two_weeks":
        return week.isocalendar().week % 2 == 0
    if cadence.every == "month":
        return (week + timedelta(days=WEEKDAYS.index(cadence.weekday))).day <= 7
    return True


def scheduled_round_id(week: date) -> str:
    return f"coffee-{week.isoformat()}"
