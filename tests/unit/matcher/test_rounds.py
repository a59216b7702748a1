"""Coffee rounds decided by the matcher's processor, event in, events out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeRoundRequested
from schemas.members import MemberLeft, MemberOptedOut, MemberPaused
from schemas.onboarding import BuddyAssigned
from services.matcher.domain.policy import Cadence, CoffeePolicy
from services.matcher.domain.rounds import REPEAT_REASON
from tests.factories import member_joined
from tests.unit.matcher.support import (
    WEEK,
    Matcher,
    completed,
    groups,
    members_of,
    unmatched,
)

NEW_YORK = {"timezone": "America/New_York"}
KOLKATA = {"timezone": "Asia/Kolkata"}


def test_a_pair_gets_reasons_a_mode_a_slot_and_a_starter() -> None:
    matcher = Matcher()
    matcher.join(
        "ada",
        team="Sales",
        department="Commercial",
        interests=("cycling",),
        office="Amsterdam",
        office_days=("tue",),
    )
    matcher.join(
        "bob",
        team="Platform",
        interests=("cycling", "chess"),
        office="Amsterdam",
        office_days=("tue", "thu"),
    )
    (group,) = groups(matcher.round())

    assert {p.member_id for p in group.participants} == {"ada", "bob"}
    assert group.mode == "in_person"
    assert group.office == "Amsterdam"
    assert group.slot_start.weekday() == 1  # Tuesday, the shared office day
    assert "different teams: Sales and Platform across Commercial and Engineering" in group.reasons
    assert "first coffee together" in group.reasons
    assert "both like cycling" in group.reasons
    assert "both at the Amsterdam office on Tuesday" in group.reasons
    assert "cycling" in group.conversation_starter
    local = {p.member_id: p.local_start for p in group.participants}
    assert local["ada"].endswith("+01:00")  # Amsterdam in winter


def test_the_slot_is_inside_everyones_working_hours_in_local_time() -> None:
    matcher = Matcher()
    matcher.join("ada", team="Sales")
    matcher.join("bob", team="Platform", **NEW_YORK)
    (group,) = groups(matcher.round())

    assert group.mode == "video"
    for participant in group.participants:
        local = datetime.fromisoformat(participant.local_start)
        start_minutes = local.hour * 60 + local.minute
        assert 9 * 60 <= start_minutes <= 17 * 60 + 30 - group.slot_minutes
        assert local.weekday() < 5
    assert any("across Europe/Amsterdam and America/New_York" in r for r in group.reasons)


def test_an_odd_count_makes_one_trio_and_everyone_is_placed() -> None:
    matcher = Matcher()
    for n in range(7):
        matcher.join(f"m{n}", team=f"team{n % 3}")
    outputs = matcher.round()

    sizes = sorted(len(m) for m in members_of(outputs))
    assert sizes == [2, 2, 3]
    assert completed(outputs).trios == 1
    assert completed(outputs).unmatched == 0


def test_the_trio_is_not_always_the_same_person() -> None:
    trio_members: set[frozenset[str]] = set()
    for round_number in range(6):
        matcher = Matcher()
        for n in range(5):
            matcher.join(f"m{n}", team=f"team{n}")
        trios = [m for m in members_of(matcher.round(f"r{round_number}")) if len(m) == 3]
        trio_members.add(frozenset(trios[0]))
    assert len(trio_members) > 1


def test_nobody_to_talk_to_is_reported_with_the_reason() -> None:
    matcher = Matcher()
    matcher.join("ada", team="Sales")
    matcher.join("bob", team="Platform")
    matcher.join("kiran", team="Data", **KOLKATA, working_hours={"start": "09:00", "end": "12:00"})
    matcher.join("zed", team="Design", languages=("de",))
    outputs = matcher.round()

    reasons = unmatched(outputs)
    assert reasons["kiran"] == "no working-hours overlap of at least 30 min with anyone available"
    assert reasons["zed"] == "nobody available this round speaks German"
    assert members_of(outputs) == [{"ada", "bob"}]
    assert completed(outputs).unmatched == 2


def test_paused_opted_out_and_departed_members_are_not_matched() -> None:
    matcher = Matcher()
    for member_id in ("ada", "bob", "cy", "dee", "eve", "fay"):
        matcher.join(member_id, team=member_id)
    matcher.send(MemberPaused(member_id="cy", until=WEEK + timedelta(days=14)))
    matcher.send(MemberOptedOut(member_id="dee"))
    matcher.send(MemberLeft(member_id="eve"))
    placed = set().union(*members_of(matcher.round()))
    assert placed == {"ada", "bob", "fay"}


def test_a_pause_that_ends_before_the_week_does_not_keep_anyone_out() -> None:
    matcher = Matcher()
    matcher.join("ada", team="a")
    matcher.join("bob", team="b")
    matcher.send(MemberPaused(member_id="bob", until=WEEK))
    assert members_of(matcher.round()) == [{"ada", "bob"}]


def test_a_member_who_joined_after_the_request_waits_for_the_next_round() -> None:
    """Participation is decided at the request's domain time, whatever order events arrive in."""
    requested_at = datetime(2026, 3, 1, tzinfo=UTC)
    matcher = Matcher()
    matcher.join("ada", team="a")
    matcher.join("bob", team="b")
    matcher.send(
        member_joined("cy", team="c", start_date=date(2024, 1, 15)),
        at=requested_at + timedelta(hours=1),
    )
    outputs = matcher.send(CoffeeRoundRequested(round_id="r1", week_starting=WEEK), at=requested_at)
    assert set().union(*members_of(outputs)) == {"ada", "bob"}
    assert "cy" in set().union(*members_of(matcher.round("r2", WEEK + timedelta(weeks=1))))


def test_a_pause_or_departure_dated_after_the_request_does_not_change_the_round() -> None:
    """Members and clock are separate topics: the matcher may read a later pause first."""
    requested_at = datetime(2026, 3, 1, tzinfo=UTC)
    in_time_order, read_ahead = Matcher(), Matcher()
    for matcher in (in_time_order, read_ahead):
        for member_id in ("ada", "bob", "cy", "dee"):
            matcher.join(member_id, team=member_id)
    request = CoffeeRoundRequested(round_id="r1", week_starting=WEEK)
    later = [
        MemberPaused(member_id="cy", until=WEEK + timedelta(days=14)),
        MemberLeft(member_id="dee"),
    ]

    expected = in_time_order.send(request, at=requested_at)
    for change in later:
        in_time_order.send(change, at=requested_at + timedelta(hours=2))
        read_ahead.send(change, at=requested_at + timedelta(hours=2))
    outputs = read_ahead.send(request, at=requested_at)

    assert members_of(outputs) == members_of(expected)
    assert set().union(*members_of(outputs)) == {"ada", "bob", "cy", "dee"}
    next_round = in_time_order.round("r2", WEEK + timedelta(weeks=1))
    assert set().union(*members_of(next_round)) == {"ada", "bob"}


def test_recent_partners_are_not_paired_again_while_others_are_available() -> None:
    matcher = Matcher()
    for member_id in ("a", "b", "c", "d"):
        matcher.join(member_id, team=member_id)
    met: set[frozenset[str]] = set()
    for week in range(3):
        for group in members_of(matcher.round(f"r{week}", WEEK + timedelta(weeks=week))):
            pair = frozenset(group)
            assert pair not in met
            met.add(pair)
    assert len(met) == 6  # every possible pair of four, once


def test_when_nobody_else_is_left_a_recent_pair_meets_again_and_says_so() -> None:
    matcher = Matcher()
    matcher.join("a", team="x")
    matcher.join("b", team="y")
    matcher.round("r1")
    (group,) = groups(matcher.round("r2", WEEK + timedelta(weeks=1)))
    assert REPEAT_REASON in group.reasons
    assert "last met 1 round ago" in group.reasons


def test_a_pair_that_did_not_meet_may_meet_again_sooner() -> None:
    def second_round(met: bool) -> tuple[str, ...]:
        matcher = Matcher(CoffeePolicy(repeat_window_rounds=6, missed_window_rounds=0))
        matcher.join("a", team="x")
        matcher.join("b", team="y")
        (first,) = groups(matcher.round("r1"))
        for member_id in ("a", "b"):
            matcher.send(
                CoffeeFeedbackGiven(
                    round_id="r1", group_id=first.group_id, member_id=member_id, met=met
                )
            )
        (again,) = groups(matcher.round("r2", WEEK + timedelta(weeks=1)))
        return again.reasons

    missed = second_round(met=False)
    assert "first coffee together" in missed  # they never actually met
    assert not any("met recently" in reason for reason in missed)
    assert REPEAT_REASON in second_round(met=True)


def test_feedback_is_counted() -> None:
    matcher = Matcher()
    matcher.join("a", team="x")
    matcher.join("b", team="y")
    (group,) = groups(matcher.round("r1"))
    matcher.send(
        CoffeeFeedbackGiven(
            round_id="r1", group_id=group.group_id, member_id="a", met=True, rating=5
        )
    )
    matcher.send(
        CoffeeFeedbackGiven(round_id="r1", group_id=group.group_id, member_id="b", met=False)
    )
    measures = matcher.processor.measures()
    assert (measures["feedback_met"], measures["feedback_did_not_meet"]) == (1, 1)


def test_managers_and_do_not_pair_lists_are_respected() -> None:
    matcher = Matcher(CoffeePolicy(do_not_pair=(("c", "d"),)))
    matcher.join("a", team="x")
    matcher.join("b", team="y", manager_id="a")
    matcher.join("c", team="z")
    matcher.join("d", team="w")
    pairs = [frozenset(m) for m in members_of(matcher.round())]
    assert frozenset({"a", "b"}) not in pairs
    assert frozenset({"c", "d"}) not in pairs
    assert len(pairs) == 2


def test_new_hires_meet_people_outside_their_team() -> None:
    matcher = Matcher()
    matcher.join("new", team="Sales", start_date=date(2026, 2, 20), new_hire=True)
    matcher.join("mate", team="Sales")
    matcher.join("other", team="Platform")
    matcher.join("fourth", team="Sales")
    pairs = members_of(matcher.round())
    (with_new,) = [p for p in pairs if "new" in p]
    assert with_new == {"new", "other"}


def test_onboarding_makes_someone_a_new_hire_for_the_matcher() -> None:
    matcher = Matcher(CoffeePolicy(new_hire_days=0))
    matcher.join("new", team="Sales")
    matcher.send(BuddyAssigned(new_hire_id="new", buddy_id="mate", reasons=()))
    matcher.join("mate", team="Sales")
    matcher.join("other", team="Platform")
    matcher.join("fourth", team="Sales")
    (with_new,) = [p for p in members_of(matcher.round()) if "new" in p]
    assert with_new == {"new", "other"}
    (group,) = [
        g for g in groups(matcher.published) if "new" in {p.member_id for p in g.participants}
    ]
    assert "a new colleague meets people beyond their own team" in group.reasons


def test_a_round_id_is_decided_once_even_when_requested_again() -> None:
    matcher = Matcher()
    matcher.join("a", team="x")
    matcher.join("b", team="y")
    assert groups(matcher.round("r1"))
    assert matcher.round("r1") == []  # a new event id, the same round


def test_the_same_history_and_round_id_give_the_same_events() -> None:
    def run() -> list[str]:
        matcher = Matcher()
        for n in range(9):
            matcher.join(f"m{n}", team=f"t{n % 4}", interests=("chess",) if n % 2 else ())
        outputs = matcher.round("r1") + matcher.round("r2", WEEK + timedelta(weeks=1))
        return [o.data.model_dump_json() for o in outputs]

    assert run() == run()


def test_scopes_limit_who_takes_part() -> None:
    matcher = Matcher()
    matcher.join("a", team="x", department="D1")
    matcher.join("b", team="y", department="D1", interests=("dutch-club",))
    matcher.join("c", team="z", department="D2", interests=("dutch-club",))
    assert set().union(*members_of(matcher.round("r1", department="D1"))) == {"a", "b"}
    assert set().union(*members_of(matcher.round("r2", programme="dutch-club"))) == {"b", "c"}


def test_statistics_of_a_round() -> None:
    matcher = Matcher()
    matcher.join("a", team="x")
    matcher.join("b", team="x")
    matcher.join("c", team="y")
    matcher.join("d", team="z")
    done = completed(matcher.round())
    assert (done.participants, done.groups, done.trios, done.unmatched) == (4, 2, 0, 0)
    assert done.first_time_share == 1.0
    assert done.cross_team_share == 1.0  # x meets y and z: nobody meets their own team
    assert done.mean_score > 0


def test_groups_of_four_on_request() -> None:
    matcher = Matcher()
    for n in range(8):
        matcher.join(f"m{n}", team=f"t{n}")
    sizes = [len(m) for m in members_of(matcher.round(group_size=4))]
    assert sizes == [4, 4]


def test_groups_of_three_on_request() -> None:
    matcher = Matcher()
    for n in range(9):
        matcher.join(f"m{n}", team=f"t{n}")
    sizes = sorted(len(m) for m in members_of(matcher.round(group_size=3)))
    assert sizes == [3, 3, 3]


def test_clock_ticks_request_the_weekly_round_once() -> None:
    matcher = Matcher(CoffeePolicy(cadence=Cadence(every="week", weekday="mon")))
    matcher.join("a", team="x")
    matcher.join("b", team="y")
    sunday = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert matcher.send(ClockTicked(now=sunday, sequence=1), at=sunday) == []  # last week: late
    monday = datetime(2026, 3, 2, 9, tzinfo=UTC)
    (request,) = matcher.send(ClockTicked(now=monday, sequence=2), at=monday)
    assert request.data == CoffeeRoundRequested(round_id="coffee-2026-03-02", week_starting=WEEK)
    assert groups(matcher.published)  # the matcher decided the round it requested
    later = monday + timedelta(hours=3)
    assert matcher.send(ClockTicked(now=later, sequence=3), at=later) == []


def test_slots_leave_notice_after_the_request() -> None:
    matcher = Matcher()
    for n in range(6):
        matcher.join(f"m{n}", team=f"t{n}", timezone=("Europe/London", "America/New_York")[n % 2])
    requested = datetime(2026, 3, 2, 8, tzinfo=UTC)  # Monday morning of the round's week
    outputs = matcher.send(CoffeeRoundRequested(round_id="r1", week_starting=WEEK), at=requested)
    starts = [g.slot_start for g in groups(outputs)]
    assert len(starts) == 3
    assert all(start >= requested + timedelta(hours=20) for start in starts)


def test_completed_rounds_add_up_in_the_measures_once_each() -> None:
    """What the dashboard shows of rounds: participants, groups, trios and unmatched summed over
    completed rounds (a round's figures are their increase)."""
    matcher = Matcher()
    for member_id, team in (("a", "Sales"), ("b", "Data"), ("c", "Design")):
        matcher.join(member_id, team=team)
    outputs = matcher.round("r1")
    done = completed(outputs)
    (completion,) = [o for o in outputs if isinstance(o.data, type(done))]
    matcher.deliver(completion)  # the completion read back again: counted once
    measures = matcher.processor.measures()
    assert measures["rounds_completed"] == 1
    assert (measures["round_participants"], measures["round_groups"]) == (
        done.participants,
        done.groups,
    )
    assert (measures["round_trios"], measures["round_unmatched"]) == (done.trios, done.unmatched)
    assert done.participants == 3
