"""A rebuild plans and folds one partition number at a time (so only that number's events are
in memory at once): it must come to what planning and folding the whole history at once does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from schemas import CloudEvent
from services.common.admission import partition_of
from services.common.processing import Ledgers
from services.common.records import OutgoingRecord, event_record
from services.common.replay import Folded, replay_plan
from services.common.runtime import _plan_and_fold, _replay
from tests.unit.common.log_model import PARTITIONS, TOPICS, MemoryLog
from tests.unit.common.test_crash_recovery import SCENARIOS, Scenario

ORGANISATIONS = [f"org{n}" for n in range(9)]


def _as(event: CloudEvent[Any], organisation: str) -> CloudEvent[Any]:
    identity = uuid.uuid5(uuid.NAMESPACE_URL, f"{organisation}/{event.id}")
    return event.model_copy(update={"orgid": organisation, "id": identity})


def _log(scenario: Scenario) -> MemoryLog:
    """Every organisation's inputs interleaved, a copy of one, and refused records."""
    log = MemoryLog()
    inputs = [scenario.decisive, *scenario.before, *scenario.after]  # not in time order
    for event in inputs:
        for organisation in ORGANISATIONS:
            log.append(event_record(_as(event, organisation), TOPICS))
    log.append(event_record(_as(inputs[1], ORGANISATIONS[0]), TOPICS))  # a later copy
    members = TOPICS.name(scenario.topics[0])
    log.append(OutgoingRecord(members, b"org1", b"\xff\xfe", ()))
    log.append(
        event_record(_as(inputs[0], "org2"), TOPICS),
        partition=(1 + partition_of(b"org2", PARTITIONS)) % PARTITIONS,
    )
    return log


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_rebuild_by_partition_number_comes_to_what_the_whole_history_does(name: str) -> None:
    scenario = SCENARIOS[name]()
    log = _log(scenario)
    order = [TOPICS.name(topic) for topic in scenario.topics]
    numbers = {partition_of(o.encode(), PARTITIONS) for o in ORGANISATIONS}
    assert len(numbers) > 2, "the organisations span several partition numbers"

    whole = Ledgers(scenario.new_processor, scenario.source, PARTITIONS)
    plan = replay_plan(log.history(), TOPICS, order, scenario.source)
    replayed = Folded()
    _replay(whole, plan, {}, replayed)
    by_number = Ledgers(scenario.new_processor, scenario.source, PARTITIONS)
    history = log.history()
    folded = _plan_and_fold(history, by_number, {}, TOPICS, order, scenario.source, None)

    assert replayed.decisions, "the scenario decides something on a first start"
    assert [[e.id for e in d] for d in folded.decisions] == [
        [e.id for e in d] for d in replayed.decisions
    ]
    assert by_number.partitions() == whole.partitions()
    assert [p.measures() for p in by_number.processors()] == [
        p.measures() for p in whole.processors()
    ]
    assert [r[0] for r in folded.refused] == [r[0] for r in plan.refused]
    assert len(folded.refused) == 2
    assert (folded.events, folded.later_copies, folded.unfinished) == (
        len(plan.events),
        plan.later_copies,
        plan.unfinished,
    )
    assert folded.later_copies == 1
    assert sum(folded.folded.values()) == len(plan.events)
    assert history.records == [], "the records are let go of as they are planned"
