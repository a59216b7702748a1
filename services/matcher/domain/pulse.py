"""When the weekly pulse is asked, and of whom: decided from the clock's ticks, so a replay
asks the same people the same week. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.common.domain.working_hours import WEEKDAYS, week_monday
from services.matcher.domain.policy import PulseSetting


def pulse_week(setting: PulseSetting, timezone: str, now: datetime) -> date | None:
    """The Monday of the week whose pulse moment is at or before ``now`` within that same week
    (None when the pulse is off or this week's moment has not come yet): a clock that jumps past
    a whole week does not ask about a week gone by."""
    if not setting.enabled:
        return None
    zone = ZoneInfo(timezone)
    monday = week_monday(now.astimezone(zone).date())
    moment = datetime.combine(
        monday + timedelta(days=WEEKDAYS.index(setting.weekday)), setting.at, tzinfo=zone
    )
    return monday if moment <= now else None


def asked(members: Iterable[str], already: set[str]) -> list[str]:
    """Who is asked this week: the members taking part, not asked yet, in id order."""
    return sorted(set(members) - already)
