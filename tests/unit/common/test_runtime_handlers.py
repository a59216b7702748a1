"""The runtime's record handling on FastStream's in-memory broker: fast, no Kafka."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from faststream.kafka import KafkaMessage, TestKafkaBroker

from infra.topics import Topic
from schemas import CloudEvent, encode_event
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.common.domain.projection import DirectoryProcessor
from services.common.processing import Emit
from services.common.records import dead_letter_notes, event_record
from services.common.replay import StoredRecord
from services.common.runtime import (
    STATE_MEASURING_SHARE,
    STATE_REFRESH_SECONDS,
    ServiceDefinition,
    ServiceRuntime,
)
from tests.factories import member_joined_event


def fetched(topic: str, value: bytes, key: bytes | None, offset: int = 0) -> StoredRecord:
    """A record as the consumer hands it over (FastStream's in-memory broker has no group)."""
    return StoredRecord(topic, 0, offset, key, value)


class Answering(DirectoryProcessor):
    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if isinstance(event.data, MemberJoined):
            return (Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="test")),)
        return ()


DEFINITION = ServiceDefinition("answering", (Topic.MEMBERS,), Answering)


def listening(runtime: ServiceRuntime, topic: str) -> list[KafkaMessage]:
    received: list[KafkaMessage] = []

    @runtime.broker.subscriber(topic)
    async def collect(message: KafkaMessage) -> None:
        received.append(message)

    del collect
    return received


async def test_an_event_is_applied_and_its_outputs_published_with_the_contract_headers() -> None:
    runtime = ServiceRuntime(DEFINITION)
    outputs = listening(runtime, runtime.topics.name(Topic.ONBOARDING))
    event = member_joined_event(member_id="ada")
    record = event_record(event, runtime.topics)

    async with TestKafkaBroker(runtime.broker):
        await runtime.handle_records([fetched(record.topic, record.value, record.key)])

    assert runtime.ledgers.measures()["members_active"] == 1
    assert len(outputs) == 1
    assert outputs[0].raw_message.key == event.orgid.encode()  # type: ignore[union-attr]
    assert outputs[0].headers["content-type"] == "application/cloudevents+json"
    assert b"rituals.onboarding.buddy_unavailable" in outputs[0].body


async def test_a_malformed_record_goes_to_the_dead_letter_topic_with_its_reason() -> None:
    runtime = ServiceRuntime(DEFINITION)
    letters = listening(runtime, runtime.topics.dead_letter(Topic.MEMBERS))
    good = event_record(member_joined_event(member_id="ada"), runtime.topics)

    async with TestKafkaBroker(runtime.broker):
        await runtime.handle_records([fetched(good.topic, b"[1, 2]", b"acme")])
        await runtime.handle_records([fetched(good.topic, good.value, good.key)])

    assert len(letters) == 1
    raw = letters[0].raw_message
    notes = dead_letter_notes(list(raw.headers))  # type: ignore[union-attr]
    assert notes["reason"] == "not_a_cloudevent"
    assert "JSON object" in notes["detail"]
    assert letters[0].body == b"[1, 2]"
    assert runtime.ledgers.measures()["members_active"] == 1


async def test_an_invalid_payload_names_the_field_but_not_its_value() -> None:
    runtime = ServiceRuntime(DEFINITION)
    letters = listening(runtime, runtime.topics.dead_letter(Topic.MEMBERS))
    value = encode_event(member_joined_event(member_id="ada")).replace(
        b"ada@example.com", b"not-an-address"
    )

    async with TestKafkaBroker(runtime.broker):
        await runtime.handle_records([fetched(runtime.topics.name(Topic.MEMBERS), value, b"acme")])

    notes = dead_letter_notes(list(letters[0].raw_message.headers))  # type: ignore[union-attr]
    assert notes["reason"] == "invalid_payload"
    assert "data.email" in notes["detail"]
    assert "not-an-address" not in notes["detail"]


async def test_a_worker_that_fails_is_started_again_and_counted() -> None:
    """A worker that ended would leave a ready service doing nothing (no deliveries)."""
    runs: list[int] = []
    going = asyncio.Event()

    async def flaky(runtime: ServiceRuntime) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("a bug in the first run")
        going.set()
        await asyncio.Event().wait()  # runs until cancelled

    runtime = ServiceRuntime(replace(DEFINITION, workers=(flaky,)))
    await runtime.start_workers()
    try:
        await asyncio.wait_for(going.wait(), 30)
    finally:
        await runtime.stop_workers()
    assert runs == [0, 1]
    failures = runtime.metrics.registry.get_sample_value(
        "rituals_worker_failures_total", {"service": DEFINITION.name}
    )
    assert failures == 1


class SlowToMeasure(DirectoryProcessor):
    MEASURING_SECONDS = 0.05

    def measures(self) -> dict[str, float]:
        time.sleep(self.MEASURING_SECONDS)  # a state as large as a long backlog
        return dict(super().measures())


async def test_a_state_slow_to_measure_is_measured_less_often() -> None:
    """The gauges take a bounded share of the loop, however long a state takes to measure."""
    runtime = ServiceRuntime(ServiceDefinition("slow", (Topic.MEMBERS,), SlowToMeasure))
    runtime.ledgers.at(0)  # a partition's state to measure
    loop = asyncio.get_running_loop()
    runtime._show_state_soon()
    first = runtime._state_refresh
    assert first is not None
    assert first.when() - loop.time() <= STATE_REFRESH_SECONDS

    runtime._show_state()
    runtime._show_state_soon()

    after = runtime._state_refresh
    assert first.cancelled()
    assert after is not None
    least = SlowToMeasure.MEASURING_SECONDS / STATE_MEASURING_SHARE  # a sleep lasts at least that
    assert least > 2 * STATE_REFRESH_SECONDS
    assert after.when() - loop.time() > least - STATE_REFRESH_SECONDS
    after.cancel()
