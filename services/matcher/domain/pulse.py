"""When the weekly pulse is asked, and of whom: decided from the clock's ticks, so a replay
asks the same people the same week. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.common.domain.working_hours import WEEKDAYS, week_monday
from services.matcher.domain.cadence import NEVER_CHANGES
from services.matcher.domain.policy import PulseSetting


def pulse_week(setting: PulseSetting, timezone: str, now: datetime) -> date | None:
    """The Monday of the week whose pulse moment is at or before ``now`` within that same week
    (None when the pulse is off or this week's moment has not come yet): a clock that jumps past
    a whole week does not ask about a week gone by."""
    return pulse_week_span(setting, timezone, now)[0]


def pulse_week_span(
    setting: PulseSetting, timezone: str, now: datetime
) -> tuple[date | None, datetime, datetime]:
    """``pulse_week`` and the span [start, end) around ``now`` in which it is the answer: from
    the local Monday to the week's moment (None), from the moment to the next Monday (the week)."""
    if not setting.enabled:
        return None, *NEVER_CHANGES
    zone = ZoneInfo(timezone)
    monday = week_monday(now.astimezone(zone).date())
    moment = datetime.combine(
        monday + timedelta(days=WEEKDAYS.index(setting.weekday)), setting.at, tzinfo=zone
    )
    if moment <= now:
        return monday, moment, datetime.combine(monday + timedelta(days=7), time(), tzinfo=zone)
    return None, datetime.combine(monday, time(), tzinfo=zone), moment


def asked(members: Iterable[str], already: set[str]) -> list[str]:
    """Who is asked this week: the members taking part, not asked yet, in id order."""
    return sorted(set(members) - already)
