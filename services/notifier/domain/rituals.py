"""Team rituals as the notifier sees them: when their occurrences are and which need a reminder.

The recurrence rule (RFC 5545) is expanded in the ritual's own time zone, so "every Friday at
16:30" stays 16:30 local across daylight-saving changes; instants are then compared in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rruleset, rrulestr

from schemas import CloudEvent
from schemas.rituals import RitualScheduled

_SEARCH_MARGIN = timedelta(hours=3)
"""Slack around the search window in local time: wider than any daylight-saving shift."""
_MAX_OCCURRENCES_SCANNED = 10_000
"""A rule firing every second must not stall the consumer: no window holds more than this."""


@dataclass(frozen=True)
class RitualPlan:
    """A scheduled ritual and what was cancelled of it."""

    scheduled: CloudEvent[Any]
    rule: rruleset
    zone: ZoneInfo
    cancelled: frozenset[datetime] = field(default_factory=frozenset)
    """Cancelled occurrences (their UTC start)."""
    series_cancelled: bool = False

    @property
    def ritual(self) -> RitualScheduled:
        payload: RitualScheduled = self.scheduled.data
        return payload

    @property
    def remind_before(self) -> timedelta:
        return timedelta(minutes=self.ritual.remind_minutes_before)

    def cancel(self, occurrence: datetime | None) -> RitualPlan:
        if occurrence is None:
            return replace(self, series_cancelled=True)
        return replace(self, cancelled=self.cancelled | {occurrence.astimezone(UTC)})


def plan_ritual(event: CloudEvent[Any]) -> RitualPlan:
    """The plan of a ``ritual.scheduled`` event; ValueError when its rule cannot be read."""
    payload: RitualScheduled = event.data
    zone = ZoneInfo(payload.timezone)
    first = payload.first_start
    if first.tzinfo is not None:  # tolerated: the contract asks for a local time
        first = first.astimezone(zone).replace(tzinfo=None)
    rule = rrulestr(payload.rrule, dtstart=first, forceset=True)
    if not isinstance(rule, rruleset):  # pragma: no cover - forceset guarantees it
        raise ValueError("not a recurrence rule")
    return RitualPlan(scheduled=event, rule=rule, zone=zone)


def occurrences_between(plan: RitualPlan, after: datetime, until: datetime) -> Iterator[datetime]:
    """UTC starts of the occurrences with ``after < start <= until``, cancelled ones included."""
    lower = after.astimezone(plan.zone).replace(tzinfo=None) - _SEARCH_MARGIN
    upper = until.astimezone(plan.zone).replace(tzinfo=None) + _SEARCH_MARGIN
    for scanned, local in enumerate(plan.rule.xafter(lower, inc=True)):
        if local > upper or scanned >= _MAX_OCCURRENCES_SCANNED:
            return
        start = local.replace(tzinfo=plan.zone).astimezone(UTC)
        if after < start <= until:
            yield start


def reminders_due(plan: RitualPlan, now: datetime) -> list[datetime]:
    """Occurrences whose reminder moment has come and that have not started yet at ``now``:
    ``start - remind_before <= now < start``; none for a cancelled series or occurrence."""
    if plan.series_cancelled:
        return []
    return [
        start
        for start in occurrences_between(plan, now, now + plan.remind_before)
        if start not in plan.cancelled
    ]
