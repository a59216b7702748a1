"""What a rebuild folds in: admitted events, first copies, whole decisions, in time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from infra.topics import Topic
from schemas import CloudEvent, new_event
from schemas.onboarding import BuddyUnavailable
from services.common.records import OutgoingRecord, decision_records, event_record
from services.common.replay import replay_plan
from tests.factories import member_joined
from tests.unit.common.log_model import TOPICS, MemoryLog

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SOURCE = "/rituals/onboarding"
ORDER = [TOPICS.name(Topic.MEMBERS), TOPICS.name(Topic.ONBOARDING)]


def _joined(member_id: str, at: datetime = T0, **envelope: Any) -> CloudEvent[Any]:
    event = new_event(member_joined(member_id), source="/tests", orgid="acme", time=at)
    return event.model_copy(update=envelope)


def _answers(cause: CloudEvent[Any], count: int) -> list[CloudEvent[Any]]:
    return [
        new_event(
            BuddyUnavailable(new_hire_id=f"{cause.data.member_id}-{n}", reason="test"),
            source=SOURCE,
            orgid="acme",
            time=cause.time,
            cause=cause,
            output_index=n,
        )
        for n in range(count)
    ]


def test_the_first_copy_of_an_id_in_the_log_wins_even_when_a_later_copy_is_earlier_in_time() -> (
    None
):
    first = _joined("alice", at=T0 + timedelta(hours=1))
    second = _joined("mallory", at=T0, id=first.id)
    log = MemoryLog()
    log.append(event_record(first, TOPICS))
    log.append(event_record(second, TOPICS))

    plan = replay_plan(log.history(), TOPICS, ORDER, SOURCE)

    assert [event.data.member_id for event in plan.events] == ["alice"]
    assert plan.later_copies == 1


def test_outputs_of_a_decision_cut_short_are_left_out_and_whole_ones_kept() -> None:
    whole_cause, cut_cause = _joined("a"), _joined("b")
    whole, cut = _answers(whole_cause, 3), _answers(cut_cause, 3)
    log = MemoryLog()
    for record in [
        event_record(whole_cause, TOPICS),
        *decision_records(whole, TOPICS),
        event_record(cut_cause, TOPICS),
        *decision_records(cut, TOPICS)[:2],
    ]:
        log.append(record)

    plan = replay_plan(log.history(), TOPICS, ORDER, SOURCE)

    assert [event.id for event in plan.events] == [whole_cause.id, cut_cause.id] + [
        output.id for output in whole
    ]
    assert plan.unfinished == 1


def test_outputs_written_without_a_decision_mark_count_as_whole() -> None:
    cause = _joined("a")
    (answer,) = _answers(cause, 1)
    log = MemoryLog()
    log.append(event_record(cause, TOPICS))
    log.append(event_record(answer, TOPICS))  # as written before decisions were marked

    plan = replay_plan(log.history(), TOPICS, ORDER, SOURCE)

    assert plan.unfinished == 0
    assert answer.id in {event.id for event in plan.events}


def test_refused_records_are_left_out_and_counted() -> None:
    good = _joined("a")
    log = MemoryLog()
    log.append(OutgoingRecord(ORDER[0], b"acme", b"[" * 50_000 + b"]" * 50_000, ()))
    log.append(event_record(good, TOPICS))
    log.append(OutgoingRecord(ORDER[0], b"acme", b"\xff\xfe", ()))

    plan = replay_plan(log.history(), TOPICS, ORDER, SOURCE)

    assert [event.id for event in plan.events] == [good.id]
    assert len(plan.refused) == 2
