"""Which records a service accepts: one rule for the live consumer and the rebuild alike.

A record is admitted when its value decodes into a known, valid event (``schemas.decode_event``),
its envelope is within the platform's bounds (domain times, ``time`` and ``recordedtime``, in
[2000, 2200), free-text attributes of at most 256 characters: they are copied into every output
and log line), *and* it sits where the contract puts it: on the topic of its type, keyed by its
organisation id, on the partition that key hashes to. Everything else is refused with a
``RejectedEvent`` whose reason the dead-letter topic records; a refused record is never applied,
live or on rebuild, so the two always agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from aiokafka.partitioner import murmur2

from infra.topics import TopicSettings, topic_for
from schemas import CloudEvent, RejectedEvent, RejectionReason, decode_event
from schemas.sealing import PersonalDataCipher

EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
MAX_ATTRIBUTE_LENGTH = 256
BOUNDED_ATTRIBUTES = ("source", "type", "subject", "dataschema", "correlationid", "causationid")


class KafkaRecord(Protocol):
    """What admission reads of a record: aiokafka's and the rebuild's records both have it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@lru_cache(maxsize=65_536)
def partition_of(key: bytes, partition_count: int) -> int:
    """The partition Kafka's default partitioner (the Java client's, aiokafka's, kafka-python's)
    gives a key: murmur2, made positive, modulo the partition count. Remembered: keys are
    organisation ids, few, and the hash (in Python) cost a rebuild more than parsing JSON."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partition_count


def admit(
    record: KafkaRecord,
    topics: TopicSettings,
    partition_count: int | None = None,
    cipher: PersonalDataCipher | None = None,
) -> CloudEvent[Any]:
    """The record's event, or ``RejectedEvent`` saying why it is refused. ``partition_count`` is
    the number of partitions of the record's topic, when known (the partition check needs it).
    ``cipher`` (the process's ``Vault``) opens sealed personal data; without one, placeholders
    stand in for it (``schemas.sealing``). A record that makes decoding fail in a way nobody
    foresaw is refused too: one record never stops a partition, live or on rebuild."""
    try:
        return _admitted(record, topics, partition_count, cipher)
    except RejectedEvent:
        raise
    except Exception as error:
        detail = f"admission failed: {type(error).__name__}"
        raise RejectedEvent(RejectionReason.INVALID_PAYLOAD, detail) from None


def _admitted(
    record: KafkaRecord,
    topics: TopicSettings,
    partition_count: int | None,
    cipher: PersonalDataCipher | None,
) -> CloudEvent[Any]:
    event = decode_event(record.value or b"", cipher)
    _check_bounds(event)
    expected_topic = _topic_name(topics.prefix, event.type)
    if record.topic != expected_topic:
        raise RejectedEvent(
            RejectionReason.WRONG_TOPIC,
            f"{event.type} belongs on {expected_topic}, not on {record.topic}",
        )
    key = event.orgid.encode()
    if record.key != key:
        raise RejectedEvent(RejectionReason.WRONG_KEY, "the record key is not the event's orgid")
    if partition_count and record.partition != partition_of(key, partition_count):
        raise RejectedEvent(
            RejectionReason.WRONG_PARTITION,
            f"key hashes to partition {partition_of(key, partition_count)} of {partition_count} "
            f"(murmur2), not {record.partition}: the producer uses another partitioner",
        )
    return event


@lru_cache(maxsize=1_024)
def _topic_name(prefix: str, event_type: str) -> str:
    """The name of the topic of an event type, remembered: admission asks it for every record,
    of few types (the event's type is in the catalogue: it was decoded)."""
    return TopicSettings.model_construct(prefix=prefix).name(topic_for(event_type))


_SURELY_IN_BOUNDS = range(EARLIEST_TIME.year + 1, LATEST_TIME.year - 1)
"""Years whose every day is inside the bounds in UTC, whatever the time's offset."""


def _check_bounds(event: CloudEvent[Any]) -> None:
    # One expression for the usual event (admission runs for every record read); the checks
    # below say what is out of bounds, when something may be.
    # An outcome (a notification sent) carries when it was recorded: a fifth of a notifier's
    # history after a backlog, which took the slow path below for nothing.
    limit, subject, causationid = MAX_ATTRIBUTE_LENGTH, event.subject, event.causationid
    recorded = event.recordedtime
    if (
        event.time.year in _SURELY_IN_BOUNDS
        and (recorded is None or recorded.year in _SURELY_IN_BOUNDS)
        and len(event.source) <= limit
        and len(event.type) <= limit
        and len(event.dataschema) <= limit
        and len(event.correlationid) <= limit
        and (subject is None or len(subject) <= limit)
        and (causationid is None or len(causationid) <= limit)
    ):
        return
    if event.recordedtime is not None:
        _check_time("recordedtime", event.recordedtime)
    _check_time("time", event.time)
    for name in BOUNDED_ATTRIBUTES:
        value = getattr(event, name)
        if value is not None and len(value) > MAX_ATTRIBUTE_LENGTH:
            raise RejectedEvent(
                RejectionReason.OUT_OF_BOUNDS,
                f"{name} has {len(value)} characters; at most {MAX_ATTRIBUTE_LENGTH}",
            )


def _check_time(name: str, moment: datetime) -> None:
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise RejectedEvent(
            RejectionReason.OUT_OF_BOUNDS,
            f"{name} must be in [{EARLIEST_TIME.year}, {LATEST_TIME.year}), not year {moment.year}",
        )
