"""Admission: one rule, live and on rebuild, for which records a service accepts."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.topics import Topic
from schemas import CloudEvent, RejectedEvent, RejectionReason, encode_event, new_event
from schemas.clock import ClockTicked
from schemas.rituals import RitualScheduled
from services.common.adapters.key_files import FileKeyStore
from services.common.admission import admit, partition_of
from services.common.records import event_record
from services.common.replay import StoredRecord
from services.common.vault import Vault
from tests.factories import member_joined, sample_payload
from tests.unit.common.log_model import PARTITIONS, TOPICS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _joined(**envelope: Any) -> CloudEvent[Any]:
    event = new_event(member_joined("m-1"), source="/tests", orgid="acme", time=T0)
    return event.model_copy(update=envelope)


def _stored(event: CloudEvent[Any], **where: Any) -> StoredRecord:
    record = event_record(event, TOPICS)
    fields: dict[str, Any] = {
        "topic": record.topic,
        "partition": partition_of(record.key, PARTITIONS),
        "offset": 0,
        "key": record.key,
        "value": encode_event(event),
    } | where
    return StoredRecord(**fields)


def _reason(record: StoredRecord) -> RejectionReason:
    with pytest.raises(RejectedEvent) as refused:
        admit(record, TOPICS, PARTITIONS)
    return refused.value.reason


def test_a_record_where_the_contract_puts_it_is_admitted() -> None:
    event = _joined()
    assert admit(_stored(event), TOPICS, PARTITIONS) == event


def test_a_type_on_another_types_topic_is_refused() -> None:
    tick = new_event(ClockTicked(now=T0, sequence=1), source="/tests", orgid="acme", time=T0)
    assert _reason(_stored(tick, topic=TOPICS.name(Topic.MEMBERS))) is RejectionReason.WRONG_TOPIC


def test_a_key_that_is_not_the_organisation_is_refused() -> None:
    assert _reason(_stored(_joined(), key=b"other-org")) is RejectionReason.WRONG_KEY
    assert _reason(_stored(_joined(), key=None)) is RejectionReason.WRONG_KEY


def test_a_record_on_a_partition_its_key_does_not_hash_to_is_refused() -> None:
    right = partition_of(b"acme", PARTITIONS)
    wrong = (right + 1) % PARTITIONS
    assert _reason(_stored(_joined(), partition=wrong)) is RejectionReason.WRONG_PARTITION


def test_partition_of_is_kafkas_murmur2_rule() -> None:
    # Values computed by the Java client's Utils.murmur2 (toPositive, modulo 6), as cross-checked
    # with kafka-python's implementation.
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

    for key in (b"acme", b"globex", b"initech", b"org-17", "zoë".encode()):
        assert partition_of(key, 6) == (kafka_python_murmur2(key) & 0x7FFFFFFF) % 6


@pytest.mark.parametrize(
    "envelope",
    [
        pytest.param({"time": datetime(1, 1, 1, tzinfo=UTC)}, id="year-1"),
        pytest.param({"time": datetime(9999, 12, 31, tzinfo=UTC)}, id="year-9999"),
        pytest.param({"subject": "s" * 300_000}, id="huge-subject"),
        pytest.param({"correlationid": "c" * 300_000}, id="huge-correlationid"),
        pytest.param({"causationid": "c" * 257}, id="long-causationid"),
        pytest.param({"recordedtime": datetime(9999, 12, 31, tzinfo=UTC)}, id="recorded-9999"),
    ],
)
def test_an_envelope_out_of_bounds_is_refused(envelope: dict[str, Any]) -> None:
    assert _reason(_stored(_joined(**envelope))) is RejectionReason.OUT_OF_BOUNDS


@pytest.mark.parametrize(
    "recorded",
    ["2199-12-31T23:00:00+02:00", "2000-01-01T00:00:00Z", "2026-03-04T10:00:00-04:00"],
)
def test_a_recorded_time_inside_the_bounds_is_admitted(recorded: str) -> None:
    moment = datetime.fromisoformat(recorded)
    event = admit(_stored(_joined(recordedtime=moment)), TOPICS, PARTITIONS)
    assert event.recordedtime == moment


@pytest.mark.parametrize(
    "recorded", ["2199-12-31T23:00:00-02:00", "2200-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00"]
)
def test_a_recorded_time_just_outside_the_bounds_is_refused(recorded: str) -> None:
    moment = datetime.fromisoformat(recorded)
    envelope = _joined(recordedtime=moment)
    assert _reason(_stored(envelope)) is RejectionReason.OUT_OF_BOUNDS


def _ticked_at(moment: str) -> StoredRecord:
    tick = new_event(ClockTicked(now=T0, sequence=1), source="/tests", orgid="acme", time=T0)
    document = json.loads(encode_event(tick))
    document["time"] = moment
    return _stored(tick, value=json.dumps(document).encode())


@pytest.mark.parametrize(
    "moment",
    ["1999-12-31T23:00:00-02:00", "2000-01-01T00:00:00Z", "2199-12-31T23:00:00+02:00"],
)
def test_the_time_bounds_are_instants_in_utc_whatever_the_offset(moment: str) -> None:
    assert admit(_ticked_at(moment), TOPICS, PARTITIONS).time == datetime.fromisoformat(moment)


@pytest.mark.parametrize(
    "moment",
    ["2000-01-01T01:00:00+02:00", "1999-12-31T23:59:59Z", "2199-12-31T23:00:00-02:00"],
)
def test_a_time_just_outside_the_bounds_in_utc_is_refused(moment: str) -> None:
    assert _reason(_ticked_at(moment)) is RejectionReason.OUT_OF_BOUNDS


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
        pytest.param(b"\xff\xfe\x00 not utf-8", id="not-utf-8"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_value_that_does_not_decode_is_refused_not_raised(value: bytes) -> None:
    assert _reason(_stored(_joined(), value=value)) is RejectionReason.INVALID_JSON


@pytest.mark.parametrize(
    "first_start", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00"]
)
def test_a_ritual_at_the_edge_of_the_calendar_is_refused_not_raised(first_start: str) -> None:
    """Found by the schema's property test: converting such a time overflowed, and the error
    escaped admission (the consumer loop, or a rebuild, for ever)."""
    scheduled = new_event(sample_payload(RitualScheduled), source="/tests", orgid="acme", time=T0)
    document = json.loads(encode_event(scheduled))
    document["data"]["first_start"] = first_start
    refused = _stored(scheduled, value=json.dumps(document).encode())
    assert _reason(refused) is RejectionReason.INVALID_PAYLOAD


def test_an_error_admission_never_foresaw_is_a_refusal_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def overflowing(value: bytes, cipher: object = None) -> CloudEvent[Any]:
        raise OverflowError("date value out of range")

    monkeypatch.setattr("services.common.admission.decode_event", overflowing)
    with pytest.raises(RejectedEvent) as refused:
        admit(_stored(_joined()), TOPICS, PARTITIONS)
    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD
    assert "OverflowError" in refused.value.detail


def test_a_sealed_record_is_admitted_opened_with_the_cipher_and_as_placeholders_without(
    tmp_path: Path,
) -> None:
    vault = Vault(os.urandom(32), FileKeyStore(tmp_path))
    event = _joined()
    sealed = event_record(event, TOPICS, cipher=vault)
    record = _stored(event, value=sealed.value)

    assert b"m-1@example.com" not in sealed.value
    assert admit(record, TOPICS, PARTITIONS, vault).data == event.data
    assert admit(record, TOPICS, PARTITIONS).data.erased is True
