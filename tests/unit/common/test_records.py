"""Record layout: structured-mode events and dead letters."""

from __future__ import annotations

from infra.topics import TopicSettings
from schemas import RejectionReason, decode_event
from services.common.records import DeadLetter, dead_letter_notes, event_record
from tests.factories import member_joined_event


def test_an_event_record_is_keyed_by_organisation_on_its_topic() -> None:
    event = member_joined_event(org="acme", member_id="ada")
    record = event_record(event, TopicSettings(prefix="dev."))
    assert record.topic == "dev.rituals.members"
    assert record.key == b"acme"
    assert dict(record.headers) == {"content-type": b"application/cloudevents+json"}
    assert decode_event(record.value) == event


def test_a_dead_letter_keeps_the_original_and_says_why() -> None:
    letter = DeadLetter(
        service="matcher",
        reason=RejectionReason.UNKNOWN_TYPE,
        detail="unknown event type 'x'",
        topic="rituals.members",
        partition=2,
        offset=41,
        key=b"acme",
        value=b"original bytes",
        headers=[("content-type", b"application/cloudevents+json"), ("rituals-dlq-reason", b"old")],
    ).record()

    assert letter.topic == "rituals.members.dlq"
    assert letter.key == b"acme"
    assert letter.value == b"original bytes"
    assert ("content-type", b"application/cloudevents+json") in letter.headers
    assert dead_letter_notes(letter.headers) == {
        "reason": "unknown_type",
        "detail": "unknown event type 'x'",
        "service": "matcher",
        "topic": "rituals.members",
        "partition": "2",
        "offset": "41",
    }
