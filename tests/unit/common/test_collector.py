"""The cyclic collector waits while one event is handled, and only then."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pytest
from faststream.kafka import TestKafkaBroker

from infra.topics import Topic
from schemas import CloudEvent
from services.common.collector import collector_paused
from services.common.domain.projection import DirectoryProcessor
from services.common.processing import Emit
from services.common.records import event_record
from services.common.replay import StoredRecord
from services.common.runtime import ServiceDefinition, ServiceRuntime
from tests.factories import member_joined_event


def fetched(topic: str, value: bytes, key: bytes | None, offset: int = 0) -> StoredRecord:
    """A record as the consumer hands it over (FastStream's in-memory broker has no group)."""
    return StoredRecord(topic, 0, offset, key, value)


@pytest.fixture(autouse=True)
def collector_enabled() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_in_the_block_and_enabled_after_it() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_in_the_block_still_enables_the_collector() -> None:
    with pytest.raises(ValueError, match="handler failed"), collector_paused():
        raise ValueError("handler failed")
    assert gc.isenabled()


def test_nested_pauses_keep_it_paused_until_the_outermost_ends() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


class Observing(DirectoryProcessor):
    collector_while_deciding: ClassVar[list[bool]] = []

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        self.collector_while_deciding.append(gc.isenabled())
        return ()


async def test_the_runtime_handles_an_event_with_the_collector_paused() -> None:
    runtime = ServiceRuntime(ServiceDefinition("observing", (Topic.MEMBERS,), Observing))
    record = event_record(member_joined_event(member_id="ada"), runtime.topics)

    async with TestKafkaBroker(runtime.broker):
        await runtime.handle_records([fetched(record.topic, record.value, record.key)])

    assert Observing.collector_while_deciding == [False]
    assert gc.isenabled()
