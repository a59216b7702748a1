"""Snapshots of a service's state, one per partition number, so a restart reads the log since the
last snapshot rather than the whole history (docs/runtime.md, "Snapshots").

A snapshot holds one partition number's ``Ledger`` (the processor's state and its bookkeeping)
and, for every topic the service reads, the offset on that partition up to which the state folds
the log in. It lives on the service's compacted snapshot topic, on the partition of the same
number: the state in chunks (keys ``p<n>/<i>``, each under the producer's request size) and then
a manifest (key ``p<n>``) naming the chunks by offset, their size and SHA-256, the snapshot format
and the state version. Compaction keeps the newest record of each key; the newest manifest is the
last record of the partition, so finding it reads from the end, not the whole topic.

The state is encoded with ``pickle`` and read back by an unpickler that builds only this
platform's own classes and a short list of standard types: a snapshot is never a way to run
code. Configuration the processor was built with (policies) is not stored: it is referred to by
position and taken from the running code's fresh processor, so a restart with other settings
decides by the new settings. The state version is a digest of the code that shapes the state; a
snapshot written by other code, or of another format, truncated, corrupt or whose log tail is no
longer there is ignored with a warning, and the partition is rebuilt from the whole log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.metadata
import io
import json
import pickle
import sys
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict, ValidationError

from infra.kafka import KafkaSettings
from infra.topics import STATEFUL_SERVICES
from schemas import CloudEvent, EventPayload
from schemas.envelope import ReadSealedEvent
from schemas.members import MemberErased
from services.common.admission import partition_of
from services.common.collector import (
    collector_paused,
    set_aside_what_lives_on,
    young_collections_only,
)
from services.common.fetch_wait import FetchWait
from services.common.processing import Ledger, Processor

if TYPE_CHECKING:
    from services.common.runtime import ServiceDefinition, ServiceRuntime
    from services.common.vault import Vault

log = structlog.get_logger("rituals.snapshots")

SNAPSHOT_FORMAT = 1
CHUNK_BYTES = 512 * 1024
"""Bytes of state per record: well under the 1 MiB a producer sends and a broker takes."""
SNAPSHOT_HEADER = "rituals-snapshot"
"""On every chunk: the id of the snapshot it belongs to (its manifest names the same id)."""
FETCH_WAIT_MS = 20
END_WAIT_SECONDS = 10.0
READ_WAIT_SECONDS = 10.0
"""How long a read waits for records known to be there before it counts them as missing."""
FIRST_LOOK_BACK = 4
"""Records read back from a partition's end to find its newest manifest, at first."""
_PACKAGES_ROOT = Path(__file__).resolve().parents[2]


class SnapshotManifest(BaseModel):
    """What a snapshot covers and how to check it is whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int
    service: str
    state_version: str
    snapshot_id: str
    partition: int
    partition_count: int
    offsets: dict[str, int]
    """Per topic read (physical name): the state folds in this partition's records before it."""
    events: int
    """Events the state has folded in (for the logs and the benchmark)."""
    size: int
    sha256: str
    chunks: list[int]
    """Offsets of the chunk records on the snapshot topic's partition, in order."""
    sealed: bool = False
    """Encrypted with the partition's snapshot key (when a key-encryption key is configured):
    an erasure destroys that key, so no copy of the person survives in an older snapshot."""
    written_at: datetime


@dataclass(frozen=True)
class Snapshot:
    manifest: SnapshotManifest
    ledger: Ledger


class UnusableSnapshotError(Exception):
    """A snapshot that must not be used; the message says why (never its content)."""


# -- sealing: an erasure leaves no readable copy in a snapshot ----------------------------------

SNAPSHOT_KEYS = "rituals.snapshots"
"""The key store's name for the snapshots' data keys (no organisation may take this id)."""


def snapshot_key_name(service: str, partition: int) -> str:
    return f"{service}.p{partition}"


def _sealing_context(service: str, partition: int, snapshot_id: str) -> bytes:
    return f"snapshot {service} {partition} {snapshot_id}".encode()


def shred_snapshots(vault: Vault, organisation: str, partition_count: int) -> None:
    """Destroy the keys of every snapshot that may hold the organisation's members (those of its
    partition number, in every service): read at the next start, they are ignored and the state
    is rebuilt from the log, where the erased person's data is sealed with a destroyed key."""
    partition = partition_of(organisation.encode(), partition_count)
    for service in STATEFUL_SERVICES:
        vault.erase(SNAPSHOT_KEYS, snapshot_key_name(service, partition))


_ERASED_TYPE = MemberErased.event_type


def erases_personal_data(event: CloudEvent[Any]) -> bool:
    # By its type: its payload's model is chosen by it (a string comparison, for every record
    # a rebuild folds, costs half an isinstance of the payload).
    return event.type == _ERASED_TYPE


# -- the state version -----------------------------------------------------------------------


def state_version(processor_type: type) -> str:
    """A digest of everything that shapes a processor's state: its service's code, the common
    code, the event schemas, the library versions whose objects the state holds, and Python's.
    Any change to them makes older snapshots unusable: a rebuild from the log is always right."""
    service_package = processor_type.__module__.rsplit(".", 1)[0]
    return _code_digest(service_package)


@cache
def _code_digest(service_package: str) -> str:
    digest = hashlib.sha256(f"format {SNAPSHOT_FORMAT}\n".encode())
    digest.update(sys.version.encode())
    for library in ("pydantic", "pydantic-core"):
        digest.update(f"{library} {importlib.metadata.version(library)}\n".encode())
    folders = [service_package.replace(".", "/"), "services/common", "schemas"]
    for folder in folders:
        for path in sorted((_PACKAGES_ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(_PACKAGES_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


# -- encoding the state ----------------------------------------------------------------------


def shared_configuration(new_processor: Callable[[], Processor]) -> list[object]:
    """The objects every fresh processor shares (by identity): the configuration it was built
    with, such as policies. Found by building two and walking both in the same order."""
    first = list(_reachable(new_processor()))
    second = {id(obj) for obj in _reachable(new_processor())}
    return [obj for obj in first if id(obj) in second]


_SCALARS = (str, bytes, int, float, bool, type(None), Enum, datetime)


def _reachable(root: object) -> Iterator[object]:
    """Objects reachable from ``root`` through attributes and containers, each once, in a
    deterministic order (containers' own order; attributes in definition order)."""
    seen: set[int] = set()
    pending: list[object] = [root]
    while pending:
        obj = pending.pop()
        if isinstance(obj, _SCALARS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        children: list[object] = []
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple):
            children = list(obj)
        elif isinstance(obj, set | frozenset):
            children = sorted(obj, key=repr)
        else:
            children = list(getattr(obj, "__dict__", {}).values())
            children += [getattr(obj, name) for name in _slots(obj) if hasattr(obj, name)]
        pending.extend(reversed(children))


def _slots(obj: object) -> list[str]:
    return [name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())]


class _StatePickler(pickle.Pickler):
    """Configuration objects are written as references to their position (``configuration``),
    found by ``reducer_override``: pickle asks it only of objects that are not plain numbers,
    strings or containers, where a ``persistent_id`` is asked of every object, and those calls
    were half the time of writing a large state. A plain container of the configuration (the
    fields of a policy) is reached through the object that holds it, written as a reference."""

    def __init__(self, file: io.BytesIO, configuration: Sequence[object]) -> None:
        super().__init__(file, protocol=5)
        self._positions = {id(obj): position for position, obj in enumerate(configuration)}

    def reducer_override(self, obj: object) -> Any:
        """An event kept in the state (a read model's) is stored by its generic class's origin
        and payload class, plus its fields as pydantic keeps them: its generic class
        (``CloudEvent[MemberJoined]``) cannot be named for pickle. Its fields, not its JSON:
        decoding JSON again validated every field and cost a restart of the notifier, whose
        pending notices each keep their source event, most of its time. An event read sealed
        keeps both its opened payload and its ciphertext, as it was in the state."""
        position = self._positions.get(id(obj))
        if position is not None:
            return (configuration_object, (position,))
        if isinstance(obj, CloudEvent):
            generic = type(obj).__pydantic_generic_metadata__
            return (event_of_class, (generic["origin"], generic["args"]), obj.__getstate__())
        if type(obj) is uuid.UUID and obj.is_safe is _UNKNOWN_SAFETY:  # every event's id
            return (uuid_of_int, (obj.int,))
        return NotImplemented


def configuration_object(position: int) -> object:
    """Stands for the running code's configuration object at ``position``: the unpickler of a
    state gives its own configuration's (``_StateUnpickler.find_class``)."""
    raise pickle.UnpicklingError("a configuration reference outside a state")


_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def uuid_of_int(value: int) -> uuid.UUID:
    """A UUID from its integer, as ``UUID.__setstate__`` makes it but without looking the
    enum member up each time: that look-up was a third of restoring the notifier's state."""
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def event_of_class(origin: type, args: tuple[type, ...]) -> CloudEvent[Any]:
    """An empty event of ``origin[args]``, its fields set next from the snapshot. Only the
    platform's event envelopes of its payload models: a snapshot names no other class here."""
    model = _EVENT_CLASSES.get((origin, args))
    if model is None:
        if origin not in (CloudEvent, ReadSealedEvent) or not (
            len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], EventPayload)
        ):
            raise pickle.UnpicklingError("refused event class")
        parametrised: Any = origin[args[0]]
        model = _EVENT_CLASSES[(origin, args)] = parametrised
    return model.__new__(model)


_EVENT_CLASSES: dict[tuple[type, tuple[type, ...]], type[CloudEvent[Any]]] = {}
"""The event classes a snapshot named, by origin and payload class: few, and pydantic's own
look-up of a parametrised class cost more than setting the event's fields."""


_STANDARD_TYPES = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "int"),
    ("builtins", "str"),
    ("builtins", "object"),
    ("collections", "Counter"),
    ("collections", "defaultdict"),
    ("collections", "OrderedDict"),
    ("collections", "deque"),
    ("copyreg", "_reconstructor"),
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("uuid", "UUID"),
    ("uuid", "SafeUUID"),
    ("zoneinfo", "ZoneInfo"),
    ("zoneinfo._zoneinfo", "ZoneInfo"),
    ("pydantic_core._pydantic_core", "TzInfo"),  # the offset of a datetime read from JSON
}
_OWN_PACKAGES = ("services.", "schemas.", "infra.")


class _StateUnpickler(pickle.Unpickler):
    """Builds only the platform's own classes and a few standard types; anything else is a
    snapshot that was not written by the platform."""

    def __init__(self, file: io.BytesIO, configuration: Sequence[object]) -> None:
        super().__init__(file)
        self._configuration = configuration

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, configuration_object.__name__):
            return self._configuration_object
        if module.startswith(_OWN_PACKAGES) or (module, name) in _STANDARD_TYPES:
            if "." in name or name.startswith("__"):
                raise pickle.UnpicklingError(f"refused attribute path {module}.{name}")
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused type {module}.{name}")

    def _configuration_object(self, position: Any) -> object:
        if not isinstance(position, int) or not 0 <= position < len(self._configuration):
            raise pickle.UnpicklingError("unknown configuration reference")
        return self._configuration[position]


def encode_ledger(ledger: Ledger, configuration: Sequence[object]) -> bytes:
    """The ledger's state as bytes (configuration by reference). Nothing may change the state
    meanwhile: it must be seen as it is between two events (``Snapshots._encoded_state``)."""
    buffer = io.BytesIO()
    _StatePickler(buffer, configuration).dump(ledger)
    return buffer.getvalue()


def decode_ledger(raw: bytes, configuration: Sequence[object]) -> Ledger:
    try:
        with collector_paused():  # every object made lives on: a collection walks them for nothing
            ledger = _StateUnpickler(io.BytesIO(raw), configuration).load()
    except pickle.UnpicklingError as error:  # our own words: which type was refused
        raise UnusableSnapshotError(f"state does not decode ({error})") from error
    except Exception as error:
        raise UnusableSnapshotError(f"state does not decode ({type(error).__name__})") from error
    if not isinstance(ledger, Ledger):
        raise UnusableSnapshotError("state is not a ledger")
    return ledger


# -- records on the snapshot topic -----------------------------------------------------------


@dataclass(frozen=True)
class SnapshotRecord:
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def manifest_key(partition: int) -> bytes:
    return f"p{partition}".encode()


def chunk_records(partition: int, snapshot_id: str, packed: bytes) -> list[SnapshotRecord]:
    header = ((SNAPSHOT_HEADER, snapshot_id.encode()),)
    return [
        SnapshotRecord(
            f"p{partition}/{index}".encode(), packed[start : start + CHUNK_BYTES], header
        )
        for index, start in enumerate(range(0, max(len(packed), 1), CHUNK_BYTES))
    ]


def pack(raw: bytes) -> bytes:
    """Compressed (zlib, fast level): a state is mostly repeated names and field values."""
    return zlib.compress(raw, 1)


def new_manifest(
    *,
    service: str,
    version: str,
    snapshot_id: str,
    partition: int,
    partition_count: int,
    offsets: Mapping[str, int],
    events: int,
    packed: bytes,
    chunks: list[int],
    sealed: bool,
) -> SnapshotManifest:
    return SnapshotManifest(
        format=SNAPSHOT_FORMAT,
        service=service,
        state_version=version,
        snapshot_id=snapshot_id,
        partition=partition,
        partition_count=partition_count,
        offsets=dict(offsets),
        events=events,
        size=len(packed),
        sha256=hashlib.sha256(packed).hexdigest(),
        chunks=chunks,
        sealed=sealed,
        written_at=datetime.now(UTC),
    )


# -- reading the newest snapshot -------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What a usable snapshot must match."""

    service: str
    state_version: str
    partition_count: int
    topics: tuple[str, ...]


async def read_newest(
    kafka: KafkaSettings, snapshot_topic: str, partition: int, expected: Expected
) -> tuple[SnapshotManifest, bytes] | None:
    """The newest manifest of a partition number and its state's bytes, checked whole; None
    when there is none. ``UnusableSnapshotError`` when the newest one cannot be used."""
    consumer = AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        # A fetch at a partition's end answers (with its high watermark) at once, not after
        # the default half second: a restore asks that of every partition it reads.
        fetch_max_wait_ms=FETCH_WAIT_MS,
        **kafka.aiokafka_params(),
    )
    await consumer.start()
    try:
        place = TopicPartition(snapshot_topic, partition)
        consumer.assign([place])
        end = await _end(consumer, place)
        manifest = await _newest_manifest(consumer, place, partition, end)
        if manifest is None:
            return None
        _check_manifest(manifest, expected, partition)
        packed = await _chunks(consumer, place, manifest)
        await _check_tail(consumer, manifest)
        return manifest, packed
    finally:
        await consumer.stop()


async def _end(consumer: AIOKafkaConsumer, place: TopicPartition) -> int:
    """The partition's end: the end offset asked, or the high watermark of a fetch from there
    where that is larger (the embedded broker answers end-offset requests too small: the last
    batch's first offset + 1)."""
    asked: int = (await consumer.end_offsets([place]))[place]
    consumer.seek(place, asked)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + END_WAIT_SECONDS
    # A partition just assigned has no high watermark until its first fetch has answered.
    while (fetched := _highwater(consumer, place)) is None:
        if loop.time() > deadline:
            raise UnusableSnapshotError(f"{place.topic} did not say where it ends")
        await consumer.getmany(place, timeout_ms=FETCH_WAIT_MS * 5, max_records=1)
    return max(asked, fetched)


def _highwater(consumer: AIOKafkaConsumer, place: TopicPartition) -> int | None:
    found: int | None = consumer.highwater(place)
    return found


async def _newest_manifest(
    consumer: AIOKafkaConsumer, place: TopicPartition, partition: int, end: int
) -> SnapshotManifest | None:
    """Read back from the end, further each time, until a manifest of this partition number is
    found (a writer that died between its chunks and its manifest leaves chunks after it)."""
    key = manifest_key(partition)
    look_back = FIRST_LOOK_BACK
    while True:
        start = max(0, end - look_back)
        newest: bytes | None = None
        for record in await _read_range(consumer, place, start, end):
            if record.key == key and record.value is not None:
                newest = record.value
        if newest is not None:
            try:
                return SnapshotManifest.model_validate_json(newest)
            except ValidationError as error:
                errors = error.error_count()
                raise UnusableSnapshotError(f"manifest does not parse ({errors} errors)") from None
        if start == 0:
            return None
        look_back *= 8


async def _read_range(
    consumer: AIOKafkaConsumer, place: TopicPartition, start: int, end: int
) -> list[Any]:
    """The records of [start, end) that are there (compaction may have removed some)."""
    consumer.seek(place, start)
    records: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READ_WAIT_SECONDS
    fetch_wait = FetchWait(consumer, committed_only=True, reader="snapshot")
    while (position := await consumer.position(place)) < end:
        batch = await consumer.getmany(place, timeout_ms=1_000)
        await fetch_wait.after_poll(batch)
        if batch:
            records.extend(record for found in batch.values() for record in found)
            deadline = loop.time() + READ_WAIT_SECONDS
            continue
        highwater = _highwater(consumer, place)
        if (highwater is not None and highwater <= position) or loop.time() > deadline:
            break  # the partition ends earlier than it said (compacted or truncated)
        # Records are there but no fetch answered in time: the event loop may have waited
        # for a state being decoded in a thread (restores run side by side). Not a gap.
    return [record for record in records if record.offset < end]


def _check_manifest(manifest: SnapshotManifest, expected: Expected, partition: int) -> None:
    if manifest.format != SNAPSHOT_FORMAT:
        raise UnusableSnapshotError(f"format {manifest.format}, {SNAPSHOT_FORMAT} expected")
    if manifest.service != expected.service or manifest.partition != partition:
        raise UnusableSnapshotError("written for another service or partition")
    if manifest.state_version != expected.state_version:
        raise UnusableSnapshotError("written by another version of the code")
    if manifest.partition_count != expected.partition_count:
        raise UnusableSnapshotError(
            f"{manifest.partition_count} partitions then, {expected.partition_count} now"
        )
    if set(manifest.offsets) != set(expected.topics):
        raise UnusableSnapshotError("covers other topics than the service reads now")


async def _chunks(
    consumer: AIOKafkaConsumer, place: TopicPartition, manifest: SnapshotManifest
) -> bytes:
    parts: list[bytes] = []
    for offset in manifest.chunks:
        found = [r for r in await _read_range(consumer, place, offset, offset + 1)]
        record = found[0] if found and found[0].offset == offset else None
        headers = dict(record.headers or ()) if record is not None else {}
        if record is None or headers.get(SNAPSHOT_HEADER) != manifest.snapshot_id.encode():
            raise UnusableSnapshotError(f"chunk at offset {offset} is missing")
        parts.append(record.value or b"")
    packed = b"".join(parts)
    if len(packed) != manifest.size or hashlib.sha256(packed).hexdigest() != manifest.sha256:
        raise UnusableSnapshotError("state bytes do not match the manifest (truncated or altered)")
    return packed


async def _check_tail(consumer: AIOKafkaConsumer, manifest: SnapshotManifest) -> None:
    """The log after the snapshot must all be there: not removed by a retention, and not a
    topic made anew since (ending before the snapshot's offset)."""
    places = {TopicPartition(topic, manifest.partition): o for topic, o in manifest.offsets.items()}
    consumer.assign(list(places))
    firsts = await consumer.beginning_offsets(list(places))
    asked = await consumer.end_offsets(list(places))
    for place, offset in places.items():
        if firsts[place] > offset:
            raise UnusableSnapshotError(
                f"{place.topic} starts at {firsts[place]}, after the snapshot's {offset}"
            )
        if asked[place] < offset and await _end(consumer, place) < offset:
            raise UnusableSnapshotError(f"{place.topic} ends before the snapshot's offset {offset}")


def unpack(packed: bytes) -> bytes:
    try:
        return zlib.decompress(packed)
    except zlib.error as error:
        raise UnusableSnapshotError("state does not decompress") from error


def describe(manifest: SnapshotManifest) -> dict[str, Any]:
    """What the logs say of a snapshot (no state)."""
    return {
        "snapshot_partition": manifest.partition,
        "snapshot_events": manifest.events,
        "snapshot_bytes": manifest.size,
        "snapshot_offsets": json.dumps(manifest.offsets, sort_keys=True),
    }


class Snapshots:
    """When a runtime snapshots each partition number's state, and how it writes and restores
    them: every ``snapshot_every`` events or ``snapshot_seconds`` (checked after each batch), after
    a rebuild that read more than that, before handing partitions over, and on a clean stop."""

    def __init__(self, runtime: ServiceRuntime, definition: ServiceDefinition) -> None:
        self.runtime = runtime
        self.definition = definition
        self._folded: dict[TopicPartition, int] = {}
        """Per partition owned: the offset of the next record the state has not folded in."""
        self._changed: Counter[int] = Counter()
        """Per partition number: events folded in since its last snapshot."""
        self._last: dict[int, float] = {}
        self._publishing = 0
        self._encoded = asyncio.Event()
        """Clear while a state is being encoded (in a thread): a worker folds nothing in then."""
        self._encoded.set()
        self._topic_found = False
        self._erasures: set[int] = set()
        """Partition numbers that folded in an erasure: their snapshot key is replaced, and
        they are snapshotted at once, so no older snapshot of them can be read."""

    @property
    def topic(self) -> str:
        return self.runtime.topics.snapshots(self.definition.name)

    @property
    def enabled(self) -> bool:
        return (
            self.runtime.settings.snapshots
            and self._topic_found
            and self.runtime._consumer is not None
        )

    def found_topic(self, found: bool) -> None:
        """Whether the service has a snapshot topic (``infra.topics.STATEFUL_SERVICES``)."""
        self._topic_found = found
        if not found and self.runtime.settings.snapshots:
            log.info("no snapshot topic; every rebuild reads the whole log", topic=self.topic)

    # Per instance, not ``functools.cache`` on the method: that cache is the class's, and
    # kept every runtime ever made alive, ledgers and all (a benchmark's process held GBs).
    @cached_property
    def _configuration(self) -> list[object]:
        return shared_configuration(self.definition.new_processor)

    @cached_property
    def _version(self) -> str:
        return state_version(type(self.definition.new_processor()))

    @contextlib.asynccontextmanager
    async def publishing(self) -> AsyncIterator[None]:
        """Around a worker's publish: its outputs are folded in before they are acknowledged,
        so no snapshot is taken meanwhile (it could hold an output the log never got). One that
        comes while a state is being encoded waits for the encoding to end: the state must not
        change under the thread encoding it."""
        while not self._encoded.is_set():
            await self._encoded.wait()
        self._publishing += 1  # no await since the check: no encoding can have begun
        try:
            yield
        finally:
            self._publishing -= 1

    def folded(
        self, partition: TopicPartition, next_offset: int, event: CloudEvent[Any] | None
    ) -> None:
        self._folded[partition] = next_offset
        self._changed[partition.partition] += 1
        if event is not None and erases_personal_data(event):
            self._erasures.add(partition.partition)

    def rebuilt(
        self,
        ends: Mapping[TopicPartition, int],
        events: Mapping[int, int],
        erasures: Iterable[int],
    ) -> None:
        self._folded = dict(ends)
        numbers = {partition.partition for partition in ends}
        self._changed = Counter({number: events.get(number, 0) for number in numbers})
        self._last = dict.fromkeys(numbers, time.monotonic())
        self._erasures = set(erasures) & numbers

    async def write_due(self) -> None:
        now, settings = time.monotonic(), self.runtime.settings
        await self._write(
            number
            for number, count in self._changed.items()
            if count >= settings.snapshot_every
            or (count and now - self._last.get(number, now) >= settings.snapshot_seconds)
            or number in self._erasures
        )

    async def write_changed(self, numbers: Iterable[int]) -> None:
        await self._write(number for number in numbers if self._changed[number])

    async def _write(self, numbers: Iterable[int]) -> None:
        for number in sorted(numbers):
            if not self.enabled or self._publishing:  # checked again after every await
                return
            try:
                await self._write_one(number)
            except Exception as error:  # a snapshot is an optimisation: never a stop
                self.runtime.metrics.snapshots.labels(self.definition.name, "failed").inc()
                log.warning(
                    "snapshot not written", partition=number, error_type=type(error).__name__
                )

    async def _write_one(self, number: int) -> None:
        started = time.perf_counter()
        ledgers = self.runtime.ledgers
        offsets = {
            topic: self._past_own_outputs(TopicPartition(topic, number))
            for topic in self.runtime.topic_names
        }
        ledger = ledgers.at(number)
        covered = self._changed[number]
        raw = await self._encoded_state(ledger)
        erasure = number in self._erasures
        snapshot_id = uuid.uuid4().hex
        packed = await asyncio.to_thread(self._packed, raw, number, snapshot_id, erasure)
        chunks = await self._send(number, chunk_records(number, snapshot_id, packed))
        manifest = new_manifest(
            service=self.definition.name,
            version=self._version,
            snapshot_id=snapshot_id,
            partition=number,
            partition_count=ledgers.partition_count,
            offsets=offsets,
            events=ledger.applied_count(),
            packed=packed,
            chunks=chunks,
            sealed=self.runtime.vault is not None,
        )
        header = ((SNAPSHOT_HEADER, snapshot_id.encode()),)
        record = SnapshotRecord(manifest_key(number), manifest.model_dump_json().encode(), header)
        await self._send(number, [record])
        self._changed[number] -= covered  # what was folded in meanwhile counts for the next
        if erasure:
            self._erasures.discard(number)
        self._last[number] = time.monotonic()
        took = time.perf_counter() - started
        metrics = self.runtime.metrics
        metrics.snapshot_seconds.labels(self.definition.name).set(took)
        metrics.snapshot_bytes.labels(self.definition.name).set(len(packed))
        metrics.snapshots.labels(self.definition.name, "written").inc()
        log.info("snapshot written", seconds=round(took, 3), **describe(manifest))

    async def _encoded_state(self, ledger: Ledger) -> bytes:
        """The state as it is now, encoded in a thread: a large state takes seconds, and the
        event loop keeps heartbeating and serving meanwhile. Nothing changes the state until
        it is encoded: the caller holds the consumer's batches off, and ``publishing`` holds a
        worker's outputs off."""
        configuration = self._configuration
        self._encoded.clear()
        try:
            # A full collection walks every object of the state while holding the interpreter
            # lock: the event loop stalled for 1.1-1.5 s at a time with it, 0.3-0.4 s without.
            with young_collections_only():
                return await asyncio.to_thread(encode_ledger, ledger, configuration)
        finally:
            self._encoded.set()

    def _past_own_outputs(self, partition: TopicPartition) -> int:
        """Where the state folds the partition in to: past what it handled, and past the
        service's own acknowledged outputs that follow (folded in when they were published),
        so a restart does not read back what a rebuild just decided."""
        offset = self._folded[partition]
        own = self.runtime.own_outputs(partition)
        while offset in own:
            offset += 1
        return offset

    def _packed(self, raw: bytes, number: int, snapshot_id: str, erasure: bool) -> bytes:
        """Compressed, and sealed with the partition's snapshot key where there is a vault; after
        an erasure with a new key, so that older snapshots of the partition open no more."""
        packed = pack(raw)
        vault = self.runtime.vault
        if vault is None:
            return packed
        name = snapshot_key_name(self.definition.name, number)
        if erasure:
            vault.erase(SNAPSHOT_KEYS, name)
        context = _sealing_context(self.definition.name, number, snapshot_id)
        return vault.seal(SNAPSHOT_KEYS, name, context, packed).encode()

    def _unsealed(self, manifest: SnapshotManifest, packed: bytes) -> bytes:
        if not manifest.sealed:
            return packed
        vault = self.runtime.vault
        if vault is None:
            raise UnusableSnapshotError("sealed, and no key-encryption key is configured")
        name = snapshot_key_name(self.definition.name, manifest.partition)
        context = _sealing_context(self.definition.name, manifest.partition, manifest.snapshot_id)
        try:
            opened = vault.open(SNAPSHOT_KEYS, name, context, packed.decode())
        except ValueError as error:
            raise UnusableSnapshotError("sealed state does not open") from error
        if opened is None:
            raise UnusableSnapshotError("its key was destroyed (an erasure since)")
        return opened

    async def _send(self, number: int, records: Sequence[SnapshotRecord]) -> list[int]:
        """Write records to the partition of the number; their offsets once acknowledged."""
        sends = [
            await self.runtime.broker.publish(
                record.value,
                topic=self.topic,
                key=record.key,
                partition=number,
                headers={name: value.decode() for name, value in record.headers},
                no_confirm=True,
            )
            for record in records
        ]
        return [int(result.offset) for result in await asyncio.gather(*sends)]

    async def restore(self, numbers: Sequence[int]) -> dict[int, Snapshot]:
        """The newest usable snapshot of each partition number that has one."""
        if not self.enabled:
            return {}
        expected = Expected(
            service=self.definition.name,
            state_version=self._version,
            partition_count=self._partition_count(),
            topics=tuple(self.runtime.topic_names),
        )
        with collector_paused():  # nothing restored is walked before it is set aside
            found = await asyncio.gather(
                *(self._restore_one(number, expected) for number in numbers)
            )
            set_aside_what_lives_on()
        return {
            number: snapshot
            for number, snapshot in zip(numbers, found, strict=True)
            if snapshot is not None
        }

    async def _restore_one(self, number: int, expected: Expected) -> Snapshot | None:
        metrics = self.runtime.metrics.snapshots
        try:
            found = await read_newest(self.runtime.kafka, self.topic, number, expected)
            if found is None:
                return None
            manifest, packed = found
            configuration = self._configuration
            state = self._unsealed(manifest, packed)
            ledger = await asyncio.to_thread(lambda: decode_ledger(unpack(state), configuration))
        except UnusableSnapshotError as unusable:
            reason = str(unusable)
        except Exception as error:
            reason = f"could not be read ({type(error).__name__})"
        else:
            metrics.labels(self.definition.name, "restored").inc()
            log.info("snapshot restored", **describe(manifest))
            return Snapshot(manifest, ledger)
        metrics.labels(self.definition.name, "ignored").inc()
        log.warning(
            "snapshot ignored; rebuilding the partition from the whole log",
            partition=number,
            reason=reason,
        )
        return None

    def _partition_count(self) -> int:
        consumer = self.runtime._consumer
        found = consumer.partitions_for_topic(self.runtime.topic_names[0]) if consumer else None
        return len(found) if found else self.runtime.topics.partitions
