"""Team rituals as the notifier sees them: when their occurrences are and which need a reminder.

The recurrence rule (RFC 5545) is read and bounded by ``schemas.recurrence``, the one rule for
what a ritual may be: it is expanded in the ritual's own time zone, so "every Friday at 16:30"
stays 16:30 local across daylight-saving changes; instants are then compared in UTC. A rule the
schema refuses never reaches here (admission dead-letters its record); ``plan_ritual`` checks it
again all the same, so a ``ritual.scheduled`` with such a rule fails (and is dead-lettered) before
anything changes, and every expansion is bounded in count (``MAX_OCCURRENCES_PER_WINDOW``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas import CloudEvent
from schemas.recurrence import (
    FIRST_OCCURRENCE_HORIZON,
    Recurrence,
    RecurrenceError,
    parse_recurrence,
)
from schemas.rituals import RitualCancelled, RitualScheduled


@dataclass(frozen=True)
class RitualPlan:
    """A scheduled ritual and what was cancelled of it."""

    scheduled: CloudEvent[Any]
    recurrence: Recurrence
    cancelled: frozenset[datetime] = field(default_factory=frozenset)
    """Cancelled occurrences (their UTC start)."""
    series_cancelled: bool = False
    sequence: int = 0
    """How often the series changed since it was first scheduled (rescheduled, an occurrence or
    the series cancelled): the SEQUENCE of its calendar invitation."""
    changed_by: CloudEvent[Any] | None = None
    """The event that made this version, when not the schedule itself (a cancellation)."""

    @property
    def version_event(self) -> CloudEvent[Any]:
        """The event that made this version of the series: its schedule or a cancellation."""
        return self.changed_by or self.scheduled

    @property
    def ritual(self) -> RitualScheduled:
        payload: RitualScheduled = self.scheduled.data
        return payload

    @property
    def zone(self) -> ZoneInfo:
        return self.recurrence.zone

    @property
    def remind_before(self) -> timedelta:
        return timedelta(minutes=self.ritual.remind_minutes_before)

    def cancel(self, occurrence: datetime | None) -> RitualPlan:
        if occurrence is None:
            return replace(self, series_cancelled=True, sequence=self.sequence + 1)
        cancelled = self.cancelled | {occurrence.astimezone(UTC)}
        return replace(self, cancelled=cancelled, sequence=self.sequence + 1)

    def rescheduled(self, event: CloudEvent[Any]) -> RitualPlan:
        """The plan after the same ritual is scheduled again: its cancelled occurrences stay
        cancelled (a schedule run again, e.g. to fix a title, does not bring them back)."""
        plan = plan_ritual(event)
        return replace(plan, cancelled=self.cancelled, sequence=self.sequence + 1)

    def cancelled_by(self, event: CloudEvent[Any]) -> RitualPlan:
        """The plan after a ``ritual.cancelled`` event (one occurrence or the series)."""
        payload: RitualCancelled = event.data
        return replace(self.cancel(payload.occurrence_start), changed_by=event)


def plan_ritual(event: CloudEvent[Any]) -> RitualPlan:
    """The plan of a ``ritual.scheduled`` event; RecurrenceError (a ValueError) saying why when
    its rule is not one a ritual may have."""
    payload: RitualScheduled = event.data
    recurrence = parse_recurrence(payload.rrule, payload.first_start, payload.timezone)
    return RitualPlan(scheduled=event, recurrence=recurrence)


def occurrences_between(plan: RitualPlan, after: datetime, until: datetime) -> Iterator[datetime]:
    """UTC starts of the occurrences with ``after < start <= until``, cancelled ones included;
    RecurrenceError when the window holds more than the bound allows."""
    yield from plan.recurrence.occurrences_between(after, until)


def reminders_due(plan: RitualPlan, now: datetime) -> list[datetime]:
    """Occurrences whose reminder moment has come and that have not started yet at ``now``:
    ``start - remind_before <= now < start``; none for a cancelled series or occurrence, nor for
    a rule whose window exceeds the bound (a validated rule never does: at most daily, and a
    reminder at most a week ahead)."""
    if plan.series_cancelled:
        return []
    try:
        starts = plan.recurrence.occurrences_between(now, now + plan.remind_before)
    except RecurrenceError:
        return []
    return [start for start in starts if start not in plan.cancelled]


def next_occurrence(plan: RitualPlan, after: datetime) -> datetime | None:
    """The first occurrence after ``after`` that is not cancelled, looking a year ahead."""
    try:
        starts = plan.recurrence.occurrences_between(after, after + FIRST_OCCURRENCE_HORIZON)
    except RecurrenceError:
        return None
    return next((start for start in starts if start not in plan.cancelled), None)
