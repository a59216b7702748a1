"""The Kafka record of an event and of a dead letter: one definition for every producer."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.topics import TopicSettings, topic_for
from schemas import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RejectionReason, encode_event
from schemas.sealing import PersonalDataCipher

CONTENT_TYPE_HEADER = "content-type"
DLQ_HEADER_PREFIX = "rituals-dlq-"
DECISION_HEADER = "rituals-decision"
"""On every output of a decision: ``<id of its first output> <number of outputs>``. A rebuild
finds a decision cut short by a crash by counting the outputs that share it."""
DEAD_LETTER_BUDGET = 900_000
"""Bytes a dead letter may take (key, value, headers): under the 1 MiB a producer sends and a
broker accepts by default, so the dead letter of an oversized record can always be written."""
KEPT_HEADER_BYTES = 16_384
MAX_DETAIL_LENGTH = 1_024


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def event_record(
    event: CloudEvent[Any],
    topics: TopicSettings,
    decision: str | None = None,
    cipher: PersonalDataCipher | None = None,
) -> OutgoingRecord:
    """Structured-mode CloudEvent: JSON envelope as value, organisation id as key; ``decision``
    is the ``rituals-decision`` header of an output. With ``cipher`` (a ``Vault``), personal
    data is sealed (``schemas.sealing``)."""
    headers: tuple[tuple[str, bytes], ...] = (
        (CONTENT_TYPE_HEADER, CLOUDEVENTS_CONTENT_TYPE.encode()),
    )
    if decision is not None:
        headers += ((DECISION_HEADER, decision.encode()),)
    return OutgoingRecord(
        topic=topics.name(topic_for(event.type)),
        key=event.orgid.encode(),
        value=encode_event(event, cipher),
        headers=headers,
    )


def decision_records(
    outputs: Sequence[CloudEvent[Any]], topics: TopicSettings
) -> list[OutgoingRecord]:
    """The records of one decision's outputs, each marked as one of ``len(outputs)``."""
    if not outputs:
        return []
    decision = f"{outputs[0].id} {len(outputs)}"
    return [event_record(output, topics, decision) for output in outputs]


def decision_mark(headers: Sequence[tuple[str, bytes]]) -> tuple[str, int] | None:
    """The decision an output belongs to and its size, from the record's headers (None for a
    record without the mark: an input, or an output written before the mark existed)."""
    for name, value in headers:
        if name == DECISION_HEADER:
            decision, _, count = value.decode("ascii", "replace").partition(" ")
            return (decision, int(count)) if count.isdigit() else None
    return None


@dataclass(frozen=True)
class DeadLetter:
    """A refused record: the original bytes and headers, plus why and where it came from."""

    service: str
    reason: RejectionReason
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]

    def record(self) -> OutgoingRecord:
        """The dead-letter record: the original whole when it fits ``DEAD_LETTER_BUDGET``,
        otherwise a reference to it (size, SHA-256, coordinates) with as much of it as fits."""
        notes = {
            "reason": self.reason.value,
            "detail": self.detail[:MAX_DETAIL_LENGTH],
            "service": self.service,
            "topic": self.topic,
            "partition": str(self.partition),
            "offset": str(self.offset),
        }
        original = tuple(
            (name, value) for name, value in self.headers if not name.startswith(DLQ_HEADER_PREFIX)
        )
        key, value = self.key or b"", self.value or b""
        if _size(key, value, original) > DEAD_LETTER_BUDGET:
            notes |= {
                "truncated": "true",
                "size": str(len(value)),
                "sha256": hashlib.sha256(value).hexdigest(),
            }
            if len(key) > MAX_DETAIL_LENGTH:
                notes["key-sha256"] = hashlib.sha256(key).hexdigest()
                key = key[:MAX_DETAIL_LENGTH]
            if _size(b"", b"", original) > KEPT_HEADER_BYTES:
                notes["headers-dropped"] = str(len(original))
                original = ()
            value = value[: DEAD_LETTER_BUDGET - _size(key, b"", original) - 2 * MAX_DETAIL_LENGTH]
        return OutgoingRecord(
            topic=f"{self.topic}.dlq",
            key=key,
            value=value,
            headers=original
            + tuple((DLQ_HEADER_PREFIX + name, text.encode()) for name, text in notes.items()),
        )


def _size(key: bytes, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
    return len(key) + len(value) + sum(len(name) + len(text) for name, text in headers)


def dead_letter_notes(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The ``rituals-dlq-*`` headers of a dead-letter record, without their prefix."""
    return {
        name.removeprefix(DLQ_HEADER_PREFIX): value.decode()
        for name, value in headers
        if name.startswith(DLQ_HEADER_PREFIX)
    }
