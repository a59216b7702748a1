"""A decision cut short by a crash is finished after the restart, whole, in every service.

Each scenario runs once without a crash (the reference), then once for every output index of its
multi-output decision with the instance killed right before writing that output; a fresh instance
rebuilds from the log and the run goes on. Every run must end with exactly the reference's
outputs (same ids, same content) and the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

import pytest

from infra.topics import Topic
from schemas import CloudEvent, new_event
from schemas.base import EventPayload
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeRoundRequested
from schemas.members import MemberJoined
from services.common.processing import Processor
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import Policies
from services.onboarding.domain.policy import BuddyPolicy, PolicyBook
from services.onboarding.handlers import OnboardingProcessor
from tests.factories import member_joined
from tests.unit.common.log_model import TOPICS, Crashed, Instance, MemoryLog
from tests.unit.onboarding.world import T0, colleague, new_hire

ORG = "acme"


@dataclass(frozen=True)
class Scenario:
    source: str
    new_processor: Callable[[], Processor]
    topics: tuple[Topic, ...]
    before: list[CloudEvent[Any]]
    decisive: CloudEvent[Any]
    """The input whose decision has many outputs: the crash happens while it is published."""
    after: list[CloudEvent[Any]]

    @property
    def topic_order(self) -> list[str]:
        return [TOPICS.name(topic) for topic in self.topics]

    def instance(self, log: MemoryLog) -> Instance:
        return Instance(log, self.new_processor, self.source, self.topic_order)


def _input(payload: EventPayload, at: datetime) -> CloudEvent[Any]:
    return new_event(payload, source="/tests", orgid=ORG, time=at)


def matcher_round() -> Scenario:
    joined_at = datetime(2026, 2, 1, tzinfo=UTC)
    week = date(2026, 3, 2)
    members = [
        _input(member_joined(f"m{n}", start_date=date(2024, 1, 15)), joined_at) for n in range(11)
    ]
    request = _input(
        CoffeeRoundRequested(round_id="r1", week_starting=week),
        datetime.combine(week, time(0), UTC) - timedelta(days=1),
    )
    return Scenario(
        source="/rituals/matcher",
        new_processor=partial(MatcherProcessor, Policies(CoffeePolicy())),
        topics=(Topic.MEMBERS, Topic.COFFEE, Topic.ONBOARDING, Topic.CLOCK),
        before=members,
        decisive=request,
        after=[],
    )


def onboarding_plan() -> Scenario:
    colleagues = [
        colleague("ada", buddy_volunteer=True, team="Platform"),
        colleague("bob"),
    ]
    ticks = [
        _input(ClockTicked(now=T0 + timedelta(days=day), sequence=day), T0 + timedelta(days=day))
        for day in range(1, 120, 3)
    ]
    return Scenario(
        source="/rituals/onboarding",
        new_processor=partial(OnboardingProcessor, PolicyBook(default=BuddyPolicy())),
        topics=(Topic.MEMBERS, Topic.ONBOARDING, Topic.CLOCK),
        before=[_input(MemberJoined.model_validate(profile), T0) for profile in colleagues],
        decisive=_input(MemberJoined.model_validate(new_hire("n")), T0),
        after=ticks,
    )


SCENARIOS = {"matcher round": matcher_round, "onboarding plan": onboarding_plan}


def _run(scenario: Scenario, crash_after: int | None) -> tuple[MemoryLog, Instance]:
    log = MemoryLog()
    instance = scenario.instance(log)
    for event in scenario.before:
        instance.receive(event)
    try:
        instance.receive(scenario.decisive, crash_after=crash_after)
    except Crashed:
        instance = scenario.instance(log)
        instance.restart()
    for event in scenario.after:
        instance.receive(event)
    return log, instance


def _decision_size(scenario: Scenario) -> int:
    log = MemoryLog()
    instance = scenario.instance(log)
    for event in scenario.before:
        instance.receive(event)
    return sum(len(decision) for decision in instance.receive(scenario.decisive))


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_decision_cut_short_at_any_output_is_finished_after_the_restart(name: str) -> None:
    scenario = SCENARIOS[name]()
    reference_log, reference = _run(scenario, crash_after=None)
    expected = reference_log.events_by_id(scenario.source)
    size = _decision_size(scenario)
    assert size >= 5, "the scenario must exercise a decision with many outputs"

    for crash_after in range(size):
        log, recovered = _run(scenario, crash_after=crash_after)
        assert log.events_by_id(scenario.source) == expected, f"crash after {crash_after}"
        assert recovered.ledger.processor.measures() == reference.ledger.processor.measures()


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_whole_decision_is_not_made_again_on_restart(name: str) -> None:
    scenario = SCENARIOS[name]()
    log, _ = _run(scenario, crash_after=None)
    written = len(log.records)

    decided = scenario.instance(log).restart()

    assert decided == 0
    assert len(log.records) == written
