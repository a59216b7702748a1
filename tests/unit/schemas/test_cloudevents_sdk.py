"""Interoperability with the official CloudEvents SDK (``cloudevents`` 2.x, ``cloudevents.core``):
integrations may use it to read our topics or to write events for the platform."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent

from schemas import CATALOGUE, CLOUDEVENTS_CONTENT_TYPE, decode_event, encode_event
from schemas.catalogue import dataschema_uri
from schemas.coffee import CoffeeMatched
from tests.factories import ORG, event, member_joined_event, sample_data, sample_payload


def _platform_record() -> tuple[Any, kafka.KafkaMessage]:
    """An event caused by another (so every optional attribute is set), as the platform writes
    it: value = structured-mode JSON, key = organisation id, content-type header."""
    cause = member_joined_event()
    platform_event = event(
        sample_payload(CoffeeMatched), subject="g-1", source="/rituals/matcher", cause=cause
    )
    later = platform_event.time + timedelta(days=2)
    platform_event = platform_event.model_copy(update={"recordedtime": later})
    headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]
    message = kafka.KafkaMessage(
        # Kafka clients hand headers over as a list of pairs; the SDK wants a dict.
        headers=dict(headers),
        key=platform_event.orgid.encode(),
        value=encode_event(platform_event),
    )
    return platform_event, message


def test_sdk_reads_a_platform_record_in_structured_mode() -> None:
    platform_event, message = _platform_record()

    read = kafka.from_kafka_event(message)  # detects structured mode: no ce_ headers

    assert read.get_specversion() == "1.0"
    assert read.get_id() == str(platform_event.id)
    assert read.get_source() == platform_event.source
    assert read.get_type() == platform_event.type
    assert read.get_time() == platform_event.time
    assert read.get_subject() == platform_event.subject
    assert read.get_dataschema() == platform_event.dataschema
    assert read.get_datacontenttype() == "application/json"
    for extension in ("orgid", "correlationid", "causationid"):
        assert read.get_extension(extension) == getattr(platform_event, extension)
    # An extension the SDK does not know is a string, as the specification's type system says.
    recorded = read.get_extension("recordedtime")
    assert datetime.fromisoformat(recorded) == platform_event.recordedtime
    # The SDK exposes the record key as the partitionkey extension: our key is the org id.
    assert read.get_extension("partitionkey") == platform_event.orgid
    # encode_event leaves out None values, in data too: they are the payload defaults.
    assert read.get_data() == platform_event.data.model_dump(mode="json", exclude_none=True)
    assert CoffeeMatched.model_validate(read.get_data()) == platform_event.data


def test_sdk_and_platform_agree_on_the_structured_content_type() -> None:
    assert JSONFormat().get_content_type() == CLOUDEVENTS_CONTENT_TYPE


def _sdk_event(event_type: str, data: dict[str, Any], **attributes: Any) -> SdkCloudEvent:
    return SdkCloudEvent(
        {
            "type": event_type,
            "source": "/partner/hris-sync",
            "id": str(uuid.uuid4()),
            "time": datetime(2025, 3, 3, 8, 0, tzinfo=UTC),
            "subject": "m-1",
            "dataschema": dataschema_uri(CATALOGUE[event_type]),
            "datacontenttype": "application/json",
            "orgid": ORG,
            "correlationid": "partner-flow-1",
            **attributes,
        },
        data,
    )


def _orgid_key(sdk_event: Any) -> bytes:
    """The platform's record key convention, expressed with the SDK's key mapper."""
    return str(sdk_event.get_extension("orgid")).encode()


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_platform_decodes_an_event_written_by_the_sdk(event_type: str) -> None:
    model = CATALOGUE[event_type]
    expected = sample_payload(model)
    sdk_event = _sdk_event(event_type, expected.model_dump(mode="json"))

    message = kafka.to_structured_event(sdk_event, key_mapper=_orgid_key)
    decoded = decode_event(message.value)

    assert message.key == ORG.encode()
    assert message.headers == {"content-type": CLOUDEVENTS_CONTENT_TYPE.encode()}
    assert type(decoded.data) is model
    assert decoded.data == expected
    assert str(decoded.id) == sdk_event.get_id()
    assert decoded.time == sdk_event.get_time()
    assert (decoded.orgid, decoded.correlationid) == (ORG, "partner-flow-1")


def test_platform_decodes_a_minimal_sdk_event() -> None:
    """Without the optional attributes the SDK leaves out (datacontenttype, dataschema,
    subject): the platform assumes JSON data of the current payload version."""
    sdk_event = SdkCloudEvent(
        {
            "type": "rituals.member.joined",
            "source": "/partner/hris-sync",
            "orgid": ORG,
            "correlationid": "partner-flow-2",
            # dataschema is required by the platform, unlike by the CloudEvents spec.
            "dataschema": dataschema_uri(CATALOGUE["rituals.member.joined"]),
        },
        {**sample_payload(CATALOGUE["rituals.member.joined"]).model_dump(mode="json")},
    )

    decoded = decode_event(kafka.to_structured_event(sdk_event).value)

    assert decoded.data == sample_payload(CATALOGUE["rituals.member.joined"])
    assert decoded.subject is None
    assert decoded.datacontenttype == "application/json"


def test_sdk_serialises_python_dates_in_data_the_platform_accepts() -> None:
    """Integrations may hand the SDK Python values: it writes datetimes as RFC 3339 text."""
    data = sample_data("rituals.coffee.matched")
    data["participants"] = [dict(p) for p in data["participants"]]
    data["reasons"] = list(data["reasons"])

    decoded = decode_event(
        kafka.to_structured_event(_sdk_event("rituals.coffee.matched", data)).value
    )

    assert decoded.data == sample_payload(CoffeeMatched)
