"""The CloudEvents envelope: round trips, every way a record is refused, and event ids."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest

from schemas import (
    CATALOGUE,
    CLOUDEVENTS_CONTENT_TYPE,
    RejectedEvent,
    RejectionReason,
    decode_event,
    encode_event,
    new_event,
)
from schemas.catalogue import dataschema_uri
from schemas.members import MemberJoined, MemberLeft, MemberPaused
from schemas.upcasting import UPCASTERS
from tests.factories import (
    ORG,
    T0,
    event,
    member_joined_event,
    member_profile,
    sample_payload,
)


def _document(**changes: Any) -> dict[str, Any]:
    """A valid member.joined record value as a dict, with some attributes changed."""
    document: dict[str, Any] = json.loads(encode_event(member_joined_event()))
    document.update(changes)
    return document


def _raw(document: Any) -> bytes:
    return json.dumps(document, default=str).encode()  # dates from the factories as ISO text


def _rejection(raw: bytes) -> RejectedEvent:
    with pytest.raises(RejectedEvent) as refused:
        decode_event(raw)
    return refused.value


# --- Round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_every_event_type_survives_encoding_and_decoding(event_type: str) -> None:
    model = CATALOGUE[event_type]
    original = event(sample_payload(model), subject="m-1")

    decoded = decode_event(encode_event(original))

    assert decoded == original
    assert type(decoded.data) is model
    assert decoded.dataschema == dataschema_uri(model)


def test_encoded_event_is_a_structured_mode_cloudevent_without_empty_attributes() -> None:
    document = json.loads(encode_event(member_joined_event()))

    assert document["specversion"] == "1.0"
    assert document["type"] == "rituals.member.joined"
    assert document["orgid"] == ORG
    assert document["datacontenttype"] == "application/json"
    assert "causationid" not in document  # the first event of a flow has no cause
    assert CLOUDEVENTS_CONTENT_TYPE == "application/cloudevents+json"


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_keys_named_like_the_envelope_inside_data_do_not_change_the_decoding(
    event_type: str,
) -> None:
    """Decoding looks at the bytes for the type and dataschema to validate in one step; a
    producer writing ``data`` first, with keys of those names in it, gets the same event."""
    original = event(sample_payload(CATALOGUE[event_type]), subject="m-1")
    document = json.loads(encode_event(original))
    decoy = (
        "rituals.clock.ticked" if event_type != "rituals.clock.ticked" else "rituals.member.left"
    )
    decoy_data = sample_payload(CATALOGUE[decoy]).model_dump(mode="json")  # valid as the decoy
    data = {
        "type": decoy,
        "dataschema": dataschema_uri(CATALOGUE[decoy]),
        **decoy_data,
        **document["data"],
    }
    reordered = {"data": data, **{k: v for k, v in document.items() if k != "data"}}

    decoded = decode_event(json.dumps(reordered, separators=(",", ":")).encode())

    assert decoded == original
    assert type(decoded.data) is CATALOGUE[event_type]


@pytest.mark.parametrize(
    "dataschema",
    [
        pytest.param(dataschema_uri(CATALOGUE["rituals.clock.ticked"]), id="another-types-urn"),
        pytest.param("https://schemas.example.com/member-joined.json", id="a-foreign-uri"),
    ],
)
def test_the_type_decides_the_model_whatever_the_dataschema_names(dataschema: str) -> None:
    """The one-step look guesses the model from the dataschema; an event whose dataschema names
    another type, or is no URN of ours, is still read by its ``type``, as the whole way reads it."""
    original = event(sample_payload(MemberJoined), subject="m-1")
    document = json.loads(encode_event(original))
    document["dataschema"] = dataschema
    # The data is valid as a tick too: only the type tells the two apart.
    tick = sample_payload(CATALOGUE["rituals.clock.ticked"]).model_dump(mode="json")
    document["data"] = {**tick, **document["data"]}

    decoded = decode_event(json.dumps(document, separators=(",", ":")).encode())

    assert type(decoded.data) is MemberJoined
    assert decoded.model_dump() == {**original.model_dump(), "dataschema": dataschema}


def test_payload_fields_added_by_a_newer_producer_are_ignored() -> None:
    document = _document()
    document["data"]["favourite_colour"] = "green"

    decoded = decode_event(_raw(document))

    assert isinstance(decoded.data, MemberJoined)
    assert "favourite_colour" not in decoded.data.model_dump()


def test_upcasters_bring_an_older_payload_version_up_to_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        return {"member_id": data["member"], "last_day": data.get("last")}

    monkeypatch.setitem(UPCASTERS, ("rituals.member.left", 0), v0_to_v1)
    document = json.loads(encode_event(event(sample_payload(MemberLeft))))
    document["dataschema"] = "urn:rituals:schema:rituals.member.left:v0"
    document["data"] = {"member": "m-7", "last": "2025-03-31"}

    decoded = decode_event(_raw(document))

    assert decoded.data == MemberLeft(member_id="m-7", last_day=date(2025, 3, 31))


# --- Refusals -----------------------------------------------------------------------------------

REFUSED = [
    pytest.param(b"\xff\xfe not utf-8", RejectionReason.INVALID_JSON, id="undecodable-bytes"),
    pytest.param(b'{"specversion": "1.0",', RejectionReason.INVALID_JSON, id="truncated-json"),
    pytest.param(_raw([_document()]), RejectionReason.NOT_A_CLOUDEVENT, id="json-list"),
    pytest.param(
        _raw({k: v for k, v in _document().items() if k != "specversion"}),
        RejectionReason.NOT_A_CLOUDEVENT,
        id="missing-specversion",
    ),
    pytest.param(
        _raw(_document(type="rituals.member.teleported")),
        RejectionReason.UNKNOWN_TYPE,
        id="unknown-type",
    ),
    pytest.param(
        _raw(_document(data={"member_id": "m-1"})),
        RejectionReason.INVALID_PAYLOAD,
        id="invalid-payload",
    ),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, RejectionReason.INVALID_JSON, id="deep-list"),
    pytest.param(b'{"a":' * 50_000 + b"1" + b"}" * 50_000, RejectionReason.INVALID_JSON, id="deep"),
]


@pytest.mark.parametrize(("raw", "reason"), REFUSED)
def test_refused_record_says_why(raw: bytes, reason: RejectionReason) -> None:
    rejection = _rejection(raw)

    assert rejection.reason is reason
    assert rejection.detail
    assert str(rejection).startswith(f"{reason.value}: ")


def test_every_decoding_refusal_reason_is_covered() -> None:
    covered = {param.values[1] for param in REFUSED}
    # The others are decided after decoding succeeded, never by decode_event: where a record
    # sits and its bounds by admission (tests/unit/common/test_admission.py), handler and
    # delivery failures by a service.
    assert covered == set(RejectionReason) - {
        RejectionReason.HANDLER_FAILED,
        RejectionReason.DELIVERY_FAILED,
        RejectionReason.WRONG_TOPIC,
        RejectionReason.WRONG_KEY,
        RejectionReason.WRONG_PARTITION,
        RejectionReason.OUT_OF_BOUNDS,
    }


def test_missing_attribute_is_named_in_the_detail() -> None:
    raw = _raw({k: v for k, v in _document().items() if k != "specversion"})

    assert "specversion" in _rejection(raw).detail


def test_invalid_payload_detail_names_the_field_but_not_the_value() -> None:
    address = "jane.doe.at.example.org"
    document = _document(data=member_profile("m-1", email=address, display_name="Jane Doe"))
    document["data"]["start_date"] = "Jane's first day"

    detail = _rejection(_raw(document)).detail

    assert "data.email" in detail
    assert "data.start_date" in detail
    for value in (address, "Jane"):
        assert value not in detail


def test_invalid_envelope_detail_does_not_repeat_the_values() -> None:
    detail = _rejection(_raw(_document(orgid="Jane Doe's team!", time="not a time"))).detail

    assert "orgid" in detail
    assert "time" in detail
    assert "Jane" not in detail
    assert "not a time" not in detail


def test_invalid_time_zone_detail_does_not_repeat_the_value() -> None:
    detail = _rejection(_raw(_document(data=member_profile(timezone="Jane/Home")))).detail

    assert "data.timezone" in detail
    assert "Jane" not in detail


def test_working_hours_mixing_naive_and_aware_times_are_refused() -> None:
    hours = {"start": "09:00:00Z", "end": "17:00:00"}
    raw = _raw(_document(data=member_profile(working_hours=hours)))

    assert _rejection(raw).reason is RejectionReason.INVALID_PAYLOAD


# --- Event ids ----------------------------------------------------------------------------------


def test_same_cause_source_and_index_give_the_same_id() -> None:
    cause = member_joined_event()
    payload = MemberPaused(member_id="m-1")

    first = new_event(payload, source="/rituals/matcher", orgid=ORG, time=T0, cause=cause)
    again = new_event(payload, source="/rituals/matcher", orgid=ORG, time=T0, cause=cause)

    assert first.id == again.id


def test_index_source_and_cause_each_change_the_id() -> None:
    cause, other_cause = member_joined_event(), member_joined_event()
    payload = MemberPaused(member_id="m-1")

    def made(index: int, source: str, by: Any) -> uuid.UUID:
        built = new_event(payload, source=source, orgid=ORG, time=T0, cause=by, output_index=index)
        return built.id

    ids = {
        made(0, "/rituals/matcher", cause),
        made(1, "/rituals/matcher", cause),
        made(0, "/rituals/onboarding", cause),
        made(0, "/rituals/matcher", other_cause),
    }
    assert len(ids) == 4


def test_correlation_propagates_and_causation_points_at_the_cause() -> None:
    root = member_joined_event()
    child = new_event(
        MemberPaused(member_id="m-1"), source="/rituals/a", orgid=ORG, time=T0, cause=root
    )
    grandchild = new_event(
        MemberLeft(member_id="m-1"), source="/rituals/b", orgid=ORG, time=T0, cause=child
    )

    assert root.correlationid == str(root.id)
    assert root.causationid is None
    assert child.correlationid == grandchild.correlationid == str(root.id)
    assert child.causationid == str(root.id)
    assert grandchild.causationid == str(child.id)


def test_events_without_a_cause_get_fresh_ids() -> None:
    assert member_joined_event().id != member_joined_event().id


def test_an_explicit_id_wins() -> None:
    chosen = uuid.UUID("00000000-0000-4000-8000-000000000042")
    built = new_event(
        MemberPaused(member_id="m-1"), source="/x", orgid=ORG, time=T0, event_id=chosen
    )
    assert built.id == chosen
    assert built.correlationid == str(chosen)


def test_logging_context_holds_identifiers_only() -> None:
    context = member_joined_event(display_name="Jane Doe").to_logging_context()

    assert set(context) == {"event_id", "event_type", "org_id", "correlation_id"}
    assert "Jane Doe" not in json.dumps(context)
