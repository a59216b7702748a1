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


def _letter(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> DeadLetter:
    return DeadLetter(
        service="matcher",
        reason=RejectionReason.INVALID_JSON,
        detail="x" * 5_000,
        topic="rituals.members",
        partition=3,
        offset=42,
        key=key,
        value=value,
        headers=headers,
    )


def test_the_dead_letter_of_an_oversized_record_is_a_bounded_reference_with_its_start() -> None:
    import hashlib

    from services.common.records import DEAD_LETTER_BUDGET

    original = b"{" + b"a" * 1_200_000
    letter = _letter(b"k" * 5_000, original, [("big", b"h" * 100_000)]).record()

    size = len(letter.key) + len(letter.value) + sum(len(n) + len(v) for n, v in letter.headers)
    assert size <= DEAD_LETTER_BUDGET
    assert original.startswith(letter.value)
    assert len(letter.value) > 800_000
    notes = dead_letter_notes(letter.headers)
    assert notes["truncated"] == "true"
    assert notes["size"] == str(len(original))
    assert notes["sha256"] == hashlib.sha256(original).hexdigest()
    assert notes["key-sha256"] == hashlib.sha256(b"k" * 5_000).hexdigest()
    assert notes["headers-dropped"] == "1"
    assert (notes["topic"], notes["partition"], notes["offset"]) == ("rituals.members", "3", "42")
    assert len(notes["detail"]) <= 1_024


def test_a_dead_letter_that_fits_is_the_original_whole() -> None:
    letter = _letter(b"acme", b"{not json", [("content-type", b"x")]).record()
    assert letter.value == b"{not json"
    assert "truncated" not in dead_letter_notes(letter.headers)
