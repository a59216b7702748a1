"""A restart from a snapshot and the log after it decides exactly what the live run and a
restart from the whole log decide, in every service's scenario: for a snapshot taken after any
number of inputs, with more inputs after it, and with a crash cutting a decision short after it.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas import CloudEvent
from tests.unit.common.log_model import Crashed, Instance, MemoryLog, Snapshot
from tests.unit.common.test_crash_recovery import SCENARIOS, Scenario, _decision_size


def _inputs(scenario: Scenario) -> list[CloudEvent[Any]]:
    return [*scenario.before, scenario.decisive, *scenario.after]


def _reference(scenario: Scenario) -> tuple[dict[str, bytes], dict[str, float]]:
    log = MemoryLog()
    instance = scenario.instance(log)
    for event in _inputs(scenario):
        instance.receive(event)
    return log.events_by_id(scenario.source), dict(instance.ledger.processor.measures())


def _run_with_snapshot(
    scenario: Scenario, taken_after: int, crash_after: int | None
) -> tuple[MemoryLog, Instance, int]:
    """Inputs up to ``taken_after``, a snapshot, the rest live (the decisive one possibly cut
    short by a crash, which restarts from the snapshot at once), then a restart from the
    snapshot at the end too. Returns the log, the last instance and the events it replayed."""
    log = MemoryLog()
    instance = scenario.instance(log)
    inputs = _inputs(scenario)
    snapshot: Snapshot | None = None
    replayed = 0
    for index, event in enumerate(inputs):
        if index == taken_after:
            snapshot = instance.snapshot()
        try:
            cut = crash_after if event is scenario.decisive else None
            instance.receive(event, crash_after=cut)
        except Crashed:
            assert snapshot is not None
            instance = scenario.instance(log)
            instance.restart_from(snapshot)
    if snapshot is None:
        snapshot = instance.snapshot()
    instance = scenario.instance(log)
    replayed, decided = instance.restart_from(snapshot)
    assert decided == 0, "everything was decided before the restart"
    return log, instance, replayed


@pytest.mark.parametrize("name", SCENARIOS)
def test_snapshot_plus_tail_decides_as_the_live_run_for_any_snapshot_point(name: str) -> None:
    scenario = SCENARIOS[name]()
    expected_events, expected_state = _reference(scenario)
    inputs = _inputs(scenario)

    for taken_after in range(len(inputs) + 1):
        log, restored, replayed = _run_with_snapshot(scenario, taken_after, crash_after=None)
        assert log.events_by_id(scenario.source) == expected_events, f"after {taken_after}"
        assert dict(restored.ledger.processor.measures()) == expected_state
        assert replayed <= len(log.records)
        if taken_after == len(inputs):
            assert replayed == 0, "nothing came after a snapshot taken at the end"


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_decision_cut_short_after_a_snapshot_is_finished_whole_from_it(name: str) -> None:
    scenario = SCENARIOS[name]()
    expected_events, expected_state = _reference(scenario)
    decisive_at = _inputs(scenario).index(scenario.decisive)

    for taken_after in sorted({0, decisive_at // 2, decisive_at}):
        for crash_after in range(_decision_size(scenario)):
            log, restored, _ = _run_with_snapshot(scenario, taken_after, crash_after)
            assert log.events_by_id(scenario.source) == expected_events, (
                f"snapshot after {taken_after}, crash after {crash_after}"
            )
            assert dict(restored.ledger.processor.measures()) == expected_state


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_snapshot_restart_reads_only_what_came_after_it(name: str) -> None:
    scenario = SCENARIOS[name]()
    inputs = _inputs(scenario)
    log, _, replayed_at_end = _run_with_snapshot(scenario, len(inputs), crash_after=None)
    _, _, replayed_at_start = _run_with_snapshot(scenario, 0, crash_after=None)

    assert replayed_at_end == 0
    assert replayed_at_start == len(log.records)
