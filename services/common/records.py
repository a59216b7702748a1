"""The Kafka record of an event and of a dead letter: one definition for every producer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infra.topics import TopicSettings, topic_for
from schemas import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, RejectionReason, encode_event

CONTENT_TYPE_HEADER = "content-type"
DLQ_HEADER_PREFIX = "rituals-dlq-"


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def event_record(event: CloudEvent[Any], topics: TopicSettings) -> OutgoingRecord:
    """Structured-mode CloudEvent: JSON envelope as value, organisation id as key."""
    return OutgoingRecord(
        topic=topics.name(topic_for(event.type)),
        key=event.orgid.encode(),
        value=encode_event(event),
        headers=((CONTENT_TYPE_HEADER, CLOUDEVENTS_CONTENT_TYPE.encode()),),
    )


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
        notes = {
            "reason": self.reason.value,
            "detail": self.detail,
            "service": self.service,
            "topic": self.topic,
            "partition": str(self.partition),
            "offset": str(self.offset),
        }
        original = tuple(
            (name, value) for name, value in self.headers if not name.startswith(DLQ_HEADER_PREFIX)
        )
        return OutgoingRecord(
            topic=f"{self.topic}.dlq",
            key=self.key or b"",
            value=self.value or b"",
            headers=original
            + tuple((DLQ_HEADER_PREFIX + name, text.encode()) for name, text in notes.items()),
        )


def dead_letter_notes(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """The ``rituals-dlq-*`` headers of a dead-letter record, without their prefix."""
    return {
        name.removeprefix(DLQ_HEADER_PREFIX): value.decode()
        for name, value in headers
        if name.startswith(DLQ_HEADER_PREFIX)
    }
