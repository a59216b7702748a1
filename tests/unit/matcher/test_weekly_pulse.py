"""The weekly pulse: asked by the matcher on the clock, once a week, of the members taking part,
when the organisation has it on; the lead's digest carries last week's pulse and attendance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from schemas.clock import ClockTicked
from schemas.coffee import CoffeeTeamDigestCompiled
from schemas.members import MemberOptedOut, MemberPaused
from schemas.pulse import PulseAnswered, PulseAsked
from schemas.rituals import RitualHeld, RitualScheduled
from services.common.domain.pulse import MIN_ANSWERS, PulseAnswers, pulse_figure
from services.matcher.domain.policy import CoffeePolicy, PulseSetting
from services.matcher.domain.pulse import pulse_week
from tests.factories import sample_payload
from tests.unit.matcher.support import WEEK, Matcher

ON = CoffeePolicy(pulse=PulseSetting(enabled=True))
FRIDAY_3PM = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # after Friday 14:00 of WEEK


def tick(matcher: Matcher, now: datetime, sequence: int = 1) -> list[PulseAsked]:
    outputs = matcher.send(ClockTicked(now=now, sequence=sequence), at=now)
    return [o.data for o in outputs if isinstance(o.data, PulseAsked)]


def test_below_five_answers_there_is_no_figure() -> None:
    assert pulse_figure([5, 5, 4, 1]).mean is None
    assert pulse_figure([5, 5, 4, 1]).answers == 4
    five = pulse_figure([5, 5, 4, 1, 3])
    assert five.mean == 3.6
    assert five.shown
    assert MIN_ANSWERS == 5


def test_the_latest_answer_of_a_week_counts() -> None:
    answers = PulseAnswers()
    answers.record(WEEK, "ada", 2)
    answers.record(WEEK, "ada", 4)
    answers.record(WEEK + timedelta(days=7), "ada", 1)
    assert answers.scores(WEEK) == [4]
    answers.forget("ada")
    assert answers.scores(WEEK) == []


def test_the_pulse_week_comes_with_its_moment_and_only_when_on() -> None:
    on = PulseSetting(enabled=True)
    assert pulse_week(PulseSetting(), "UTC", FRIDAY_3PM) is None
    assert pulse_week(on, "UTC", FRIDAY_3PM) == WEEK
    assert pulse_week(on, "UTC", FRIDAY_3PM - timedelta(hours=2)) is None
    assert pulse_week(on, "UTC", FRIDAY_3PM + timedelta(days=2)) == WEEK  # Sunday
    tokyo = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)  # 14:00 in Tokyo
    assert pulse_week(on, "Asia/Tokyo", tokyo) == WEEK
    assert pulse_week(on, "Asia/Tokyo", tokyo - timedelta(minutes=1)) is None


def test_members_taking_part_are_asked_once_a_week() -> None:
    matcher = Matcher(ON)
    for member_id in ("ada", "bob", "cy", "dee"):
        matcher.join(member_id)
    matcher.join("eve", start_date=date(2026, 3, 16))  # starts later
    matcher.send(MemberOptedOut(member_id="cy"))
    matcher.send(MemberPaused(member_id="dee", until=date(2026, 4, 1)))

    first = tick(matcher, FRIDAY_3PM)
    assert sorted(a.member_id for a in first) == ["ada", "bob"]
    assert {a.week_starting for a in first} == {WEEK}
    assert tick(matcher, FRIDAY_3PM + timedelta(minutes=1), 2) == []  # asked already
    assert len(tick(matcher, FRIDAY_3PM + timedelta(days=7), 3)) == 2  # next week


def test_no_pulse_when_the_organisation_has_it_off() -> None:
    matcher = Matcher()
    matcher.join("ada")
    matcher.join("bob")
    assert tick(matcher, FRIDAY_3PM) == []


def test_asking_is_the_same_on_replay() -> None:
    runs = []
    for _ in range(2):
        matcher = Matcher(ON)
        for member_id in ("ada", "bob"):
            matcher.join(member_id)
        runs.append([(a.member_id, a.week_starting) for a in tick(matcher, FRIDAY_3PM)])
    assert runs[0] == runs[1]


def test_the_digest_carries_last_weeks_pulse_and_ritual_attendance() -> None:
    matcher = Matcher()
    matcher.join("lea", team="Payments")
    team = [f"p{n}" for n in range(6)]
    for member_id in team:
        matcher.join(member_id, team="Payments", manager_id="lea")
    matcher.join("s1", team="Sales", manager_id="sam")
    matcher.join("sam", team="Sales")
    last_week = WEEK - timedelta(days=7)
    for member_id, score in zip(team, (5, 4, 4, 3, 2, 1), strict=True):
        matcher.send(PulseAnswered(week_starting=last_week, member_id=member_id, score=score))
    matcher.send(PulseAnswered(week_starting=last_week, member_id="s1", score=5))
    matcher.send(sample_payload(PulseAnswered, member_id="p0", week_starting=last_week, score=3))
    matcher.send(sample_payload(RitualScheduled, ritual_id="drinks", team="Payments"))
    start = datetime(2026, 2, 25, 15, 0, tzinfo=UTC)
    matcher.send(RitualHeld(ritual_id="drinks", occurrence_start=start, attendee_ids=("p0", "p1")))

    outputs = matcher.round("r1")
    digests = {o.data.team: o.data for o in outputs if isinstance(o.data, CoffeeTeamDigestCompiled)}
    payments, sales = digests["Payments"], digests["Sales"]
    assert payments.pulse_week == last_week
    assert payments.pulse_answers == 6  # p0's second answer replaces its first
    assert payments.pulse_mean == round((3 + 4 + 4 + 3 + 2 + 1) / 6, 2)
    assert payments.rituals_held == 1
    assert (payments.ritual_attended, payments.ritual_invited) == (2, 7)  # lea is in Payments
    assert sales.pulse_answers == 1
    assert sales.pulse_mean is None  # one answer: no figure
    assert sales.rituals_held == 0
