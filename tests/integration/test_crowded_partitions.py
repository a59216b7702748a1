"""A partition that has stored many batches is still read to its end. The embedded broker lists
every batch a partition has stored on each fetch that brings records, and gives up listing when
the fetch's wait is over: a fetch with a short wait then brings nothing, for ever. On its
durable storage (as ``rituals up`` runs it) a 20 ms wait stopped at about 2,000 batches, a
50 ms one at about 6,000: two to four days of one clock tick a minute (docs/kafka.md)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, ensure_topics
from schemas import new_event
from services.common.adapters import history
from services.common.records import event_record
from tests.factories import member_joined
from tests.integration.support import FAST_GROUPS, running
from tests.integration.test_runtime import DEFINITION, T0, wait_for_answers

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        os.environ.get("RITUALS_TEST_ENGINE") == "kafka",
        reason="the embedded broker's own storage: tested in the embedded pass of make test",
    ),
    pytest.mark.timeout(240),
]
BATCHES = 3_000
"""Past where a 20 ms fetch stopped on the durable embedded broker (about 2,000)."""


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[KafkaSettings]:
    broker = EmbeddedBroker(data_dir=tmp_path / "data").start()
    try:
        yield KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    finally:
        broker.stop()


async def joins_a_batch_each(
    kafka: KafkaSettings, topics: TopicSettings, count: int, *, first: int = 0
) -> None:
    """Joins written as members join over months: each one a batch of its own."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=0)
    await producer.start()
    try:
        for n in range(first, first + count):
            event = new_event(member_joined(f"m{n}"), source="/tests", orgid="acme", time=T0)
            record = event_record(event, topics)
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


async def test_a_service_and_a_history_read_read_a_partition_of_thousands_of_batches(
    durable: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = TopicSettings(prefix="crowded.", partitions=1)
    ensure_topics(durable, topics)
    await joins_a_batch_each(durable, topics, BATCHES)
    async with running(DEFINITION, durable, topics, FAST_GROUPS):
        assert len(await wait_for_answers(durable, topics, BATCHES)) == BATCHES
        await joins_a_batch_each(durable, topics, 1, first=BATCHES)  # read live, at the end
        assert len(await wait_for_answers(durable, topics, BATCHES + 1)) == BATCHES + 1
    # The command line's history reads start at kafka-python's 500 ms, enough for 3,000
    # batches: started at 20 ms, a read shows that its wait rises too.
    monkeypatch.setattr(history, "HISTORY_FETCH_WAIT_MS", 20)
    members = [topics.name(Topic.MEMBERS)]
    gave_up = threading.Event()  # a read that never ends must not outlive the test
    read = asyncio.to_thread(
        lambda: list(history.read_records(durable, members, stopped=gave_up.is_set))
    )
    try:
        assert len(await asyncio.wait_for(read, timeout=60)) == BATCHES + 1
    finally:
        gave_up.set()
