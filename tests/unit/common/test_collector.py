"""The cyclic collector waits while one event is handled, and only then."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pytest
from faststream.kafka import TestKafkaBroker

from infra.topics import Topic
from schemas import CloudEvent
from services.common.collector import (
    collector_paused,
    full_collections_walk_the_new,
    set_aside_what_lives_on,
    thaw,
    young_collections_only,
)
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


def test_pauses_overlapping_in_threads_keep_it_paused_until_the_last_ends() -> None:
    """As restores decoding their states side by side do: the first to finish must not turn
    the collector on under the others."""
    first_inside, second_inside, first_done = (threading.Event() for _ in range(3))
    seen_after_the_first: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_inside.set()
            second_inside.wait(5)
        first_done.set()

    def second() -> None:
        first_inside.wait(5)
        with collector_paused():
            second_inside.set()
            first_done.wait(5)
            seen_after_the_first.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen_after_the_first == [False]
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


class _Cycle:
    def __init__(self) -> None:
        self.itself = self


def test_while_a_snapshot_is_encoded_young_cycles_are_collected_the_oldest_never_walked() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        assert gc.get_threshold()[:2] == before[:2]
        assert gc.get_threshold()[2] > 1_000_000
        collections = gc.get_stats()[2]["collections"]
        alive = len(gc.get_objects(generation=0))
        for _ in range(200_000):
            _Cycle()  # garbage only the collector frees
        assert len(gc.get_objects(generation=0)) < alive + 10_000
        assert gc.get_stats()[2]["collections"] == collections
    assert gc.get_threshold() == before


def test_the_thresholds_come_back_after_an_error_in_the_block() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), young_collections_only():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def _a_cycle_that_survives() -> tuple[list[_Cycle], weakref.ref[_Cycle]]:
    kept = [_Cycle()]
    return kept, weakref.ref(kept[0])


def test_while_a_service_runs_a_full_collection_walks_only_what_came_after_the_last() -> None:
    with full_collections_walk_the_new():
        kept, cycle = _a_cycle_that_survives()
        gc.collect()  # a full collection: the cycle survives it, and is set aside
        assert gc.get_freeze_count() > 0
        kept.clear()  # now garbage, but among what was set aside
        gc.collect()
        assert cycle() is not None, "the second full collection did not walk it"
        thaw()  # the next full collection walks everything again
        gc.collect()
        assert cycle() is None
    assert gc.get_freeze_count() == 0
    assert _after_a_collection_installed() is False


def test_what_was_set_aside_is_put_back_when_the_service_stops() -> None:
    with full_collections_walk_the_new():
        kept, cycle = _a_cycle_that_survives()
        gc.collect()
        kept.clear()
    gc.collect()
    assert cycle() is None
    assert gc.get_freeze_count() == 0


def test_everything_is_walked_again_once_the_thaw_period_is_over() -> None:
    with full_collections_walk_the_new(thaw_seconds=0.0):
        kept, cycle = _a_cycle_that_survives()
        gc.collect()  # the period is over at once: put back rather than set aside
        assert gc.get_freeze_count() == 0
        kept.clear()
        gc.collect()
        assert cycle() is None


def test_two_services_in_one_process_share_the_setting_until_the_last_stops() -> None:
    with full_collections_walk_the_new():
        with full_collections_walk_the_new():
            pass
        assert _after_a_collection_installed()
        gc.collect()
        assert gc.get_freeze_count() > 0
    assert not _after_a_collection_installed()
    assert gc.get_freeze_count() == 0


def _after_a_collection_installed() -> bool:
    return any(getattr(c, "__module__", "") == "services.common.collector" for c in gc.callbacks)


def test_a_restored_state_is_set_aside_at_once_while_a_service_runs() -> None:
    with full_collections_walk_the_new(), collector_paused():  # as a restore does
        restored = [[index] for index in range(1_000)]  # young: the next collection walks it
        assert _in_youngest(restored[-1])
        set_aside_what_lives_on()
        assert not _in_youngest(restored[-1])
        assert gc.get_freeze_count() >= len(restored)
    assert gc.get_freeze_count() == 0, "put back when the service stops"


def test_nothing_is_set_aside_when_survivors_are_not_set_aside_at_all() -> None:
    with collector_paused():
        restored = [[index] for index in range(1_000)]
        set_aside_what_lives_on()
        assert _in_youngest(restored[-1])
    assert gc.get_freeze_count() == 0


def _in_youngest(item: object) -> bool:
    return any(found is item for found in gc.get_objects(generation=0))
