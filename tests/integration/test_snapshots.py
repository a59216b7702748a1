"""Snapshots against a real broker: a restart restores each partition number's state from its
newest snapshot and reads only the log after it; a snapshot that is damaged, of another version
or whose manifest lies is ignored with a warning, and the partition is rebuilt from the whole
log. Never a crash, never a wrong state."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, new_event
from schemas.members import MemberErased
from schemas.onboarding import BuddyUnavailable
from services.common import snapshots
from services.common.adapters.publisher import EventPublisher
from services.common.privacy import configured_vault
from services.common.processing import Emit, Ledger
from services.common.runtime import ServiceRuntime
from services.common.settings import ServiceSettings
from services.common.snapshots import (
    SNAPSHOT_KEYS,
    Expected,
    SnapshotManifest,
    UnusableSnapshotError,
    encode_ledger,
    read_newest,
    snapshot_key_name,
    state_version,
    unpack,
)
from services.common.vault import Vault
from services.onboarding.app import DEFINITION
from services.onboarding.handlers import OnboardingProcessor
from tests.factories import member_joined
from tests.integration.support import FAST_GROUPS, running
from tests.kafka_io import ReadRecord, produce_events, read_all, wait_for_records

pytestmark = pytest.mark.broker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ORGANISATIONS = ("acme", "globex", "initech", "umbrella")
SNAPSHOT_EVERY_BATCH = FAST_GROUPS.model_copy(update={"snapshot_every": 1})


def joins(first: int, count: int) -> list[CloudEvent[Any]]:
    return [
        new_event(
            member_joined(f"m{n}"),
            source="/tests",
            orgid=ORGANISATIONS[n % len(ORGANISATIONS)],
            time=T0,
        )
        for n in range(first, first + count)
    ]


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (a state polled as a probe would)
            await asyncio.sleep(0.05)


def count(runtime: ServiceRuntime, outcome: str) -> float:
    return runtime.metrics.snapshots.labels("onboarding", outcome)._value.get()  # type: ignore[no-any-return]


def replayed(runtime: ServiceRuntime) -> float:
    return runtime.metrics.replayed.labels("onboarding")._value.get()  # type: ignore[no-any-return]


def owned_partitions() -> int:
    return len({ServiceRuntime(DEFINITION).ledgers.partition_of(org) for org in ORGANISATIONS})


async def history_with_snapshots(
    kafka: KafkaSettings, topics: TopicSettings, *, before: int, after: int
) -> None:
    """``before`` members, a run that snapshots and stops, then ``after`` more members."""
    await produce_events(kafka.bootstrap_servers, topics, joins(0, before))
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as first:
        await until(lambda: first.ready)
        assert first.ledgers.measures()["members_active"] == before
    assert count(first, "written") >= 1
    await produce_events(kafka.bootstrap_servers, topics, joins(before, after))


async def test_a_restart_restores_the_snapshots_and_reads_only_what_came_after(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    await history_with_snapshots(kafka, topics, before=200, after=30)

    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as restarted:
        assert restarted.ledgers.measures()["members_active"] == 230
        assert count(restarted, "restored") == owned_partitions()
        assert count(restarted, "ignored") == 0
        assert replayed(restarted) == 30


async def test_without_snapshots_a_restart_reads_everything(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    await history_with_snapshots(kafka, topics, before=200, after=30)
    off = FAST_GROUPS.model_copy(update={"snapshots": False})

    async with running(DEFINITION, kafka, topics, off) as restarted:
        assert restarted.ledgers.measures()["members_active"] == 230
        assert count(restarted, "restored") == 0
        assert replayed(restarted) == 230


def _newest_manifests(kafka: KafkaSettings, topic: str) -> list[ReadRecord]:
    newest: dict[int, ReadRecord] = {}
    for record in read_all(kafka.bootstrap_servers, topic):
        if record.key is not None and b"/" not in record.key:
            newest[record.partition] = record
    return list(newest.values())


def _edited(change: Callable[[dict[str, Any]], None]) -> Callable[[bytes], bytes]:
    def edit(value: bytes) -> bytes:
        manifest = json.loads(value)
        change(manifest)
        return json.dumps(manifest).encode()

    return edit


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "manifest not JSON": lambda value: value[: len(value) // 2],
    "another snapshot format": _edited(lambda m: m.update(format=99)),
    "another version of the code": _edited(lambda m: m.update(state_version="0" * 32)),
    "state bytes altered": _edited(lambda m: m.update(sha256="0" * 64)),
    "state truncated": _edited(lambda m: m.update(size=m["size"] + 1)),
    "chunk missing": _edited(lambda m: m.update(chunks=[*m["chunks"], 10_000_000])),
    "another partition count": _edited(lambda m: m.update(partition_count=99)),
    "offset past the log's end": _edited(
        lambda m: m.update(offsets={topic: 10_000_000 for topic in m["offsets"]})
    ),
}


async def damage_newest(
    kafka: KafkaSettings, topic: str, damage: str, manifests: list[ReadRecord] | None = None
) -> None:
    """Append a damaged copy of each partition's newest manifest (or of ``manifests``): it
    becomes the newest."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers.split(","))
    await producer.start()
    try:
        for manifest in manifests or _newest_manifests(kafka, topic):
            await producer.send_and_wait(
                topic,
                DAMAGE[damage](manifest.value or b""),
                key=manifest.key,
                partition=manifest.partition,
                headers=list(manifest.headers),
            )
    finally:
        await producer.stop()


async def test_every_kind_of_unusable_snapshot_is_told_apart(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    await history_with_snapshots(kafka, topics, before=120, after=10)
    snapshot_topic = topics.snapshots("onboarding")
    runtime = ServiceRuntime(DEFINITION, kafka=kafka, topics=topics)
    expected = Expected(
        service="onboarding",
        state_version=state_version(OnboardingProcessor),
        partition_count=topics.partitions,
        topics=tuple(runtime.topic_names),
    )
    originals = _newest_manifests(kafka, snapshot_topic)
    partition = originals[0].partition
    assert await read_newest(kafka, snapshot_topic, partition, expected) is not None

    for damage, why in DAMAGE_FOUND_AS.items():
        await damage_newest(kafka, snapshot_topic, damage, originals)
        with pytest.raises(UnusableSnapshotError, match=why):
            await read_newest(kafka, snapshot_topic, partition, expected)


DAMAGE_FOUND_AS = {
    "manifest not JSON": "does not parse",
    "another snapshot format": "format 99",
    "another version of the code": "another version of the code",
    "another partition count": "99 partitions then",
    "state bytes altered": "do not match the manifest",
    "state truncated": "do not match the manifest",
    "chunk missing": "chunk at offset 10000000 is missing",
    "offset past the log's end": "ends before the snapshot's offset",
}


async def test_an_unusable_snapshot_is_ignored_and_the_partition_rebuilt_whole(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    await history_with_snapshots(kafka, topics, before=120, after=10)
    await damage_newest(kafka, topics.snapshots("onboarding"), "state bytes altered")
    settings = FAST_GROUPS.model_copy(update={"snapshot_every": 1_000_000})

    async with running(DEFINITION, kafka, topics, settings) as restarted:
        assert restarted.ledgers.measures()["members_active"] == 130
        assert count(restarted, "restored") == 0
        assert count(restarted, "ignored") == owned_partitions()
        assert replayed(restarted) == 130


async def test_snapshots_are_written_on_the_cadence_and_on_a_clean_stop(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    settings = FAST_GROUPS.model_copy(update={"snapshot_every": 1_000_000})
    async with running(DEFINITION, kafka, topics, settings) as quiet:
        await produce_events(kafka.bootstrap_servers, topics, joins(0, 20))
        # Ready too: a clean stop snapshots a state it has finished rebuilding (after a
        # rebalance of a busy machine's group, it may still be rebuilding).
        await until(lambda: quiet.ready and quiet.ledgers.measures().get("members_active", 0) == 20)
        assert count(quiet, "written") == 0, "20 events are under the cadence"
    assert count(quiet, "written") == owned_partitions(), "a clean stop writes what changed"


async def test_a_stopped_runtime_that_snapshotted_is_freed_with_its_state(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """Several runtimes live in one process in tests, benchmarks and rebalances: a stopped one
    whose snapshots were written and restored must leave nothing of its state behind."""
    await history_with_snapshots(kafka, topics, before=20, after=5)

    async def restart_and_stop() -> tuple[weakref.ref[Any], weakref.ref[Any]]:
        async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as restarted:
            assert count(restarted, "restored") == owned_partitions()
            return weakref.ref(restarted), weakref.ref(restarted.ledgers.at(0))

    runtime, ledger = await restart_and_stop()
    gc.collect()
    assert runtime() is None
    assert ledger() is None


def test_settings_default_to_snapshots_on() -> None:
    settings = ServiceSettings()
    assert settings.snapshots
    assert settings.snapshot_every == 20_000


SECRET_NAME = "Bram Snapshotvanger"


def _opened_states(kafka: KafkaSettings, topic: str, vault: Vault) -> list[bytes | None]:
    """Every snapshot on the topic, opened as the service would (None: it no longer opens)."""
    records = read_all(kafka.bootstrap_servers, topic)
    chunks = {(r.partition, r.offset): r.value or b"" for r in records}
    states: list[bytes | None] = []
    for record in records:
        if record.key is None or b"/" in record.key:
            continue
        manifest = SnapshotManifest.model_validate_json(record.value or b"")
        packed = b"".join(chunks[(manifest.partition, offset)] for offset in manifest.chunks)
        assert manifest.sealed
        assert SECRET_NAME.encode() not in packed
        name = snapshot_key_name("onboarding", manifest.partition)
        context = f"snapshot onboarding {manifest.partition} {manifest.snapshot_id}".encode()
        opened = vault.open(SNAPSHOT_KEYS, name, context, packed.decode())
        states.append(None if opened is None else unpack(opened))
    return states


async def test_an_erasure_leaves_no_readable_copy_of_the_person_in_any_snapshot(
    kafka: KafkaSettings,
    topics: TopicSettings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("RITUALS_KEY_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("RITUALS_KEY_STORE_DIR", str(tmp_path / "keys"))
    vault = configured_vault()
    assert vault is not None
    bram = new_event(
        member_joined("bram", display_name=SECRET_NAME), source="/tests", orgid="acme", time=T0
    )
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([*joins(0, 20), bram])
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as first:
        await until(lambda: first.ready)
    before = _opened_states(kafka, topics.snapshots("onboarding"), vault)
    assert any(state and SECRET_NAME.encode() in state for state in before), "held, sealed"

    erased = new_event(MemberErased(member_id="bram"), source="/tests", orgid="acme", time=T0)
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([erased])
    vault.erase("acme", "bram")  # the service rotates its snapshot key when it reads the erasure
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as second:
        await until(lambda: second.ready and count(second, "written") >= 1)
        assert second.ledgers.measures()["members_active"] == 20
        for number in second.ledgers.partitions():  # the rebuilt state holds no trace either
            state = encode_ledger(second.ledgers.at(number), [])
            assert SECRET_NAME.encode() not in state

    after = _opened_states(kafka, topics.snapshots("onboarding"), vault)
    assert len(after) > len(before)
    assert not any(state and SECRET_NAME.encode() in state for state in after)
    assert any(state is not None for state in after), "the newest snapshots still open"


async def test_what_a_rebuild_decided_is_not_read_back_after_a_restart(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A first start decides the whole backlog (a buddy for every new hire); its snapshot
    covers those outputs too (folded in when they were published), so the restart reads
    nothing back and decides nothing again."""
    new_hires = [
        new_event(
            member_joined(f"n{n}", new_hire=True, start_date=T0.date()),
            source="/tests",
            orgid=ORGANISATIONS[n % len(ORGANISATIONS)],
            time=T0,
        )
        for n in range(12)
    ]
    await produce_events(kafka.bootstrap_servers, topics, [*joins(0, 40), *new_hires])
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as first:
        await until(lambda: first.ready and count(first, "written") >= owned_partitions())
    decided = read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING))
    assert decided, "the first start decided"

    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as restarted:
        await until(lambda: restarted.ready)
        assert count(restarted, "restored") == owned_partitions()
        assert replayed(restarted) == 0
    assert len(read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING))) == len(decided)


class LostAcknowledgements:
    """The broker's acknowledgement of the outputs that mention ``marker`` lost (none of them
    written), until ``recovered``."""

    def __init__(self, runtime: ServiceRuntime, marker: bytes) -> None:
        self.runtime, self.marker = runtime, marker
        self.lost = 0
        self.recovered = asyncio.Event()
        self._enqueue = runtime._enqueue
        runtime._enqueue = self._losing  # type: ignore[method-assign]

    async def _losing(self, record: Any) -> asyncio.Future[Any]:
        if self.marker not in record.value or self.recovered.is_set():
            return await self._enqueue(record)
        self.lost += 1
        never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        never.set_exception(KafkaTimeoutError())
        return never


class LostBatchAndRebalance(LostAcknowledgements):
    """What a lost partition leader did on a three-node cluster: the outputs of one batch never
    acknowledged, and a rebalance giving the instance the same partitions, begun while that
    batch is being handled (the revocation waits for it) or right after it, before the next
    poll."""

    def __init__(self, runtime: ServiceRuntime, marker: bytes, *, during: bool) -> None:
        super().__init__(runtime, marker)
        self.during = during
        self.ready_at_the_rebalance: bool | None = None
        self.rebalanced = asyncio.Event()
        self._handle = runtime.handle_buffered
        runtime.handle_buffered = self._handling  # type: ignore[method-assign]

    async def _losing(self, record: Any) -> asyncio.Future[Any]:
        lost = await super()._losing(record)
        if self.during and self.lost == 1:
            self._start_rebalance()
        return lost

    async def _handling(self, consumer: Any) -> None:
        await self._handle(consumer)
        if self.lost and not self.recovered.is_set():
            self.recovered.set()
            if not self.during:
                self._start_rebalance()

    def _start_rebalance(self) -> None:
        asyncio.get_running_loop().create_task(self._rebalance())

    async def _rebalance(self) -> None:
        """As aiokafka's listener calls the runtime (``_RebuildOnAssignment``)."""
        self.ready_at_the_rebalance = self.runtime.ready
        partitions = set(self.runtime.assignment)
        await self.runtime.partitions_revoked(partitions)
        self.runtime.partitions_assigned(partitions)
        self.rebalanced.set()


@pytest.mark.parametrize("during", [True, False], ids=["during-the-batch", "after-the-batch"])
async def test_a_rebalance_around_a_failed_batch_snapshots_nothing_of_it(
    kafka: KafkaSettings, topics: TopicSettings, during: bool
) -> None:
    """Found on Apache Kafka with a leader killed: the revocation snapshotted a state that held
    a batch whose transaction had failed. Rebuilt from that snapshot, the batch counted as
    decided, and a new hire never got a buddy. Such a state is now not ready and never
    snapshotted, also by a revocation that began while the batch was being handled; the batch
    is decided again."""
    hire = new_event(
        member_joined("late-hire", new_hire=True, start_date=T0.date()),
        source="/tests",
        orgid=ORGANISATIONS[0],
        time=T0,
    )
    await produce_events(kafka.bootstrap_servers, topics, joins(0, 8))
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as runtime:
        await until(lambda: runtime.ready)
        fault = LostBatchAndRebalance(runtime, b"late-hire", during=during)
        await produce_events(kafka.bootstrap_servers, topics, [hire])
        await until(lambda: fault.rebalanced.is_set())
        assert fault.lost >= 1
        assert fault.ready_at_the_rebalance is during, "after the failure: not ready"
        await until(lambda: runtime.ready, within=60)

    def decided_for_the_hire(found: list[ReadRecord]) -> bool:
        return any(
            b"late-hire" in (record.value or b"")
            and b"rituals.onboarding.buddy_" in (record.value or b"")
            for record in found
        )

    await wait_for_records(
        kafka.bootstrap_servers, topics.name(Topic.ONBOARDING), decided_for_the_hire
    )

    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as restarted:
        await until(lambda: restarted.ready)
        assert restarted.ledgers.measures()["members_active"] == 9


async def test_a_workers_outputs_that_were_not_acknowledged_do_not_stay_in_the_state(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A worker's outputs (the notifier's deliveries) are folded in as they are published; when
    the broker does not acknowledge them, the state is rebuilt from the log without them, and
    nothing snapshots it meanwhile."""
    await produce_events(kafka.bootstrap_servers, topics, joins(0, 4))
    async with running(DEFINITION, kafka, topics, SNAPSHOT_EVERY_BATCH) as runtime:
        await until(lambda: runtime.ready)
        cause = joins(0, 1)[0]
        fault = LostAcknowledgements(runtime, b"unacknowledged")
        emits = [Emit(BuddyUnavailable(new_hire_id="unacknowledged", reason="test"))]
        with pytest.raises(KafkaTimeoutError):
            await runtime.publish(cause, emits)
        assert fault.lost == 1
        assert not runtime.ready
        fault.recovered.set()
        await until(lambda: runtime.ready, within=60)
        output = runtime.ledgers.outputs(cause, emits)[0]
        assert not runtime.ledgers.has_applied(output)


class HeldEncoding:
    """``encode_ledger`` held in the middle until ``released`` is set: where it runs, and
    whether the event loop went on meanwhile (it is what releases it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.released = threading.Event()
        self.threads: list[str] = []
        self.held_until_released: list[bool] = []
        monkeypatch.setattr(snapshots, "encode_ledger", self._encode)

    def _encode(self, ledger: Ledger, configuration: Sequence[object]) -> bytes:
        self.threads.append(threading.current_thread().name)
        self.started.set()
        # Bounded: on the event loop's thread nothing could release it.
        self.held_until_released.append(self.released.wait(timeout=60))
        return encode_ledger(ledger, configuration)


async def test_a_state_is_encoded_off_the_event_loop_and_a_workers_outputs_wait_for_it(
    kafka: KafkaSettings, topics: TopicSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encoding a large state takes seconds: the event loop keeps heartbeating and serving
    meanwhile, and a worker's outputs are folded in only once the state is encoded, so the
    snapshot holds none of them half-way and they are not lost."""
    await produce_events(kafka.bootstrap_servers, topics, joins(0, 8))
    settings = FAST_GROUPS.model_copy(update={"snapshot_every": 1_000_000})
    async with running(DEFINITION, kafka, topics, settings) as runtime:
        await until(lambda: runtime.ready)
        held = HeldEncoding(monkeypatch)
        writing = asyncio.create_task(runtime.snapshots.write_changed(runtime.ledgers.partitions()))
        await until(held.started.is_set)
        cause = joins(0, 1)[0]
        emits = [Emit(BuddyUnavailable(new_hire_id="during-the-encoding", reason="test"))]
        publishing = asyncio.create_task(runtime.publish(cause, emits))
        await asyncio.sleep(0.5)  # the loop runs while the state is being encoded
        output = runtime.ledgers.outputs(cause, emits)[0]
        assert not publishing.done()
        assert not runtime.ledgers.has_applied(output), "folded in under the encoding thread"
        held.released.set()
        await asyncio.wait_for(writing, 30)
        await asyncio.wait_for(publishing, 30)
        assert runtime.ledgers.has_applied(output)
    assert held.held_until_released[0], "the encoding held the event loop"
    assert threading.main_thread().name not in held.threads
    assert count(runtime, "written") >= 1
    assert count(runtime, "failed") == 0
