"""A rebuild folds the history as it reads it (``stream_fold``), holding a window of records: it
must come to what sorting the whole history does (``replay_plan``), or say it cannot
(``Unordered``) and never fold a wrong state."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Sequence
from datetime import UTC, timedelta, timezone, tzinfo
from typing import Any

import pytest
from aiokafka import TopicPartition

from infra.topics import Topic
from schemas import CloudEvent, RejectedEvent, decode_event
from schemas.clock import ClockTicked
from services.common.admission import partition_of
from services.common.collector import collector_paused
from services.common.processing import Ledger, Ledgers
from services.common.records import OutgoingRecord, event_record
from services.common.replay import Folded, StoredRecord, replay_plan
from services.common.runtime import _plan_and_fold
from services.common.stream_fold import DecisionIndex, MergeFold, Unordered
from tests.unit.common.log_model import PARTITIONS, TOPICS, Crashed, Instance, MemoryLog
from tests.unit.common.test_crash_recovery import SCENARIOS, Scenario

ORGANISATIONS = [f"org{n}" for n in range(9)]
NO_SLACK = timedelta(0)
ENDLESS = timedelta(days=100_000)


def _as(
    event: CloudEvent[Any], organisation: str, shift: timedelta, zone: tzinfo | None = None
) -> CloudEvent[Any]:
    identity = uuid.uuid5(uuid.NAMESPACE_URL, f"{organisation}/{event.id}")
    time = event.time + shift
    return event.model_copy(
        update={"orgid": organisation, "id": identity, "time": time.astimezone(zone or UTC)}
    )


def _live_log(scenario: Scenario, crash_after: int | None, *, zoned: bool = False) -> MemoryLog:
    """The organisations' inputs handled live in domain-time order, each organisation a minute
    after the one before; the last organisation's decisive input cut short by a crash after
    ``crash_after`` outputs. Then a copy of an input, a record nobody can read and one on the
    wrong partition. ``zoned``: one input's time is written with an offset from UTC, the next
    with another (the same instants), from UTC-04:00 to UTC+04:00 and back."""

    def zone(n: int) -> tzinfo | None:
        return timezone(timedelta(hours=abs(n % 16 - 8) - 4)) if zoned else None

    log = MemoryLog()
    instance = Instance(log, scenario.new_processor, scenario.source, scenario.topic_order)
    inputs = sorted(
        (
            (_as(event, organisation, timedelta(minutes=n), zone(n + k)), organisation)
            for n, organisation in enumerate(ORGANISATIONS)
            for k, event in enumerate([*scenario.before, scenario.decisive, *scenario.after])
        ),
        key=lambda pair: pair[0].time,
    )
    decisive = {
        _as(scenario.decisive, o, timedelta(minutes=n), zone(n + len(scenario.before))).id
        for n, o in enumerate(ORGANISATIONS)
    }
    for event, organisation in inputs:
        cut = crash_after if event.id in decisive and organisation == ORGANISATIONS[-1] else None
        try:
            instance.receive(event, crash_after=cut)
        except Crashed:
            instance = Instance(log, scenario.new_processor, scenario.source, scenario.topic_order)
            instance.ledger = _rebuilt(log, scenario)
    log.append(event_record(inputs[1][0], TOPICS))  # a later copy
    members = TOPICS.name(scenario.topics[0])
    log.append(OutgoingRecord(members, b"org1", b"\xff\xfe", ()))
    log.append(
        event_record(inputs[0][0].model_copy(update={"id": uuid.uuid4()}), TOPICS),
        partition=(1 + partition_of(inputs[0][0].orgid.encode(), PARTITIONS)) % PARTITIONS,
    )
    return log


def _rebuilt(log: MemoryLog, scenario: Scenario) -> Ledger:
    """The instance after the crash: rebuilt from the log, its decisions not published yet."""
    ledger = Ledger(scenario.new_processor(), scenario.source)
    ledger.replay(replay_plan(log.history(), TOPICS, scenario.topic_order, scenario.source).events)
    return ledger


def _streamed(
    log: MemoryLog,
    scenario: Scenario,
    committed: dict[TopicPartition, int],
    *,
    slack: timedelta,
    chunk: int,
    read_last: StoredRecord | None = None,
) -> tuple[Ledgers, Folded]:
    """What the runtime's streaming rebuild does, over the log in memory: the first pass over
    every topic but the clock, then the merge fed ``chunk`` records at a time (``read_last``
    after every other: its partition's fetch came last)."""
    counts = dict.fromkeys(scenario.topic_order, PARTITIONS)
    index = DecisionIndex(scenario.source)
    clock = TOPICS.name(Topic.CLOCK)
    index.take(record for record in log.records if record.topic != clock)
    ledgers = Ledgers(scenario.new_processor, scenario.source, PARTITIONS)
    streams = [TopicPartition(t, p) for t in scenario.topic_order for p in range(PARTITIONS)]
    merge = MergeFold(
        ledgers, index, committed, scenario.topic_order, streams, counts, slack, topics=TOPICS
    )
    records = _as_read(log.records)
    if read_last is not None:
        records.remove(read_last)
        records.append(read_last)
    last_of = {TopicPartition(r.topic, r.partition): index for index, r in enumerate(records)}
    for stream in streams:
        if stream not in last_of:  # an empty partition is read to its end at once
            merge.read_to_end(stream)
    for start in range(0, len(records), chunk):
        merge.take(records[start : start + chunk])
        for stream, last in last_of.items():
            if start <= last < start + chunk:
                merge.read_to_end(stream)
    HELD.append(merge.most_held)
    return ledgers, merge.finish()


HELD: list[int] = []
"""The most records each merge of a test held at once."""


def _as_read(records: Sequence[StoredRecord]) -> list[StoredRecord]:
    """Records as a consumer hands them over: partitions interleaved, each in log order."""
    by_partition: dict[tuple[str, int], list[StoredRecord]] = {}
    for record in records:
        by_partition.setdefault((record.topic, record.partition), []).append(record)
    queues = list(by_partition.values())
    read: list[StoredRecord] = []
    while any(queues):
        for queue in queues:
            read.extend(queue[:3])
            del queue[:3]
    return read


def _sorted(
    log: MemoryLog, scenario: Scenario, committed: dict[TopicPartition, int]
) -> tuple[Ledgers, Folded]:
    ledgers = Ledgers(scenario.new_processor, scenario.source, PARTITIONS)
    for number in range(PARTITIONS):  # the runtime makes every assigned number's ledger
        ledgers.at(number)
    folded = _plan_and_fold(
        log.history(), ledgers, committed, TOPICS, scenario.topic_order, scenario.source, None
    )
    return ledgers, folded


def _assert_same(streamed: tuple[Ledgers, Folded], planned: tuple[Ledgers, Folded]) -> None:
    (ledgers, folded), (expected_ledgers, expected) = streamed, planned
    assert [[e.id for e in d] for d in folded.decisions] == [
        [e.id for e in d] for d in expected.decisions
    ]
    assert ledgers.partitions() == expected_ledgers.partitions()
    assert [p.measures() for p in ledgers.processors()] == [
        p.measures() for p in expected_ledgers.processors()
    ]
    assert [r[0] for r in folded.refused] == [r[0] for r in expected.refused]
    assert folded.unfinished == expected.unfinished
    assert folded.events + folded.later_copies == expected.events + expected.later_copies
    assert folded.folded == expected.folded
    assert folded.failures == expected.failures


@pytest.mark.parametrize("crash_after", [None, 1, 3])
@pytest.mark.parametrize("slack", [NO_SLACK, timedelta(hours=1), ENDLESS])
@pytest.mark.parametrize("name", SCENARIOS)
def test_streaming_a_history_in_time_order_folds_what_sorting_it_does(
    name: str, slack: timedelta, crash_after: int | None
) -> None:
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, crash_after)
    for chunk in (1, 5, len(log.records)):
        streamed = _streamed(log, scenario, {}, slack=slack, chunk=chunk)
        planned = _sorted(log, scenario, {})
        _assert_same(streamed, planned)
        if slack == NO_SLACK and chunk == 1 and name == "onboarding plan":  # time spread out
            assert HELD[-1] < len(log.records) / 3, "folded as read, not held to the end"
    assert planned[1].decisions or crash_after is None, "a decision cut short is made again"
    assert planned[1].unfinished == (0 if crash_after is None else 1)
    assert len(planned[1].refused) == 2


@pytest.mark.parametrize("slack", [NO_SLACK, timedelta(minutes=3), timedelta.max])
@pytest.mark.parametrize("name", SCENARIOS)
def test_times_written_with_other_offsets_from_utc_are_streamed_by_their_instants(
    name: str, slack: timedelta
) -> None:
    """Times read with another offset than UTC's compare by their instants, as the sort's do
    (only slower); a slack reaching before the first year folds each number at its end."""
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, None, zoned=True)
    assert any(b'+04:00"' in (record.value or b"") for record in log.records), "zones kept"
    for chunk in (1, 4):
        _assert_same(
            _streamed(log, scenario, {}, slack=slack, chunk=chunk), _sorted(log, scenario, {})
        )


@pytest.mark.parametrize("name", SCENARIOS)
def test_what_lies_before_the_commit_is_only_applied_when_streamed_too(name: str) -> None:
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, None)
    middle = {
        TopicPartition(topic, partition): end // 2 for (topic, partition), end in log.ends().items()
    }
    _assert_same(
        _streamed(log, scenario, middle, slack=timedelta(minutes=2), chunk=3),
        _sorted(log, scenario, middle),
    )


def _with_a_late_record(
    scenario: Scenario, *, recorded_in_turn: bool
) -> tuple[MemoryLog, CloudEvent[Any]]:
    """The live log, then a copy of its last input but a tick (on a stream read last) that
    happened 400 days earlier; ``recorded_in_turn``: its ``recordedtime`` says it was recorded
    in turn. (A late tick changes nothing: ``test_a_late_tick_is_a_copy_wherever_it_is_read``.)"""
    log = _live_log(scenario, None)
    inputs = [scenario.decisive, *scenario.after]
    last_input = next(e for e in reversed(inputs) if not isinstance(e.data, ClockTicked))
    late = last_input.model_copy(
        update={
            "id": uuid.uuid4(),
            "orgid": ORGANISATIONS[0],
            "time": last_input.time - timedelta(days=400),
            "recordedtime": last_input.time if recorded_in_turn else None,
        }
    )
    log.append(event_record(late, TOPICS))
    return log, late


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_record_older_than_one_folded_makes_the_merge_give_up(name: str) -> None:
    scenario = SCENARIOS[name]()
    log, _ = _with_a_late_record(scenario, recorded_in_turn=False)
    with pytest.raises(Unordered):
        _streamed(log, scenario, {}, slack=NO_SLACK, chunk=1, read_last=log.records[-1])
    # With slack enough to wait for it, the merge still comes to the sorted fold.
    _assert_same(_streamed(log, scenario, {}, slack=ENDLESS, chunk=7), _sorted(log, scenario, {}))


def test_a_late_tick_is_a_copy_wherever_it_is_read() -> None:
    """Domain time never goes back: a tick not after its organisation's latest changes nothing,
    so the merge takes it for a copy however far behind it is, as the live ledger does, and
    does not give up on the history for it."""
    scenario = SCENARIOS["onboarding plan"]()
    log = _live_log(scenario, None)
    expected_ledgers, expected = _streamed(log, scenario, {}, slack=NO_SLACK, chunk=1)
    last_tick = scenario.after[-1]
    late = last_tick.model_copy(
        update={
            "id": uuid.uuid4(),
            "orgid": ORGANISATIONS[0],
            "time": last_tick.time - timedelta(days=400),
            "data": ClockTicked(now=last_tick.time - timedelta(days=400), sequence=0),
        }
    )
    log.append(event_record(late, TOPICS))
    ledgers, folded = _streamed(log, scenario, {}, slack=NO_SLACK, chunk=1)
    assert folded.later_copies == expected.later_copies + 1
    assert (folded.events, folded.folded) == (expected.events, expected.folded)
    assert [p.measures() for p in ledgers.processors()] == [
        p.measures() for p in expected_ledgers.processors()
    ]
    live = _rebuilt(log, scenario)
    assert live.has_applied(late)
    assert live.handle(late) == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_record_that_happened_long_ago_but_was_recorded_in_turn_is_streamed(name: str) -> None:
    """As a notification's outcome after a backlog: its ``time`` is when it was due, long
    before the records around it, its ``recordedtime`` when it went out. Both ways of
    rebuilding place it at the latter; the merge needs no slack for it."""
    scenario = SCENARIOS[name]()
    log, late = _with_a_late_record(scenario, recorded_in_turn=True)
    planned = _sorted(log, scenario, {})
    _assert_same(_streamed(log, scenario, {}, slack=NO_SLACK, chunk=1), planned)
    events = replay_plan(log.history(), TOPICS, scenario.topic_order, scenario.source).events
    position = [event.id for event in events].index(late.id)
    assert any(event.time > late.time for event in events[:position]), "placed by recordedtime"


@pytest.mark.parametrize("name", SCENARIOS)
def test_an_output_of_ours_the_first_pass_missed_makes_the_merge_give_up(name: str) -> None:
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, None)
    counts = dict.fromkeys(scenario.topic_order, PARTITIONS)
    index = DecisionIndex(scenario.source)  # told nothing
    ledgers = Ledgers(scenario.new_processor, scenario.source, PARTITIONS)
    streams = [TopicPartition(t, p) for t in scenario.topic_order for p in range(PARTITIONS)]
    merge = MergeFold(
        ledgers, index, {}, scenario.topic_order, streams, counts, NO_SLACK, topics=TOPICS
    )
    with pytest.raises(Unordered):
        merge.take(_as_read(log.records))


@pytest.mark.parametrize("name", SCENARIOS)
def test_an_output_of_ours_that_admission_refuses_makes_the_merge_give_up(name: str) -> None:
    """The first pass reads our outputs without admitting them: one that reads as ours but that
    admission refuses (here an over-long subject) was indexed as deciding its cause. The merge
    finds that out and gives up; sorting refuses the output and decides its cause again."""
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, None)
    at, record = next(
        (at, r)
        for at, r in enumerate(log.records)
        if r.value and decode_event(r.value).source == scenario.source
    )
    spoilt = decode_event(record.value or b"").model_copy(update={"subject": "x" * 300})
    log.records[at] = record._replace(value=event_record(spoilt, TOPICS).value)
    with pytest.raises(Unordered):
        _streamed(log, scenario, {}, slack=ENDLESS, chunk=5)
    _, planned = _sorted(log, scenario, {})
    assert log.records[at] in [refused for refused, _ in planned.refused]
    assert planned.decisions, "the spoilt output's cause is decided again"


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe",
        b'{"source":"/rituals/onboarding"',
        b'["source":"/rituals/onboarding"]',
        b'{"source":"/rituals/onboarding","id":"not a uuid"}',
        b'{"source":"/rituals/onboarding","id":7}',
        b'{"source":"/rituals/onboarding","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_the_first_pass_skips_a_record_it_cannot_read(value: bytes) -> None:
    """Such a record is refused by admission in the merge; the first pass must neither fail
    on it nor count it."""
    index = DecisionIndex("/rituals/onboarding")
    record = StoredRecord("rituals.onboarding", 0, 0, b"org0", value)
    index.take([record])
    assert index.own == set()
    assert not index.indexed(record)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("decided_before", [True, False], ids=["replay", "first-start"])
def test_a_fold_leaves_no_cyclic_garbage(name: str, decided_before: bool) -> None:
    """The runtime pauses the collector while it folds (docs/runtime.md, "Rebuild cost"): what
    a fold made that only the collector can free would stay, set aside with the state it
    built, until the next thaw (``services.common.collector``). So neither folding the
    history nor deciding again (a first start: nothing of ours in the log) may leave objects
    that refer to each other behind."""
    scenario = SCENARIOS[name]()
    log = _live_log(scenario, None)
    if not decided_before:
        inputs = MemoryLog()
        for record in log.records:
            if _source_of(record) != scenario.source:
                key, value = record.key or b"", record.value or b""
                inputs.append(OutgoingRecord(record.topic, key, value, ()))
        log = inputs
    gc.collect()
    with collector_paused():
        ledgers, folded = _streamed(log, scenario, {}, slack=ENDLESS, chunk=7)
        assert folded.events > 0
        assert bool(folded.decisions) is not decided_before
        assert ledgers.partitions()  # the state lives on: only what the fold left is counted
        assert gc.collect() == 0


def _source_of(record: StoredRecord) -> str | None:
    try:
        return decode_event(record.value or b"").source
    except RejectedEvent:
        return None
