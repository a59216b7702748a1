"""The tests' own reader of topics: what every integration test's expectations are read with."""

from __future__ import annotations

from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, new_event
from tests.factories import T0, member_joined
from tests.kafka_io import produce_events, read_all

pytestmark = pytest.mark.broker


def joined(n: int) -> CloudEvent[Any]:
    return new_event(member_joined(f"m{n}"), source="/tests", orgid="acme", time=T0)


async def test_a_read_whose_polls_are_shorter_than_a_fetch_still_reads_to_the_end(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A busy machine's fetch can take longer than a poll waits: a read that ended at the first
    empty poll returned 3,718 of a partition's 4,000 answers, and a test failed on a stall that
    was its own reader's."""
    await produce_events(kafka.bootstrap_servers, topics, [joined(n) for n in range(500)])
    read = read_all(kafka.bootstrap_servers, topics.name(Topic.MEMBERS), idle_seconds=0.001)
    assert sorted(r.offset for r in read) == list(range(500))  # one partition: acme's
