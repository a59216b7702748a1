"""Time that does not pile up: a restart reads the clock ticks since the group's last commit
(and a window before it), not every minute since the organisation began."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent, new_event
from schemas.clock import ClockTicked
from services.common.runtime import ServiceRuntime
from services.notifier.app import DEFINITION
from services.notifier.handlers import NotifierProcessor
from tests.factories import T0, member_joined
from tests.integration.support import FAST_GROUPS, running
from tests.kafka_io import produce_events

pytestmark = pytest.mark.broker

HISTORY = 3_000
WINDOW = 100


def tick(minute: int) -> CloudEvent[Any]:
    now = T0 + timedelta(minutes=minute)
    return new_event(ClockTicked(now=now, sequence=minute), source="/tests", orgid="acme", time=now)


def clock_of(runtime: ServiceRuntime) -> Any:
    processor = runtime.ledgers.of("acme").processor
    assert isinstance(processor, NotifierProcessor)
    return processor.book.clocks.get("acme")


async def until_clock(runtime: ServiceRuntime, minute: int) -> None:
    for _ in range(600):
        if clock_of(runtime) == T0 + timedelta(minutes=minute):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"clock at {clock_of(runtime)}, not minute {minute}")


def replayed(runtime: ServiceRuntime) -> float:
    value: float = runtime.metrics.replayed.labels(DEFINITION.name)._value.get()
    return value


async def test_a_restart_reads_the_ticks_since_the_last_commit_not_since_the_beginning(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    joined = new_event(member_joined("ada"), source="/tests", orgid="acme", time=T0)
    await produce_events(
        kafka.bootstrap_servers, topics, [joined, *(tick(minute) for minute in range(HISTORY))]
    )
    windowed = FAST_GROUPS.model_copy(update={"clock_replay_window": WINDOW})
    async with running(DEFINITION, kafka, topics, windowed) as first:
        assert replayed(first) >= HISTORY  # a group that never committed reads everything
        await until_clock(first, HISTORY - 1)

    await produce_events(
        kafka.bootstrap_servers, topics, [tick(minute) for minute in range(HISTORY, HISTORY + 10)]
    )
    async with running(DEFINITION, kafka, topics, windowed) as second:
        assert replayed(second) <= 1 + WINDOW + 10  # the member, the window, the new ticks
        await until_clock(second, HISTORY + 9)
