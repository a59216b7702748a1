"""Reading a range of the snapshot topic: a fetch that answers late is not a gap in the log."""

from __future__ import annotations

from typing import Any, NamedTuple

from aiokafka import TopicPartition

from services.common.snapshots import _read_range
from tests.unit.common.fake_consumer import FakeConsumer

PLACE = TopicPartition("rituals.notifier.snapshots", 5)


class Record(NamedTuple):
    offset: int
    value: bytes


class SlowConsumer(FakeConsumer):
    """Answers ``silent`` fetches with nothing (as when the event loop was held up while a
    state was decoded in a thread), then the records from the position on. Its high watermark
    is the partition's end once a fetch has answered."""

    def __init__(self, records: list[Record], silent: int, highwater: int | None) -> None:
        super().__init__(ends={PLACE: highwater}, stable={PLACE: highwater})
        self.records = records
        self.silent = silent
        self.fetches = 0

    def seek(self, place: TopicPartition, offset: int) -> None:
        self.at[place] = offset

    async def getmany(self, place: TopicPartition, timeout_ms: int) -> dict[Any, list[Record]]:
        self.fetches += 1
        if self.fetches <= self.silent:
            return {}
        found = [record for record in self.records if record.offset >= self.at[place]]
        if found:
            self.at[place] = found[-1].offset + 1
        return {place: found} if found else {}


RECORDS = [Record(offset, f"chunk {offset}".encode()) for offset in range(6)]


async def test_records_that_are_there_are_read_through_fetches_that_answer_nothing() -> None:
    consumer = SlowConsumer(RECORDS, silent=3, highwater=6)
    found = await _read_range(consumer, PLACE, 3, 4)
    assert [record.offset for record in found] == [3]
    assert consumer.fetches == 4


async def test_a_range_past_the_partitions_end_is_given_up_at_the_first_empty_fetch() -> None:
    consumer = SlowConsumer(RECORDS, silent=0, highwater=6)
    assert await _read_range(consumer, PLACE, 6, 7) == []
    assert consumer.fetches == 1


async def test_a_range_with_records_removed_by_compaction_gives_those_that_are_left() -> None:
    compacted = [record for record in RECORDS if record.offset != 3]
    consumer = SlowConsumer(compacted, silent=1, highwater=6)
    found = await _read_range(consumer, PLACE, 2, 5)
    assert [record.offset for record in found] == [2, 4]
