"""The demo's script: what is due by a moment, and no feedback from someone who left."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from schemas.members import MemberJoined, MemberLeft, MemberPaused
from schemas.onboarding import BuddyAssigned
from schemas.pulse import PulseAnswered
from schemas.rituals import RitualHeld
from services.demo.script import (
    DemoShape,
    Scripted,
    answering_evening,
    buddy_pause,
    drifting_members,
    feedback_for,
    script,
    take_due,
)
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


SHAPE = DemoShape()


def test_the_organisation_has_a_far_team_a_team_on_the_other_side_and_remote_drifters() -> None:
    joined = [s.payload for s in script(SHAPE) if isinstance(s.payload, MemberJoined)]
    zones = {team: {m.timezone for m in joined if m.team == team} for team in ("Design", "Support")}
    assert zones == {"Design": {"Asia/Tokyo"}, "Support": {"America/New_York"}}
    drifting = drifting_members(SHAPE)
    assert len(drifting) == SHAPE.drifting
    assert drifting == drifting_members(SHAPE, joined)  # the same either way
    assert all(m.office is None for m in joined if m.member_id in drifting)
    assert not {m.team for m in joined if m.member_id in drifting} & {"Design", "Support", "Sales"}


def test_the_fading_teams_ritual_attendance_falls() -> None:
    held = [s.payload for s in script(SHAPE) if isinstance(s.payload, RitualHeld)]
    sales = [h for h in held if h.ritual_id.startswith("sales-")]
    half = len(sales) // 2
    early = sum(len(h.attendee_ids) for h in sales[:half])
    late = sum(len(h.attendee_ids) for h in sales[half:])
    assert late < early * 0.6


def test_groups_with_a_drifting_member_mostly_do_not_meet() -> None:
    def met_share(drifting: frozenset[str]) -> float:
        groups = [sample_payload(CoffeeMatched, group_id=f"g-{n}") for n in range(400)]
        answers = [feedback_for(g, drifting)[0].payload for g in groups]
        return sum(isinstance(a, CoffeeFeedbackGiven) and a.met for a in answers) / len(answers)

    member = sample_payload(CoffeeMatched).participants[0].member_id
    assert met_share(frozenset()) > 0.75
    assert met_share(frozenset({member})) < 0.45


def test_the_first_buddy_pauses_a_few_days_after_being_assigned() -> None:
    pause = buddy_pause(BuddyAssigned(new_hire_id="m-9", buddy_id="m-1", reasons=()), MONDAY)
    assert pause.at == MONDAY + timedelta(days=3)
    assert isinstance(pause.payload, MemberPaused)
    assert pause.payload.member_id == "m-1"
    assert pause.payload.until is not None
    assert pause.payload.until > pause.at.date()


@pytest.mark.parametrize(
    ("slot", "evening"),
    [
        (datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 8, 23, tzinfo=UTC)),  # Monday
        (datetime(2026, 3, 6, 16, tzinfo=UTC), datetime(2026, 3, 8, 23, tzinfo=UTC)),  # Friday
        (datetime(2026, 3, 7, 23, 30, tzinfo=UTC), datetime(2026, 3, 15, 23, tzinfo=UTC)),
        (datetime(2026, 3, 8, 10, tzinfo=UTC), datetime(2026, 3, 15, 23, tzinfo=UTC)),  # Sunday
    ],
)
def test_people_answer_on_the_sunday_evening_at_least_a_day_after_the_slot(
    slot: datetime, evening: datetime
) -> None:
    assert answering_evening(slot) == evening


def test_nobody_answers_a_pulse_after_leaving() -> None:
    pulse = PulseAnswered(week_starting=date(2026, 3, 2), member_id="m-1", score=4)
    left = Scripted(MONDAY, MemberLeft(member_id="m-1"), "m-1")
    answered = Scripted(MONDAY + timedelta(days=13), pulse, "m-1")
    given, later = take_due([left, answered], MONDAY + timedelta(days=14), set())
    assert [s.payload for s in given] == [left.payload]
    assert later == []
