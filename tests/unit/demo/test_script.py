"""The demo's script: what is due by a moment, and no feedback from someone who left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.coffee import CoffeeFeedbackGiven
from schemas.members import MemberLeft
from services.demo.script import Scripted, take_due
from tests.factories import sample_payload

MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)


def feedback(member_id: str, at: datetime) -> Scripted:
    return Scripted(at, sample_payload(CoffeeFeedbackGiven, member_id=member_id), "g-1")


def leaving(member_id: str, at: datetime) -> Scripted:
    return Scripted(at, sample_payload(MemberLeft, member_id=member_id), member_id)


def test_what_is_due_comes_in_time_order_and_the_rest_waits() -> None:
    later, earlier, tomorrow = (
        feedback("m-1", MONDAY),
        feedback("m-2", MONDAY - timedelta(hours=1)),
        feedback("m-3", MONDAY + timedelta(days=1)),
    )

    due, pending = take_due([later, tomorrow, earlier], MONDAY, set())

    assert due == [earlier, later]
    assert pending == [tomorrow]


def test_someone_who_left_gives_no_feedback_afterwards() -> None:
    departed: set[str] = set()
    gone = leaving("m-1", MONDAY)
    stayed = feedback("m-2", MONDAY + timedelta(days=2))

    first, _ = take_due([gone], MONDAY, departed)
    later, _ = take_due(
        [feedback("m-1", MONDAY + timedelta(days=2)), stayed], MONDAY + timedelta(days=2), departed
    )

    assert first == [gone]
    assert departed == {"m-1"}
    assert later == [stayed]
