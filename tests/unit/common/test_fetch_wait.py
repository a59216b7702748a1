"""A reader's fetch wait rises while the broker does not serve what it holds, and only then."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition

from services.common.fetch_wait import MOST_FETCH_WAIT_MS, FetchWait, PolledFetchWait
from tests.unit.common.fake_consumer import FakeConsumer, PolledFakeConsumer

CLOCK_PARTITION = TopicPartition("rituals.clock", 0)
MEMBERS_PARTITION = TopicPartition("rituals.members", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reader(consumer: FakeConsumer, clock: Clock, committed_only: bool = False) -> FetchWait:
    return FetchWait(consumer, committed_only=committed_only, reader="test", clock=clock)


def records(count: int) -> list[Any]:
    return [object()] * count


async def polls(wait: FetchWait, clock: Clock, brought: dict[Any, list[Any]], times: int) -> None:
    """Polls ``times``, each a whole wait (as it is then) and a millisecond after the last."""
    for _ in range(times):
        await wait.after_poll(brought)
        clock.now += (wait.ms + 1) / 1000


async def test_a_partition_bringing_none_of_what_it_holds_for_two_waits_doubles_the_wait() -> None:
    consumer = FakeConsumer(ends={CLOCK_PARTITION: 6_001}, at={CLOCK_PARTITION: 6_000})
    clock = Clock()
    wait = reader(consumer, clock)
    await polls(wait, clock, {}, 2)
    assert wait.ms == 20, "one wait of nothing is how a fetch at the end looks"
    await polls(wait, clock, {}, 1)
    assert wait.ms == 40
    await polls(wait, clock, {}, 2)
    assert wait.ms == 80


async def test_a_crawl_of_a_batch_a_fetch_through_thousands_waiting_doubles_the_wait() -> None:
    consumer = FakeConsumer(ends={CLOCK_PARTITION: 3_000}, at={CLOCK_PARTITION: 700})
    clock = Clock()
    wait = reader(consumer, clock)
    await polls(wait, clock, {CLOCK_PARTITION: records(1)}, 3)
    assert wait.ms == 40


async def test_polls_that_bring_what_is_waiting_leave_the_wait_alone() -> None:
    consumer = FakeConsumer(ends={CLOCK_PARTITION: 3_000}, at={CLOCK_PARTITION: 2_000})
    clock = Clock()
    wait = reader(consumer, clock)
    await polls(wait, clock, {CLOCK_PARTITION: records(500)}, 10)
    consumer.at[CLOCK_PARTITION] = 3_000  # read to the end: a poll bringing nothing is the end
    await polls(wait, clock, {}, 10)
    assert wait.ms == 20


async def test_a_served_poll_between_starved_ones_starts_the_count_again() -> None:
    consumer = FakeConsumer(ends={CLOCK_PARTITION: 6_001}, at={CLOCK_PARTITION: 6_000})
    clock = Clock()
    wait = reader(consumer, clock)
    for _ in range(5):
        await polls(wait, clock, {}, 1)
        await polls(wait, clock, {CLOCK_PARTITION: records(1)}, 1)
    assert wait.ms == 20


async def test_paused_partitions_and_those_not_fetched_yet_are_not_waited_for() -> None:
    consumer = FakeConsumer(
        ends={CLOCK_PARTITION: 6_001, MEMBERS_PARTITION: None},
        at={CLOCK_PARTITION: 0},
        paused_now={CLOCK_PARTITION},
    )
    clock = Clock()
    wait = reader(consumer, clock)
    await polls(wait, clock, {}, 5)
    assert wait.ms == 20


async def test_a_poll_cut_short_by_its_limit_is_not_starved() -> None:
    consumer = FakeConsumer(
        ends={CLOCK_PARTITION: 9_000, MEMBERS_PARTITION: 9_000},
        at={CLOCK_PARTITION: 0, MEMBERS_PARTITION: 0},
    )
    clock = Clock()
    wait = reader(consumer, clock)
    for _ in range(5):  # the members partition's records took the whole poll
        await wait.after_poll({MEMBERS_PARTITION: records(500)}, limit=500)
        clock.now += 1
    assert wait.ms == 20


async def test_a_read_committed_reader_waits_for_the_last_stable_offset() -> None:
    consumer = FakeConsumer(
        ends={CLOCK_PARTITION: 6_001},  # an open transaction's records, not readable yet
        stable={CLOCK_PARTITION: 6_000},
        at={CLOCK_PARTITION: 6_000},
    )
    clock = Clock()
    wait = reader(consumer, clock, committed_only=True)
    await polls(wait, clock, {}, 5)
    assert wait.ms == 20


@pytest.mark.parametrize("start", [4_000, MOST_FETCH_WAIT_MS])
async def test_the_wait_stops_at_its_most(start: int) -> None:
    consumer = FakeConsumer(
        ends={CLOCK_PARTITION: 6_001}, at={CLOCK_PARTITION: 6_000}, fetch_wait_ms=start
    )
    clock = Clock()
    wait = reader(consumer, clock)
    await polls(wait, clock, {}, 6)
    assert wait.ms == MOST_FETCH_WAIT_MS


def test_a_history_reads_wait_rises_the_same_way() -> None:
    consumer = PolledFakeConsumer(ends={CLOCK_PARTITION: 40_000}, at={CLOCK_PARTITION: 0})
    clock = Clock()
    wait = PolledFetchWait(consumer, reader="test", clock=clock)
    for _ in range(3):  # a batch a poll, of 40,000
        wait.after_poll({CLOCK_PARTITION: records(1)})
        clock.now += (wait.ms + 1) / 1000
    assert wait.ms == 1_000
    assert consumer._fetcher.config["fetch_max_wait_ms"] == 1_000


def test_a_history_read_served_what_waits_keeps_its_wait() -> None:
    consumer = PolledFakeConsumer(ends={CLOCK_PARTITION: 40_000}, at={CLOCK_PARTITION: 39_000})
    clock = Clock()
    wait = PolledFetchWait(consumer, reader="test", clock=clock)
    for _ in range(5):
        wait.after_poll({CLOCK_PARTITION: records(1_000)})
        clock.now += 1
    assert wait.ms == 500
