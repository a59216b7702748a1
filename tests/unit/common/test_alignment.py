"""Records of one partition number go in domain-time order across topics, and wait for a topic
that is behind on the broker: a later tick never overtakes a cancel fetched after it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from aiokafka import TopicPartition

from services.common.alignment import AlignedBuffers, Fetched

CLOCK = TopicPartition("rituals.clock", 0)
RITUALS = TopicPartition("rituals.rituals", 0)
OTHER_CLOCK = TopicPartition("rituals.clock", 1)


def fetched(partition: TopicPartition, offset: int, hour: int) -> Fetched:
    record = SimpleNamespace(topic=partition.topic, partition=partition.partition, offset=offset)
    event = SimpleNamespace(replay_time=datetime(2026, 3, 2, hour, tzinfo=UTC))
    return Fetched(record, cast(Any, event), None)


def buffers(*owned: TopicPartition) -> AlignedBuffers:
    aligned = AlignedBuffers(["rituals.rituals", "rituals.clock"])
    aligned.own(owned)
    return aligned


def drain(aligned: AlignedBuffers, behind: set[TopicPartition]) -> list[tuple[str, int]]:
    return [(item.record.topic, item.record.offset) for item in aligned.drain(behind.__contains__)]


def test_a_later_tick_fetched_first_waits_for_the_topic_that_is_behind() -> None:
    aligned = buffers(CLOCK, RITUALS)
    aligned.add([fetched(CLOCK, 0, hour=10)])

    assert drain(aligned, behind={RITUALS}) == []

    aligned.add([fetched(RITUALS, 0, hour=9)])
    assert drain(aligned, behind=set()) == [("rituals.rituals", 0), ("rituals.clock", 0)]


def test_records_go_in_domain_time_order_across_topics_and_log_order_within_one() -> None:
    aligned = buffers(CLOCK, RITUALS)
    aligned.add([fetched(CLOCK, 0, hour=8), fetched(CLOCK, 1, hour=11)])
    aligned.add([fetched(RITUALS, 0, hour=9), fetched(RITUALS, 1, hour=7)])

    assert drain(aligned, behind=set()) == [
        ("rituals.clock", 0),
        ("rituals.rituals", 0),
        ("rituals.rituals", 1),
        ("rituals.clock", 1),
    ]


def test_a_partition_number_stops_where_a_topic_behind_runs_out() -> None:
    aligned = buffers(CLOCK, RITUALS)
    aligned.add([fetched(CLOCK, 0, hour=8), fetched(CLOCK, 1, hour=11)])
    aligned.add([fetched(RITUALS, 0, hour=9)])

    assert drain(aligned, behind={RITUALS}) == [("rituals.clock", 0), ("rituals.rituals", 0)]
    assert aligned.has_next({RITUALS}.__contains__) is False
    assert drain(aligned, behind=set()) == [("rituals.clock", 1)]


def test_a_lagging_partition_number_holds_back_only_itself() -> None:
    aligned = buffers(CLOCK, RITUALS, OTHER_CLOCK)
    aligned.add([fetched(CLOCK, 3, hour=10), fetched(OTHER_CLOCK, 7, hour=12)])

    assert drain(aligned, behind={RITUALS}) == [("rituals.clock", 7)]
    assert drain(aligned, behind=set()) == [("rituals.clock", 3)]


def test_records_of_partitions_not_owned_are_not_handed_out() -> None:
    aligned = buffers(CLOCK)
    aligned.add([fetched(OTHER_CLOCK, 0, hour=10)])
    aligned.drop([CLOCK])
    aligned.add([fetched(CLOCK, 0, hour=10)])

    assert drain(aligned, behind=set()) == []
