"""Invariants of the buddy policy over random organisations and random histories.

Whatever happens (joins, pauses, returns, departures, reorganisations, time passing): a buddy is
never the new hire's manager nor anyone in their reporting line, nobody looks after more new
hires than the cap, a buddy is always someone who takes part, every choice met the eligibility
rules when it was made, and the same history always gives the same decisions, with or without
the candidate index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue, OnboardingCompleted
from services.common.domain.working_hours import WeeklyHours, week_monday
from services.onboarding.domain.candidates import language_family
from services.onboarding.domain.policy import BuddyPolicy
from services.onboarding.domain.working_time import longest_shared_stretch, months_before
from tests.unit.onboarding.world import SOURCE, T0, World, colleague, new_hire

ZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Kolkata", "Asia/Tokyo")
HOURS = ({"start": "09:00", "end": "17:30"}, {"start": "07:00", "end": "15:00"})
LANGUAGES = ("en", "nl", "fr", "en-GB")
TEAMS = (("Engineering", "Platform"), ("Engineering", "Data"), ("Sales", "EMEA"))


@dataclass(frozen=True)
class Scenario:
    policy: BuddyPolicy
    colleagues: tuple[dict[str, Any], ...]
    steps: tuple[tuple[str, int, int], ...]
    """(what, who, with whom / how long) referring to members by position."""


def _person(draw: st.DrawFn, member_id: str, managers: list[str]) -> dict[str, Any]:
    department, team = draw(st.sampled_from(TEAMS))
    return {
        "department": department,
        "team": team,
        "timezone": draw(st.sampled_from(ZONES)),
        "working_hours": draw(st.sampled_from(HOURS)),
        "languages": tuple(
            draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=2, unique=True))
        ),
        "office_days": tuple(draw(st.sets(st.sampled_from(("tue", "thu")), max_size=2))),
        "buddy_volunteer": draw(st.booleans()),
        "manager_id": draw(st.none() | st.sampled_from(managers)) if managers else None,
        "start_date": T0.date() - timedelta(days=draw(st.integers(0, 900))),
    }


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    policy = BuddyPolicy(
        min_tenure_months=draw(st.integers(0, 12)),
        min_overlap_hours=draw(st.sampled_from((0.0, 2.0, 4.0))),
        max_active_buddies=draw(st.integers(1, 3)),
        volunteers_only=draw(st.booleans()),
    )
    size = draw(st.integers(2, 14))
    ids = [f"c{i}" for i in range(size)]
    colleagues = tuple(
        colleague(member_id, **_person(draw, member_id, ids[:index]))
        for index, member_id in enumerate(ids)
    )
    step = st.tuples(
        st.sampled_from(
            (
                "hire",
                "hire",
                "pause",
                "pause_until",
                "resume",
                "leave",
                "opt_out",
                "manager",
                "tick",
            )
        ),
        st.integers(0, size - 1),
        st.integers(0, size - 1),
    )
    steps = tuple(draw(st.lists(step, min_size=1, max_size=25)))
    return Scenario(policy, colleagues, steps)


def play(scenario: Scenario, *, use_index: bool = True) -> World:
    world = World(scenario.policy, use_index=use_index)
    profiles = {p["member_id"]: p for p in scenario.colleagues}
    for profile in scenario.colleagues:
        world.join(profile)
        check_invariants(world)
    hires = 0
    for what, who, other in scenario.steps:
        member_id = f"c{who}"
        world.now += timedelta(hours=3)
        if what == "hire":
            hires += 1
            manager = None if other == who else f"c{other}"
            profile = new_hire(f"n{hires}", manager_id=manager, team=TEAMS[who % 3][1])
            profiles[profile["member_id"]] = profile
            world.join(profile)
        elif what == "pause":
            world.pause(member_id)
        elif what == "pause_until":
            world.pause(member_id, until=world.now.date() + timedelta(days=other))
        elif what == "resume":
            world.resume(member_id)
        elif what == "leave":
            world.leave(member_id)
        elif what == "opt_out":
            world.opt_out(f"n{other % hires + 1}" if hires and other % 2 else member_id)
        elif what == "manager":
            target = f"n{other % hires + 1}" if hires and other % 2 else member_id
            if target in profiles and target != member_id:
                profiles[target] = {**profiles[target], "manager_id": member_id}
                world.update(profiles[target])
        else:
            world.advance(timedelta(days=1 + other * 3))
        check_invariants(world)
    return world


def check_invariants(world: World) -> None:
    processor, org = world.processor, world.org
    cap = processor.policies.for_org(org).max_active_buddies
    candidates = processor.candidates.of(org)
    counted: dict[str, int] = {}
    today = world.now.date()
    for onboarding in world.state.onboardings.values():
        buddy_id = onboarding.buddy_id
        if not onboarding.is_open or buddy_id is None:
            continue
        counted[buddy_id] = counted.get(buddy_id, 0) + 1
        buddy = processor.directory.member(org, buddy_id)
        new_hire_profile = candidates.facts[onboarding.new_hire_id]
        assert buddy is not None, "never an unknown buddy"
        assert buddy.takes_part_on(today), "never an inactive buddy"
        assert buddy_id != new_hire_profile.manager_id, "never the manager"
        assert buddy_id not in candidates.reporting_line(onboarding.new_hire_id)
        assert buddy_id != onboarding.new_hire_id
        assert not world.state.is_onboarding(buddy_id), "a new hire is nobody's buddy"
    assert all(load <= cap for load in counted.values()), "never over the cap"
    assert {b: world.state.active(b) for b in counted} == counted
    loads = {buddy: len(hires) for buddy, hires in world.state.looked_after.items()}
    for load in range(1, cap + 2):  # the index of who is full agrees with a count
        assert world.state.looking_after_at_least(load) == {
            buddy for buddy, looked_after in loads.items() if looked_after >= load
        }


def check_choices_were_eligible(world: World) -> None:
    """Replays the log and checks each choice against the rules at the moment it was made."""
    policy = world.processor.policies.for_org(world.org)
    profiles: dict[str, Any] = {}
    for logged in world.log:
        payload = logged.data
        if hasattr(payload, "email"):
            profiles[payload.member_id] = payload
        if logged.source != SOURCE or not isinstance(payload, BuddyAssigned | BuddyReassigned):
            continue
        buddy, hire = profiles[payload.buddy_id], profiles[payload.new_hire_id]
        today = logged.time.date()
        assert buddy.start_date <= months_before(today, policy.min_tenure_months)
        assert {language_family(t) for t in buddy.languages} & {
            language_family(t) for t in hire.languages
        }
        monday = week_monday(max(today, hire.start_date))
        shared = longest_shared_stretch(WeeklyHours.of(hire), WeeklyHours.of(buddy), monday)
        assert shared >= timedelta(hours=policy.min_overlap_hours)
        assert buddy.buddy_volunteer or not policy.volunteers_only


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenarios())
def test_the_invariants_hold_after_every_event(scenario: Scenario) -> None:
    world = play(scenario)
    check_choices_were_eligible(world)


@PROPERTY_SETTINGS
@given(scenarios())
def test_the_candidate_index_chooses_what_a_full_scan_chooses(scenario: Scenario) -> None:
    indexed, scanned = play(scenario), play(scenario, use_index=False)
    assert [e.data for e in indexed.log] == [e.data for e in scanned.log]


@PROPERTY_SETTINGS
@given(scenarios())
def test_the_same_history_gives_the_same_decisions(scenario: Scenario) -> None:
    first = play(scenario)
    again = World(scenario.policy)
    for logged in first.log:
        if logged.source != SOURCE:
            again.handle(logged)
    assert [(e.id, e.data) for e in again.log] == [(e.id, e.data) for e in first.log]


@PROPERTY_SETTINGS
@given(scenarios())
def test_checkins_come_due_once_never_early_and_complete_after_the_last(scenario: Scenario) -> None:
    world = play(scenario)
    world.advance(timedelta(days=120))
    seen: set[tuple[str, str]] = set()
    completed: set[str] = set()
    for logged in world.log:
        payload = logged.data
        if isinstance(payload, CheckinDue):
            assert payload.due_at <= logged.time
            assert (payload.new_hire_id, payload.checkin_id) not in seen
            assert payload.new_hire_id not in completed
            seen.add((payload.new_hire_id, payload.checkin_id))
        elif isinstance(payload, OnboardingCompleted):
            assert payload.new_hire_id not in completed
            completed.add(payload.new_hire_id)
            if not payload.ended_early:
                due = {c for n, c in seen if n == payload.new_hire_id}
                assert len(due) == payload.checkins
    assert date.min < world.now.date()


@PROPERTY_SETTINGS
@given(scenarios())
def test_a_rebuild_from_the_log_decides_nothing_again_and_reaches_the_same_state(
    scenario: Scenario,
) -> None:
    """As the runtime rebuilds: every event in domain-time order, the service's own outputs after
    the events of the same moment, outputs already in the log not decided again."""
    world = play(scenario)
    positions = {id(logged): index for index, logged in enumerate(world.log)}
    replay_order = sorted(world.log, key=lambda e: (e.time, e.source == SOURCE, positions[id(e)]))
    rebuilt = World(scenario.policy)
    for logged in replay_order:
        rebuilt.ledger.note_outputs(logged)
    for logged in replay_order:
        assert rebuilt.ledger.handle(logged) == []
    assert rebuilt.state == world.state
