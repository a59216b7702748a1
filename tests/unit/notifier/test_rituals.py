"""Ritual occurrences in the ritual's zone and the reminders they need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import CloudEvent
from schemas.rituals import RitualScheduled
from services.notifier.domain.rituals import occurrences_between, plan_ritual, reminders_due
from tests.factories import event, sample_payload


def scheduled(**overrides: Any) -> CloudEvent[Any]:
    return event(sample_payload(RitualScheduled, **overrides))


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_weekly_occurrences_keep_their_local_time_across_a_daylight_saving_change() -> None:
    # Friday drinks at 16:30 Amsterdam: 15:30 UTC in March (winter), 14:30 UTC in April.
    plan = plan_ritual(scheduled())
    starts = list(occurrences_between(plan, utc(2025, 3, 20), utc(2025, 4, 5)))
    assert starts == [utc(2025, 3, 21, 15, 30), utc(2025, 3, 28, 15, 30), utc(2025, 4, 4, 14, 30)]


def test_a_reminder_is_due_from_its_moment_until_the_occurrence_starts() -> None:
    plan = plan_ritual(scheduled(remind_minutes_before=60))
    start = utc(2025, 3, 7, 15, 30)
    assert reminders_due(plan, start - timedelta(minutes=61)) == []
    assert reminders_due(plan, start - timedelta(minutes=60)) == [start]
    assert reminders_due(plan, start - timedelta(seconds=1)) == [start]
    assert reminders_due(plan, start) == []


def test_nothing_is_due_before_the_first_occurrence_of_the_series() -> None:
    plan = plan_ritual(scheduled())
    assert reminders_due(plan, utc(2025, 2, 28, 15, 0)) == []


def test_a_cancelled_occurrence_or_series_gets_no_reminder() -> None:
    plan = plan_ritual(scheduled())
    moment = utc(2025, 3, 14, 15, 0)
    assert reminders_due(plan.cancel(utc(2025, 3, 14, 15, 30)), moment) == []
    assert reminders_due(plan.cancel(utc(2025, 3, 21, 15, 30)), moment) == [
        utc(2025, 3, 14, 15, 30)
    ]
    assert reminders_due(plan.cancel(None), moment) == []


def test_a_rule_firing_very_often_is_scanned_only_so_far() -> None:
    plan = plan_ritual(scheduled(rrule="FREQ=SECONDLY", remind_minutes_before=10080))
    assert len(reminders_due(plan, utc(2025, 3, 8))) <= 10_000


def test_an_unreadable_rule_is_refused() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (dateutil's messages vary)
        plan_ritual(scheduled(rrule="FREQ=SOMETIMES"))
