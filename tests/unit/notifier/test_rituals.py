"""Ritual occurrences in the ritual's zone and the reminders they need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import CloudEvent
from schemas.recurrence import RecurrenceError
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


def slipped_through(**overrides: Any) -> CloudEvent[Any]:
    """A ``ritual.scheduled`` whose payload skipped validation (as if a schema let it pass)."""
    data = {**sample_payload(RitualScheduled).model_dump(), **overrides}
    return scheduled().model_copy(update={"data": RitualScheduled.model_construct(**data)})


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY;INTERVAL=0", "FREQ=SECONDLY", "FREQ=SOMETIMES", "BYMONTH=2;BYMONTHDAY=30"]
)
def test_a_rule_that_slipped_through_is_refused_before_it_is_expanded(rule: str) -> None:
    with pytest.raises(RecurrenceError):
        plan_ritual(slipped_through(rrule=rule))


def test_an_expansion_is_bounded_in_count_and_a_tick_never_spins() -> None:
    plan = plan_ritual(scheduled(rrule="FREQ=DAILY", remind_minutes_before=10080))
    assert len(reminders_due(plan, utc(2025, 3, 8))) == 7
    with pytest.raises(RecurrenceError):
        list(occurrences_between(plan, utc(2025, 3, 8), utc(2030, 3, 8)))


def test_until_in_utc_ends_the_series_as_rfc_5545_says() -> None:
    plan = plan_ritual(scheduled(rrule="FREQ=WEEKLY;BYDAY=FR;UNTIL=20250321T153000Z"))
    starts = list(occurrences_between(plan, utc(2025, 3, 1), utc(2025, 4, 30)))
    assert starts == [utc(2025, 3, 7, 15, 30), utc(2025, 3, 14, 15, 30), utc(2025, 3, 21, 15, 30)]
