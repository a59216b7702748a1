"""The buddy policy, rule by rule: who is eligible, who is preferred, how the load is shared."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from schemas.onboarding import BuddyAssigned, BuddyUnavailable, CheckinScheduled
from services.onboarding.domain.policy import BuddyPolicy
from tests.unit.onboarding.world import START, T0, World, colleague, new_hire, only


def assigned_buddy(world: World, new_hire_id: str = "n") -> str | None:
    outputs = world.join(new_hire(new_hire_id))
    (decision,) = [o for o in outputs if isinstance(o, BuddyAssigned | BuddyUnavailable)]
    return decision.buddy_id if isinstance(decision, BuddyAssigned) else None


# Eligibility ----------------------------------------------------------------------------------


def test_an_established_colleague_becomes_the_buddy_with_the_reasons_in_plain_words() -> None:
    world = World()
    world.join(colleague("ada", buddy_volunteer=True, team="Platform", office="Amsterdam"))

    outputs = world.join(new_hire("n", office="Amsterdam"))

    (assignment,) = only(outputs, BuddyAssigned)
    assert assignment.buddy_id == "ada"
    assert assignment.reasons == (
        "volunteered to be a buddy",
        "same department (Engineering), different team (Platform)",
        "both at the Amsterdam office on Tuesday and Thursday",
        "works 09:00 to 17:30 (Europe/Amsterdam), up to 8 h 30 min a day in common",
        "speaks the same language (en, nl)",
        "in the organisation for 2 years",
        "looks after no other new hire at the moment",
    )
    assert all("@" not in reason for reason in assignment.reasons)  # never an e-mail address


def test_nobody_with_less_than_the_minimum_tenure_is_a_buddy() -> None:
    world = World()
    world.join(colleague("recent", start_date=T0.date() - timedelta(days=150)))

    assert assigned_buddy(world) is None
    (unavailable,) = world.outputs(BuddyUnavailable)
    assert "at least 6 months" in unavailable.reason


def test_the_minimum_tenure_is_configurable() -> None:
    world = World(BuddyPolicy(min_tenure_months=4))
    world.join(colleague("recent", start_date=T0.date() - timedelta(days=150)))
    assert assigned_buddy(world) == "recent"


def _reporting_line(world: World, volunteer: str | None = None) -> None:
    """boss > lead > n (the new hire) > report > junior; only ``volunteer`` volunteers."""
    for member_id, manager_id in [("boss", None), ("lead", "boss"), ("report", "n")]:
        world.join(
            colleague(member_id, manager_id=manager_id, buddy_volunteer=volunteer == member_id)
        )
    world.join(colleague("junior", manager_id="report", buddy_volunteer=volunteer == "junior"))


def test_the_reporting_line_is_passed_over_for_someone_outside_it() -> None:
    world = World()
    _reporting_line(world)
    world.join(colleague("outsider", department="Sales", team="EMEA"))
    outputs = world.join(new_hire("n", manager_id="lead"))
    assert [a.buddy_id for a in only(outputs, BuddyAssigned)] == ["outsider"]


@pytest.mark.parametrize("relation", ["lead", "boss", "report", "junior"])
def test_nobody_in_the_new_hires_reporting_line_is_a_buddy(relation: str) -> None:
    """Manager, manager's manager, a report, a report's report: even a volunteer among them."""
    world = World()
    _reporting_line(world, volunteer=relation)
    outputs = world.join(new_hire("n", manager_id="lead"))
    assert only(outputs, BuddyAssigned) == []


def test_the_manager_chain_is_followed_from_the_new_hire_profile() -> None:
    world = World()
    world.join_all(colleague("boss", buddy_volunteer=True), colleague("lead", manager_id="boss"))
    outputs = world.join(new_hire("n", manager_id="lead"))
    assert only(outputs, BuddyAssigned) == []
    (unavailable,) = only(outputs, BuddyUnavailable)
    assert "none of them are outside the new hire's reporting line" in unavailable.reason


@pytest.mark.parametrize("step", ["paused", "opted_out", "left"])
def test_members_who_do_not_take_part_are_never_buddies(step: str) -> None:
    world = World()
    world.join(colleague("ada", buddy_volunteer=True))
    {"paused": world.pause, "opted_out": world.opt_out, "left": world.leave}[step]("ada")
    assert assigned_buddy(world) is None


def test_a_pause_that_has_ended_by_its_date_does_not_count() -> None:
    world = World()
    world.join(colleague("ada"))
    world.pause("ada", until=T0.date())
    assert assigned_buddy(world) == "ada"


def test_a_buddy_shares_a_language_with_the_new_hire() -> None:
    world = World()
    world.join_all(colleague("pierre", languages=("fr",)), colleague("grace", languages=("en-GB",)))
    assert assigned_buddy(world) == "grace"  # en-GB and en share English


@pytest.mark.parametrize(
    ("timezone", "min_hours", "eligible"),
    [
        # The start week (10 March 2025): New York is on summer time already, Amsterdam not
        # yet, so 13:00-16:30 UTC is in common.
        ("America/New_York", 3.5, True),
        ("America/New_York", 4.0, False),
        ("Asia/Tokyo", 2.0, False),  # Tokyo's day ends as Amsterdam's begins
        ("Europe/London", 7.5, True),  # 09:00-16:30 UTC
        ("Europe/London", 8.0, False),
    ],
)
def test_working_hours_overlap_by_the_minimum(
    timezone: str, min_hours: float, eligible: bool
) -> None:
    world = World(BuddyPolicy(min_overlap_hours=min_hours))
    world.join(
        colleague("far", timezone=timezone, working_hours={"start": "09:00", "end": "17:00"})
    )
    assert (assigned_buddy(world) == "far") is eligible


def test_working_days_count_for_the_overlap() -> None:
    world = World()
    world.join(
        colleague("weekend", working_hours={"start": "09:00", "end": "17:00", "days": ["sat"]})
    )
    assert assigned_buddy(world) is None


def test_a_new_hire_being_onboarded_is_nobodys_buddy_even_with_tenure() -> None:
    world = World(BuddyPolicy(min_tenure_months=0))
    world.join(new_hire("first"))
    assert assigned_buddy(world, "second") is None


def test_volunteers_only_leaves_out_everyone_else() -> None:
    world = World(BuddyPolicy(volunteers_only=True))
    world.join(colleague("willing-not"))
    assert assigned_buddy(world) is None
    (unavailable,) = world.outputs(BuddyUnavailable)
    assert "none of them volunteered to be a buddy" in unavailable.reason


def test_the_unavailable_reason_narrows_down_in_plain_words() -> None:
    world = World()
    world.join_all(
        colleague("a"),
        colleague("b", languages=("fr",)),
        colleague("c", start_date=T0.date() - timedelta(days=10)),
        colleague("d", timezone="Asia/Tokyo"),
    )
    world.leave("a")
    assert assigned_buddy(world) is None
    (unavailable,) = world.outputs(BuddyUnavailable)
    assert unavailable.reason == (
        "No eligible buddy yet: 3 colleagues take part in the programme now, "
        "2 of them share a language with the new hire, "
        "1 of them has been in the organisation for at least 6 months, "
        "1 of them is outside the new hire's reporting line and not a new hire too "
        "and none of them share at least 2 h of working time a day with the new hire."
    )


def test_with_nobody_else_the_reason_says_so() -> None:
    world = World()
    assert assigned_buddy(world) is None
    (unavailable,) = world.outputs(BuddyUnavailable)
    assert unavailable.reason == (
        "No eligible buddy yet: nobody else takes part in the programme right now."
    )


# Preferences -----------------------------------------------------------------------------------


def test_a_volunteer_is_preferred_to_anyone_else() -> None:
    world = World()
    world.join_all(
        colleague("close", team="Platform", office_days=("tue",)),
        colleague("willing", department="Sales", team="EMEA", office_days=(), buddy_volunteer=True),
    )
    assert assigned_buddy(world) == "willing"


def test_same_department_and_another_team_is_preferred() -> None:
    world = World()
    world.join_all(
        colleague("same-team", team="Data"),
        colleague("elsewhere", department="Sales", team="EMEA"),
        colleague("neighbour", team="Platform", office_days=()),
    )
    assert assigned_buddy(world) == "neighbour"


def test_an_office_day_in_common_is_preferred_when_the_rest_is_equal() -> None:
    world = World()
    world.join_all(
        colleague("remote", department="Sales", team="EMEA", office_days=()),
        colleague("thursdays", department="Sales", team="EMEA", office_days=("thu",)),
    )
    assert assigned_buddy(world) == "thursdays"


@pytest.mark.parametrize("office", ["Amsterdam", "Berlin"])
def test_an_office_day_is_in_common_only_in_the_same_office(office: str) -> None:
    world = World()
    for city in ("Amsterdam", "Berlin"):
        world.join(
            colleague(
                city.lower(), department="Sales", team="EMEA", office=city, office_days=("fri",)
            )
        )
    outputs = world.join(new_hire("n", office=office, office_days=("fri",)))
    (assignment,) = only(outputs, BuddyAssigned)
    assert assignment.buddy_id == office.lower()
    assert f"both at the {office} office on Friday" in assignment.reasons


# Load and fairness -----------------------------------------------------------------------------


def test_nobody_looks_after_more_new_hires_than_the_cap() -> None:
    world = World(BuddyPolicy(max_active_buddies=2))
    world.join(colleague("only", buddy_volunteer=True))
    buddies = [assigned_buddy(world, f"n{i}") for i in range(3)]
    assert buddies == ["only", "only", None]
    (unavailable,) = world.outputs(BuddyUnavailable)
    assert "none of them look after fewer than 2 new hires already" in unavailable.reason


def test_the_cap_is_configurable() -> None:
    world = World(BuddyPolicy(max_active_buddies=1))
    world.join_all(colleague("a", buddy_volunteer=True), colleague("b", department="Sales"))
    assert [assigned_buddy(world, f"n{i}") for i in range(2)] == ["a", "b"]


def test_a_search_passes_over_whoever_has_no_room_before_looking_at_them() -> None:
    world = World(BuddyPolicy(max_active_buddies=1))
    world.join_all(colleague("a", buddy_volunteer=True), colleague("b", department="Sales"))
    assert assigned_buddy(world, "n0") == "a"
    decision = world.processor._decision(world.org, START)

    assert decision.without_room(1) == {"a", "n0"}  # full, and being onboarded
    assert decision.without_room(2) == {"n0"}


def test_the_load_is_spread_over_equally_preferred_volunteers() -> None:
    world = World(BuddyPolicy(max_active_buddies=5))
    volunteers = [f"v{i}" for i in range(4)]
    world.join_all(*(colleague(v, buddy_volunteer=True, team="Platform") for v in volunteers))

    buddies = [buddy for i in range(8) if (buddy := assigned_buddy(world, f"n{i}")) is not None]

    assert sorted(buddies) == sorted(volunteers * 2)  # everyone twice before anyone a third time
    assert buddies[:4] != sorted(buddies[:4])  # the tie-break is hashed, not alphabetical


def test_who_was_a_buddy_more_often_is_chosen_later() -> None:
    world = World(BuddyPolicy(max_active_buddies=1))
    world.join_all(colleague("a", buddy_volunteer=True), colleague("b", buddy_volunteer=True))
    first = assigned_buddy(world, "n1")
    assert first is not None
    world.leave("n1")  # the onboarding ends: the first buddy has room again, like the other
    second = assigned_buddy(world, "n2")
    assert second is not None
    assert second != first


def test_the_same_history_gives_the_same_buddies() -> None:
    def run() -> list[str | None]:
        world = World()
        world.join_all(*(colleague(f"c{i}", team=f"T{i % 3}") for i in range(12)))
        return [assigned_buddy(world, f"n{i}") for i in range(6)]

    assert run() == run()


def test_checkins_are_scheduled_with_the_buddy_on_the_default_rhythm() -> None:
    world = World()
    world.join(colleague("ada"))
    scheduled = only(world.join(new_hire("n")), CheckinScheduled)
    assert [(c.checkin_id, c.label) for c in scheduled] == [
        ("day-1", "day 1"),
        ("week-1", "week 1"),
        ("week-2", "week 2"),
        ("week-4", "week 4"),
        ("week-8", "week 8"),
        ("week-12", "week 12"),
    ]
    assert {c.buddy_id for c in scheduled} == {"ada"}
    assert [c.due_at.date() for c in scheduled] == [
        START + timedelta(days=days) for days in (0, 7, 14, 28, 56, 84)
    ]


@pytest.mark.parametrize(
    ("start_date", "flag", "onboarded"),
    [
        (date(2025, 3, 10), False, True),  # a start date ahead is enough
        (date(2025, 3, 10), True, True),
        (date(2025, 2, 3), True, True),  # started a month ago, flagged
        (date(2025, 2, 3), False, False),
        (date(2024, 6, 3), True, False),  # a stale flag: outside the 90-day window
    ],
)
def test_who_gets_onboarded(start_date: date, flag: bool, onboarded: bool) -> None:
    world = World()
    world.join(colleague("ada"))
    outputs = world.join(new_hire("n", start_date=start_date, new_hire=flag))
    assert bool(only(outputs, BuddyAssigned)) is onboarded
