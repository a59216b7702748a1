"""A shortened demo through the real broker, checked from the exported history alone: what the
services decided is read back with ``rituals events export``, as an auditor would."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from schemas import CloudEvent, decode_event
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundCompleted
from schemas.members import (
    MemberJoined,
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfileUpdated,
    MemberResumed,
)
from schemas.notifications import NotificationFailed, NotificationSent
from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue, CheckinScheduled
from schemas.pulse import PulseAnswered, PulseAsked
from schemas.rituals import RitualHeld
from services.cli.main import app
from services.common.domain.working_hours import week_monday
from services.demo.runner import DemoRun, run_demo
from services.demo.script import DemoShape
from services.notifier.domain.quiet_hours import next_working_time
from services.onboarding.domain.policy import DEFAULT_RHYTHM

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

SHAPE = DemoShape(
    seed=11, members=40, teams=4, weeks=3, new_hires=3, pauses=2, departures=1, pulse=True
)


@pytest.fixture(scope="module")
def demo(kafka_servers: str, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(SHAPE, tmp_path_factory.mktemp("demo"), kafka_servers)


@pytest.fixture(scope="module")
def history(
    demo: DemoRun, kafka_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> list[CloudEvent[Any]]:
    exported = tmp_path_factory.mktemp("export") / "history.jsonl"
    result = CliRunner().invoke(
        app,
        ["events", "export", "--out", str(exported), "--org", SHAPE.organisation],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_servers, "RITUALS_TOPIC_PREFIX": demo.topics.prefix},
    )
    assert result.exit_code == 0, result.output
    lines = exported.read_text(encoding="utf-8").splitlines()
    return [decode_event(line.encode()) for line in lines]


def of(history: list[CloudEvent[Any]], kind: type[Any]) -> Iterator[Any]:
    return (event.data for event in history if isinstance(event.data, kind))


def test_every_new_hire_got_a_buddy_and_the_whole_rhythm_of_check_ins(
    history: list[CloudEvent[Any]],
) -> None:
    new_hires = {m.member_id for m in of(history, MemberJoined) if m.new_hire}
    assert len(new_hires) == SHAPE.new_hires
    buddies = {a.new_hire_id: a.buddy_id for a in of(history, BuddyAssigned)}
    assert set(buddies) == new_hires
    scheduled = Counter(c.new_hire_id for c in of(history, CheckinScheduled))
    assert all(scheduled[hire] >= len(DEFAULT_RHYTHM) for hire in new_hires)

    last_tick = max(t.now for t in of(history, ClockTicked))
    came_due = {(c.new_hire_id, c.checkin_id) for c in of(history, CheckinDue)}
    for planned in of(history, CheckinScheduled):
        if planned.due_at <= last_tick - timedelta(hours=1):
            assert (planned.new_hire_id, planned.checkin_id) in came_due


def test_a_round_every_week_and_no_pair_twice(history: list[CloudEvent[Any]]) -> None:
    mondays = [SHAPE.first_monday + timedelta(weeks=week) for week in range(SHAPE.weeks)]
    completed = {r.round_id for r in of(history, CoffeeRoundCompleted)}
    assert {f"coffee-{monday.isoformat()}" for monday in mondays} <= completed

    # A pair whose coffee did not happen (feedback) may be matched again: they never met.
    missed = {(f.round_id, f.group_id) for f in of(history, CoffeeFeedbackGiven) if not f.met}
    pairs = Counter(
        frozenset(pair)
        for group in of(history, CoffeeMatched)
        if (group.round_id, group.group_id) not in missed
        for pair in itertools.combinations([p.member_id for p in group.participants], 2)
    )
    assert pairs, "the rounds matched nobody"
    assert max(pairs.values()) == 1


LAPSED = "outside working hours until the occurrence started"


def test_every_participant_of_a_match_was_notified_exactly_once(
    history: list[CloudEvent[Any]],
) -> None:
    last_tick = max(t.now for t in of(history, ClockTicked))
    sent = list(of(history, NotificationSent))
    assert sent, "nothing was notified"
    # One notification id per (source event, recipient, channel; occurrence for a reminder).
    assert max(Counter(n.notification_id for n in sent).values()) == 1
    # Nothing failed but reminders of rituals outside a member's working hours, each said.
    failed = {(f.reason, f.permanent, f.attempts) for f in of(history, NotificationFailed)}
    assert failed <= {(LAPSED, True, 0)}
    told = Counter((n.source_event_id, n.recipient_id) for n in sent)  # one channel each here
    departed = {left.member_id for left in of(history, MemberLeft)}  # not told once they left
    missed = [
        (match.round_id, participant.member_id, match.slot_start.isoformat())
        for event in history
        if isinstance(match := event.data, CoffeeMatched)
        # Deliveries wait for the recipient's working hours: the last day's may not be due.
        and match.slot_start.date() < last_tick.date()
        for participant in match.participants
        if participant.member_id not in departed
        and told[(str(event.id), participant.member_id)] != 1
    ]
    assert missed == []


def test_every_pulse_question_was_delivered_once_its_recipient_was_at_work(
    history: list[CloudEvent[Any]],
) -> None:
    """Every week's questions, the last week's too: the clock waits for the notifier to read
    them at the tick that asks them (read only after the evening's ticks, they waited for the
    recipients' next working morning, after the run's end)."""
    last_tick = max(t.now for t in of(history, ClockTicked))
    profiles = {
        e.data.member_id: e.data
        for e in history
        if isinstance(e.data, MemberJoined | MemberProfileUpdated)
    }
    told = Counter(n.source_event_id for n in of(history, NotificationSent))
    departed = {left.member_id for left in of(history, MemberLeft)}
    asked = [event for event in history if isinstance(event.data, PulseAsked)]
    assert week_monday((last_tick - timedelta(days=3)).date()) in {
        event.data.week_starting for event in asked
    }  # the last week's questions are among them
    missed = []
    for event in asked:
        profile = profiles[event.data.member_id]
        at_work = next_working_time(event.time, profile.working_hours, ZoneInfo(profile.timezone))
        if (
            at_work < last_tick
            and event.data.member_id not in departed
            and told[str(event.id)] != 1
        ):
            missed.append((event.data.week_starting.isoformat(), event.data.member_id))
    assert missed == []


def test_nobody_gives_feedback_after_leaving(history: list[CloudEvent[Any]]) -> None:
    left_at = {
        event.data.member_id: event.time for event in history if isinstance(event.data, MemberLeft)
    }
    late = [
        event.data.member_id
        for event in history
        if isinstance(event.data, CoffeeFeedbackGiven)
        and event.data.member_id in left_at
        and event.time > left_at[event.data.member_id]
    ]
    assert late == []


def test_the_people_answered_with_their_links_through_the_gateway(
    demo: DemoRun, history: list[CloudEvent[Any]]
) -> None:
    """Feedback and pulse answers are what the gateway published for links that people followed
    over HTTP, dated at the organisation's clock in the evening the script says people answer
    (coffees on the Sunday after; a pulse whose message came on Monday, that evening)."""
    answers = [e for e in history if isinstance(e.data, CoffeeFeedbackGiven | PulseAnswered)]
    feedback = [e for e in answers if isinstance(e.data, CoffeeFeedbackGiven)]
    assert feedback
    assert {e.source for e in answers} == {"/rituals/gateway"}
    assert {e.id for e in answers} == set(demo.answers.given)
    assert {(e.time.weekday(), e.time.hour, e.time.minute) for e in feedback} == {(6, 23, 0)}
    assert {(e.time.hour, e.time.minute) for e in answers} == {(23, 0)}
    assert demo.answers.refused == {}
    assert demo.answers.without_message == 0


SERVICES = {"/rituals/matcher", "/rituals/onboarding", "/rituals/notifier"}


def decisions(history: list[CloudEvent[Any]]) -> Counter[tuple[str, str, str]]:
    """What the services decided, and at which tick, without the random event ids: a
    notification names its source event by that event's type, time and subject."""
    by_id = {str(event.id): event for event in history}
    decided: Counter[tuple[str, str, str]] = Counter()
    for event in history:
        if event.source not in SERVICES:
            continue
        data = event.data.model_dump(mode="json")
        if "source_event_id" in data:
            source = by_id[data.pop("source_event_id")]
            data["source"] = [source.type, source.time.isoformat(), source.subject]
            data.pop("notification_id")
        decided[(event.type, event.time.isoformat(), json.dumps(data, sort_keys=True))] += 1
    return decided


def test_a_second_run_of_the_same_script_makes_the_same_decisions_at_the_same_ticks(
    demo: DemoRun, kafka_servers: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = run_demo(SHAPE, tmp_path_factory.mktemp("again"), kafka_servers)

    first, second = decisions(demo.events), decisions(again.events)
    assert sum(first.values()) > 100
    assert first - second == Counter()
    assert second - first == Counter()


def test_the_demo_writes_e_mails_with_invitations_to_the_outbox(demo: DemoRun) -> None:
    messages = list((demo.out_dir / "outbox").glob("*.eml"))
    assert messages
    assert any(b"text/calendar" in path.read_bytes() for path in messages)


# Insights, computed again from the exported history with nothing but the definitions in
# docs/insights.md: no projection code of the platform is used here.


def latest_profiles(history: list[CloudEvent[Any]]) -> tuple[dict[str, str], set[str], set[str]]:
    """Team of every member now, the members present now (not left), and active now."""
    now = max(t.now for t in of(history, ClockTicked))
    team: dict[str, str] = {}
    status: dict[str, str] = {}
    for event in history:
        data = event.data
        if isinstance(data, MemberJoined | MemberProfileUpdated):
            team[data.member_id] = data.team
            if isinstance(data, MemberJoined):
                status[data.member_id] = "active"
        elif isinstance(data, MemberPaused):
            paused_until_later = data.until is None or data.until > now.date()
            status[data.member_id] = "paused" if paused_until_later else "active"
        elif isinstance(data, MemberResumed):
            status[data.member_id] = "active"
        elif isinstance(data, MemberOptedOut):
            status[data.member_id] = "opted_out"
        elif isinstance(data, MemberLeft):
            status[data.member_id] = "left"
    present = {m for m, s in status.items() if s != "left"}
    active = {m for m, s in status.items() if s == "active"}
    return team, present, active


def latest_answers(history: list[CloudEvent[Any]]) -> dict[str, dict[str, bool]]:
    """Group id -> member -> whether they said they met (their latest answer)."""
    answers: dict[str, dict[str, bool]] = {}
    for feedback in of(history, CoffeeFeedbackGiven):
        answers.setdefault(feedback.group_id, {})[feedback.member_id] = feedback.met
    return answers


def edges_by_kind(history: list[CloudEvent[Any]]) -> dict[frozenset[str], set[str]]:
    answers = latest_answers(history)
    edges: dict[frozenset[str], set[str]] = {}

    def link(people: list[str], kind: str) -> None:
        for pair in itertools.combinations(sorted(set(people)), 2):
            edges.setdefault(frozenset(pair), set()).add(kind)

    for group in of(history, CoffeeMatched):
        said = answers.get(group.group_id, {})
        if not said or any(said.values()):
            link([p.member_id for p in group.participants], "coffee")
    for kind in (BuddyAssigned, BuddyReassigned):
        for buddy in of(history, kind):
            link([buddy.new_hire_id, buddy.buddy_id], "buddy")
    for held in of(history, RitualHeld):
        link(list(held.attendee_ids), "ritual")
    return edges


def components(nodes: set[str], edges: list[frozenset[str]]) -> int:
    parent = {node: node for node in nodes}

    def root(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for first, second in (tuple(edge) for edge in edges):
        parent[root(first)] = root(second)
    return len({root(node) for node in nodes})


def test_the_insights_equal_an_independent_computation_from_the_exported_history(
    demo: DemoRun, kafka_servers: str, history: list[CloudEvent[Any]]
) -> None:
    result = CliRunner().invoke(
        app,
        ["insights", "--org", SHAPE.organisation, "--format", "json"],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_servers, "RITUALS_TOPIC_PREFIX": demo.topics.prefix},
    )
    assert result.exit_code == 0, result.output
    reported = json.loads(result.stdout)

    answers = latest_answers(history)
    groups = list(of(history, CoffeeMatched))
    with_feedback = [g for g in groups if g.group_id in answers]
    met = [g for g in with_feedback if any(answers[g.group_id].values())]
    coffee = reported["coffee"]
    assert coffee["rounds"] == len({g.round_id for g in groups})
    assert (coffee["groups"], coffee["groups_with_feedback"], coffee["groups_met"]) == (
        len(groups),
        len(with_feedback),
        len(met),
    )
    participants = Counter(g.round_id for g in groups for _ in g.participants)
    assert {r["round_id"]: r["participants"] for r in reported["rounds"]} == dict(participants)

    team, present, active = latest_profiles(history)
    edges = [e for e in edges_by_kind(history) if e <= present]
    kinds = edges_by_kind(history)
    degree = Counter(member for edge in edges for member in edge)
    met_by_active = sorted(degree[m] for m in active)
    figures = reported["connections"]
    assert figures["members"] == len(present)
    assert figures["connections"] == len(edges)
    assert figures["by_kind"] == dict(Counter(k for e in edges for k in kinds[e]))
    assert figures["cross_team"] == sum(1 for e in edges if len({team[m] for m in e}) == 2)
    assert figures["colleagues_met_mean"] == pytest.approx(statistics.mean(met_by_active))
    assert figures["colleagues_met_median"] == pytest.approx(statistics.median(met_by_active))
    assert figures["components"] == components(present, edges)
    assert figures["isolated"] == len(present - set(degree))
