"""An onboarding from join to completion: retries, reassignment, check-ins, leaving, replay."""

from __future__ import annotations

import weakref
from datetime import UTC, date, datetime, time, timedelta
from unittest.mock import patch

from schemas.members import MemberErased, MemberJoined
from schemas.onboarding import (
    BuddyAssigned,
    BuddyReassigned,
    BuddyUnavailable,
    CheckinDue,
    CheckinScheduled,
    OnboardingCompleted,
)
from services.common.collector import collector_paused
from services.common.processing import Ledger
from services.onboarding.domain.planner import Decision
from services.onboarding.domain.policy import BuddyPolicy, CheckinPoint
from services.onboarding.handlers import OnboardingProcessor
from tests.factories import event
from tests.unit.onboarding.world import SOURCE, START, T0, World, colleague, new_hire, only

AFTER_THE_LAST_CHECKIN = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


def onboarded(policy: BuddyPolicy | None = None) -> World:
    """A new hire 'n' with buddy 'ada' and a spare colleague 'bob'."""
    world = World(policy)
    world.join_all(
        colleague("ada", buddy_volunteer=True, team="Platform"),
        colleague("bob", department="Sales", team="EMEA"),
    )
    world.join(new_hire("n"))
    assert world.buddy_of("n") == "ada"
    return world


# Waiting for a buddy ---------------------------------------------------------------------------


def test_a_waiting_new_hire_gets_a_buddy_when_a_volunteer_joins() -> None:
    world = World()
    assert only(world.join(new_hire("n")), BuddyUnavailable)

    outputs = world.join(colleague("ada", buddy_volunteer=True))

    assert [(a.new_hire_id, a.buddy_id) for a in only(outputs, BuddyAssigned)] == [("n", "ada")]
    assert len(only(outputs, CheckinScheduled)) == 6
    assert "n" not in world.state.waiting


def test_a_waiting_new_hire_gets_a_buddy_when_someone_returns_from_a_pause() -> None:
    world = World()
    world.join(colleague("ada"))
    world.pause("ada")
    world.join(new_hire("n"))
    assert world.buddy_of("n") is None

    assert [a.buddy_id for a in only(world.resume("ada"), BuddyAssigned)] == ["ada"]


def test_a_waiting_new_hire_gets_a_buddy_when_a_profile_makes_someone_eligible() -> None:
    world = World()
    world.join(colleague("pierre", languages=("fr",)))
    world.join(new_hire("n"))

    outputs = world.update(colleague("pierre", languages=("fr", "en")))

    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["pierre"]


def test_a_change_that_makes_nobody_eligible_publishes_nothing() -> None:
    world = World()
    world.join(new_hire("n"))
    assert world.join(colleague("pierre", languages=("fr",))) == []
    assert world.join(colleague("ada", start_date=T0.date())) == []
    assert world.state.waiting.keys() == {"n"}


def test_a_pause_ending_on_its_date_is_noticed_at_the_first_tick_of_that_day() -> None:
    world = World()
    world.join(colleague("ada"))
    world.pause("ada", until=T0.date() + timedelta(days=2))
    world.join(new_hire("n"))

    assert world.tick(T0 + timedelta(hours=1)) == []  # same day: nothing changed
    assert world.tick(T0 + timedelta(days=1)) == []  # still paused
    outputs = world.tick(T0 + timedelta(days=2))

    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["ada"]


def test_several_waiting_new_hires_are_retried_in_one_decision_within_the_cap() -> None:
    world = World(BuddyPolicy(max_active_buddies=2))
    for new_hire_id in ("n1", "n2", "n3"):
        world.join(new_hire(new_hire_id))

    outputs = world.join(colleague("ada", buddy_volunteer=True))

    assert [a.new_hire_id for a in only(outputs, BuddyAssigned)] == ["n1", "n2"]  # first come
    assert world.state.active("ada") == 2
    assert world.state.waiting.keys() == {"n3"}


def test_a_decision_is_freed_as_soon_as_it_is_dropped() -> None:
    """A decision must not wait for the cyclic collector: a rebuild makes one for every member
    event, and the collector pays for each one it must find."""
    world = World()
    world.join(colleague("ada", buddy_volunteer=True))
    world.join(new_hire("n1"))
    decisions: list[weakref.ref[Decision]] = []
    made = OnboardingProcessor._decision

    def watched(processor: OnboardingProcessor, org_id: str, today: date) -> Decision:
        decision = made(processor, org_id, today)
        decisions.append(weakref.ref(decision))
        return decision

    with collector_paused(), patch.object(OnboardingProcessor, "_decision", watched):
        assert [a.buddy_id for a in only(world.join(new_hire("n2")), BuddyAssigned)] == ["ada"]
        assert decisions, "the join was decided"
        assert all(decision() is None for decision in decisions)


def test_a_completed_onboarding_gives_its_buddy_room_for_a_waiting_new_hire() -> None:
    world = onboarded(BuddyPolicy(max_active_buddies=1, volunteers_only=True))
    world.join(new_hire("m"))
    assert world.buddy_of("m") is None

    outputs = world.leave("n")

    assert [type(o) for o in outputs][:1] == [OnboardingCompleted]
    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["ada"]


def test_an_erased_new_hire_ends_their_onboarding_like_one_who_left() -> None:
    world = onboarded(BuddyPolicy(max_active_buddies=1, volunteers_only=True))
    world.join(new_hire("m"))

    outputs = world.send(MemberErased(member_id="n"))

    assert [type(o) for o in outputs][:1] == [OnboardingCompleted]
    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["ada"]


# Reassignment ----------------------------------------------------------------------------------


def test_a_buddy_who_pauses_is_replaced_and_the_reason_says_why() -> None:
    world = onboarded()

    outputs = world.pause("ada")

    (reassigned,) = only(outputs, BuddyReassigned)
    assert (reassigned.previous_buddy_id, reassigned.buddy_id) == ("ada", "bob")
    assert reassigned.reason == "the previous buddy is taking a break"
    assert reassigned.reasons
    assert world.state.active("ada") == 0
    assert world.state.active("bob") == 1


def test_the_rest_of_the_rhythm_is_planned_again_with_the_new_buddy() -> None:
    world = onboarded()
    world.tick(datetime(2025, 3, 18, 12, 0, tzinfo=UTC))  # day 1 and week 1 are due

    outputs = world.opt_out("ada")

    assert only(outputs, BuddyReassigned)[0].reason == (
        "the previous buddy no longer takes part in the programme"
    )
    replanned = only(outputs, CheckinScheduled)
    assert [c.checkin_id for c in replanned] == ["week-2", "week-4", "week-8", "week-12"]
    assert {c.buddy_id for c in replanned} == {"bob"}
    original = {c.checkin_id: c.due_at for c in world.outputs(CheckinScheduled)}
    assert all(c.due_at == original[c.checkin_id] for c in replanned)  # same moments
    due = only(world.tick(datetime(2025, 3, 24, 12, 0, tzinfo=UTC)), CheckinDue)
    assert [(c.checkin_id, c.buddy_id) for c in due] == [("week-2", "bob")]


def test_a_buddy_who_leaves_is_replaced() -> None:
    world = onboarded()
    (reassigned,) = only(world.leave("ada"), BuddyReassigned)
    assert reassigned.reason == "the previous buddy left the organisation"


def test_without_a_replacement_the_new_hire_waits_and_gets_one_later() -> None:
    world = onboarded(BuddyPolicy(volunteers_only=True))

    (unavailable,) = only(world.leave("ada"), BuddyUnavailable)
    assert unavailable.reason.startswith("The previous buddy left the organisation. No eligible")
    assert world.state.active("ada") == 0
    assert world.tick(datetime(2025, 3, 10, 12, 0, tzinfo=UTC)) == []  # day 1 waits for a buddy

    outputs = world.join(colleague("cleo", buddy_volunteer=True))

    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["cleo"]
    assert {c.buddy_id for c in only(outputs, CheckinScheduled)} == {"cleo"}
    due = only(world.tick(datetime(2025, 3, 10, 13, 0, tzinfo=UTC)), CheckinDue)
    assert [(c.checkin_id, c.buddy_id) for c in due] == [("day-1", "cleo")]


def test_a_buddy_who_becomes_part_of_the_reporting_line_is_replaced() -> None:
    world = onboarded()

    outputs = world.update(new_hire("n", manager_id="ada"))

    (reassigned,) = only(outputs, BuddyReassigned)
    assert reassigned.reason == "the previous buddy is now in the new hire's reporting line"
    assert reassigned.buddy_id == "bob"


def test_a_reorganisation_higher_up_is_noticed_too() -> None:
    world = World()
    world.join_all(
        colleague("ada", buddy_volunteer=True),
        colleague("lead", department="Sales", team="EMEA"),
        colleague("cleo", department="Sales", team="EMEA"),
    )
    world.join(new_hire("n", manager_id="lead"))
    assert world.buddy_of("n") == "ada"

    outputs = world.update(colleague("lead", department="Sales", team="EMEA", manager_id="ada"))

    assert [r.buddy_id for r in only(outputs, BuddyReassigned)] == ["cleo"]


# Check-ins -------------------------------------------------------------------------------------


def test_checkins_come_due_when_the_clock_passes_them_and_then_onboarding_completes() -> None:
    world = onboarded()
    scheduled = world.outputs(CheckinScheduled)

    assert world.tick(scheduled[0].due_at - timedelta(minutes=1)) == []
    first = world.tick(scheduled[0].due_at)
    assert [(c.checkin_id, c.buddy_id, c.due_at) for c in only(first, CheckinDue)] == [
        ("day-1", "ada", scheduled[0].due_at)
    ]
    assert world.tick(scheduled[0].due_at + timedelta(hours=1)) == []  # never twice

    rest = world.tick(AFTER_THE_LAST_CHECKIN)

    assert [c.checkin_id for c in only(rest, CheckinDue)] == [
        "week-1",
        "week-2",
        "week-4",
        "week-8",
        "week-12",
    ]
    (completed,) = only(rest, OnboardingCompleted)
    assert (completed.checkins, completed.ended_early) == (6, False)
    assert isinstance(rest[-1], OnboardingCompleted)  # after the last check-in
    assert world.state.active("ada") == 0
    assert world.advance(timedelta(days=30)) == []


def test_a_tick_dated_before_the_plan_does_not_decide_about_it() -> None:
    """Clock and members are separate topics: a tick may be read after a later join."""
    world = World()
    world.join(colleague("ada"))
    joined_at = datetime.combine(START, time(12, 0), UTC)  # day 1, after its 09:00 check-in
    (day_one, *_) = only(world.join(new_hire("n"), at=joined_at), CheckinScheduled)
    assert day_one.due_at < joined_at

    assert world.tick(joined_at - timedelta(hours=1)) == []  # read late: too early to decide
    (due,) = only(world.tick(joined_at), CheckinDue)
    assert (due.checkin_id, due.due_at) == ("day-1", day_one.due_at)


def test_a_checkin_is_due_inside_the_new_hires_working_hours_in_their_time_zone() -> None:
    world = World()
    world.join(colleague("ada", timezone="America/New_York"))
    scheduled = only(
        world.join(new_hire("n", timezone="America/New_York", start_date=START)),
        CheckinScheduled,
    )
    # 10:00 in New York: 14:00 UTC in March (summer time), day 1 is Monday 10 March.
    assert scheduled[0].due_at == datetime(2025, 3, 10, 14, 0, tzinfo=UTC)


def test_a_checkin_on_a_day_off_moves_to_the_next_working_day() -> None:
    policy = BuddyPolicy(checkin_rhythm=(CheckinPoint(label="day 6", after_days=5),))
    world = World(policy)
    world.join(colleague("ada"))
    (scheduled,) = only(world.join(new_hire("n")), CheckinScheduled)
    assert scheduled.due_at == datetime(2025, 3, 17, 9, 0, tzinfo=UTC)  # Saturday -> Monday


def test_checkins_wait_while_the_new_hire_is_paused() -> None:
    world = onboarded()
    world.pause("n")
    assert world.tick(datetime(2025, 3, 11, 12, 0, tzinfo=UTC)) == []

    world.resume("n")
    due = only(world.tick(datetime(2025, 3, 11, 13, 0, tzinfo=UTC)), CheckinDue)

    assert [c.checkin_id for c in due] == ["day-1"]


def test_a_custom_rhythm_is_followed() -> None:
    policy = BuddyPolicy(
        checkin_rhythm=(
            CheckinPoint(label="first morning", after_days=0),
            CheckinPoint(label="month 1", after_days=30),
        )
    )
    world = onboarded(policy)
    assert [c.checkin_id for c in world.outputs(CheckinScheduled)] == ["first-morning", "month-1"]
    assert only(world.tick(AFTER_THE_LAST_CHECKIN), OnboardingCompleted)[0].checkins == 2


# Leaving, repeating, replaying -----------------------------------------------------------------


def test_a_new_hire_who_leaves_ends_onboarding_cleanly() -> None:
    world = onboarded()
    world.tick(datetime(2025, 3, 10, 12, 0, tzinfo=UTC))

    outputs = world.leave("n")

    assert outputs == [OnboardingCompleted(new_hire_id="n", checkins=1, ended_early=True)]
    assert world.state.active("ada") == 0
    assert world.state.pending == []
    assert world.tick(AFTER_THE_LAST_CHECKIN) == []


def test_a_new_hire_who_opts_out_before_having_a_buddy_stops_waiting() -> None:
    world = World()
    world.join(new_hire("n"))
    assert world.opt_out("n") == [
        OnboardingCompleted(new_hire_id="n", checkins=0, ended_early=True)
    ]
    assert world.join(colleague("ada")) == []


def test_a_repeated_join_does_not_start_a_second_onboarding() -> None:
    world = onboarded()
    assert world.join(new_hire("n")) == []  # another join event, same person
    assert len(world.outputs(BuddyAssigned)) == 1


def test_someone_who_comes_back_is_onboarded_again_with_their_own_checkin_ids() -> None:
    world = onboarded()
    world.leave("n")

    outputs = world.join(new_hire("n", start_date=START + timedelta(days=14)))

    assert only(outputs, BuddyAssigned)
    assert only(outputs, CheckinScheduled)[0].checkin_id == "day-1.2"


def test_a_redelivered_event_has_no_second_effect() -> None:
    world = World()
    world.join(colleague("ada"))
    joined = event(MemberJoined.model_validate(new_hire("n")), time=T0)
    assert world.handle(joined)
    assert world.handle(joined) == []
    assert len(world.outputs(BuddyAssigned)) == 1


def test_a_rebuild_from_the_log_reaches_the_same_state_and_decides_nothing_again() -> None:
    world = onboarded()
    world.pause("ada")
    world.tick(datetime(2025, 3, 20, 12, 0, tzinfo=UTC))

    rebuilt = OnboardingProcessor()
    ledger = Ledger(rebuilt, SOURCE)
    for logged in world.log:
        ledger.note_outputs(logged)
    replayed = [output for logged in world.log for output in ledger.handle(logged)]

    assert replayed == []
    assert rebuilt.book.of(world.org) == world.state


def test_the_same_history_makes_the_same_decisions_with_the_same_ids() -> None:
    world = onboarded()
    world.pause("ada")
    world.tick(AFTER_THE_LAST_CHECKIN)
    decided = [(e.id, e.data) for e in world.log if e.source == SOURCE]

    again = World()
    for input_event in [e for e in world.log if e.source != SOURCE]:
        again.handle(input_event)

    assert len(decided) > 10
    assert [(e.id, e.data) for e in again.log if e.source == SOURCE] == decided
