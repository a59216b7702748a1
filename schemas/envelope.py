"""The CloudEvents 1.0 envelope every platform event travels in (structured mode on Kafka).

The record value is this envelope as JSON, the record key is the organisation id (so one
organisation's events stay in order) and the header ``content-type`` is
``application/cloudevents+json``. Decoding is strict about the envelope and tolerant about
payload fields added by newer producers; every way a record can be refused is a
``RejectedEvent`` with a ``RejectionReason``, which is what the dead-letter topic records.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

import pydantic_core
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from schemas.base import EventPayload, Identifier
from schemas.catalogue import (
    CATALOGUE,
    dataschema_uri,
    payload_type,
    type_of_dataschema,
    version_of_dataschema,
)
from schemas.sealing import (
    SEALED_FIELD,
    SEALED_TYPES,
    PersonalDataCipher,
    open_payload,
    seal_payload,
)
from schemas.upcasting import UPCASTERS, upcast

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"
_OUTPUT_ID_NAMESPACE = uuid.UUID("6f1c2f0e-4b8e-4c55-9a3e-6c1f4f2b7d10")
MAX_DETAIL_LENGTH = 256

PayloadT = TypeVar("PayloadT", bound=EventPayload)


class CloudEventAttributes(BaseModel):
    """The envelope without its data: what every platform event carries."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = Field(description="CloudEvents specification version.")
    id: uuid.UUID = Field(description="Unique id of the event; consumers deduplicate by it.")
    source: str = Field(
        min_length=1, description="Who emitted the event, e.g. /rituals/matcher or /rituals/cli."
    )
    type: str = Field(min_length=1, description="Event type, e.g. rituals.member.joined.")
    time: AwareDatetime = Field(
        description="When the event happened in domain time (clock ticks, not the wall clock)."
    )
    subject: str | None = Field(
        default=None,
        description="What the event is about inside the organisation, e.g. a member id.",
    )
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Media type of data."
    )
    dataschema: str = Field(description="URI of the payload's schema, naming its version.")
    orgid: Identifier = Field(description="Organisation id; also the Kafka record key.")
    correlationid: str = Field(
        min_length=1, description="Id shared by every event of one flow (the first event's id)."
    )
    causationid: str | None = Field(
        default=None, description="Id of the event that caused this one, if any."
    )
    traceparent: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        description="W3C Trace Context of the span that emitted the event (CloudEvents "
        "distributed tracing extension): the trace a flow's events share.",
    )
    recordedtime: AwareDatetime | None = Field(
        default=None,
        description="The organisation's domain time when the event was recorded, when later "
        "than `time`: a notification's outcome happens when it was due but is recorded when "
        "it went out, maybe long after. Replays place the event at this time.",
    )

    @property
    def replay_time(self) -> datetime:
        """Where replays place the event among the others: when it entered the history (its
        ``recordedtime``), which is when it happened unless it was recorded later. A rebuild in
        this order folds the event where the live service met it; by ``time``, an outcome
        recorded after a backlog would come before the clock ticks it followed live."""
        recorded = self.recordedtime
        return self.time if recorded is None or recorded <= self.time else recorded


class CloudEvent(CloudEventAttributes, Generic[PayloadT]):
    """A platform event: CloudEvents attributes plus a typed, frozen payload."""

    data: PayloadT = Field(description="The event payload; its model is chosen by type.")

    def to_logging_context(self) -> dict[str, str]:
        """What may be bound to log lines: identifiers only, never personal data."""
        return {
            "event_id": str(self.id),
            "event_type": self.type,
            "org_id": self.orgid,
            "correlation_id": self.correlationid,
        }


class ReadSealedEvent(CloudEvent[PayloadT], Generic[PayloadT]):
    """An event read with its personal data sealed (``schemas.sealing``): it keeps the sealed
    payload, so encoding it again writes that ciphertext (re-publishing, exports and audit chains
    carry ciphertext). A class of its own: a private attribute costs every instance of its class
    a Python call, and most events are not sealed."""

    _sealed_data: tuple[object, dict[str, Any]] | None = PrivateAttr(default=None)
    """(the opened payload, the sealed payload it was read from)."""


class RejectionReason(StrEnum):
    """Why a record was refused and sent to the dead-letter topic."""

    INVALID_JSON = "invalid_json"
    NOT_A_CLOUDEVENT = "not_a_cloudevent"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_PAYLOAD = "invalid_payload"
    HANDLER_FAILED = "handler_failed"
    WRONG_TOPIC = "wrong_topic"
    """A known type on a topic where it does not belong."""
    WRONG_KEY = "wrong_key"
    """A record whose key is not its organisation id."""
    WRONG_PARTITION = "wrong_partition"
    """A record on a partition its key does not hash to (another producer's partitioner)."""
    OUT_OF_BOUNDS = "out_of_bounds"
    """An envelope attribute outside the platform's bounds (a time in year 1, a huge subject)."""
    DELIVERY_FAILED = "delivery_failed"
    """A valid event whose effect outside the platform (a notification) failed for good."""


class RejectedEvent(Exception):  # noqa: N818 (a refused event, not a program error)
    """A record that cannot be accepted, with a machine-readable reason and a readable detail."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


_MODELS_BY_PAYLOAD: dict[type[EventPayload], type[CloudEvent[Any]]] = {}


def _model_carrying(payload_model: type[EventPayload]) -> type[CloudEvent[Any]]:
    """``CloudEvent[payload_model]``, made once: pydantic's lookup of a parametrised model
    costs more than building a small event."""
    found = _MODELS_BY_PAYLOAD.get(payload_model)
    if found is None:
        made: Any = CloudEvent[payload_model]  # type: ignore[valid-type]
        found = _MODELS_BY_PAYLOAD[payload_model] = made
    return found


def new_event(
    payload: EventPayload,
    *,
    source: str,
    orgid: str,
    time: datetime,
    subject: str | None = None,
    cause: CloudEventAttributes | None = None,
    output_index: int | str = 0,
    event_id: uuid.UUID | None = None,
    traceparent: str | None = None,
    recorded: datetime | None = None,
) -> CloudEvent[Any]:
    """Build an event. An event caused by another gets an id derived from its cause, so that a
    decision made twice (after a crash between publishing and committing) yields the same id and
    every consumer's deduplication removes the copy. ``recorded``: the domain time it is
    recorded at, kept when later than ``time`` (``CloudEventAttributes.recordedtime``)."""
    if event_id is None:
        event_id = (
            uuid.uuid5(_OUTPUT_ID_NAMESPACE, f"{cause.id}/{source}/{output_index}")
            if cause is not None
            else uuid.uuid4()
        )
    event_model = _model_carrying(type(payload))
    return event_model(
        specversion=SPEC_VERSION,
        id=event_id,
        source=source,
        type=payload.event_type,
        time=time,
        subject=subject,
        dataschema=dataschema_uri(type(payload)),
        orgid=orgid,
        correlationid=cause.correlationid if cause is not None else str(event_id),
        causationid=str(cause.id) if cause is not None else None,
        traceparent=traceparent,
        recordedtime=recorded if recorded is not None and recorded > time else None,
        data=payload,
    )


def encode_event(event: CloudEvent[Any], cipher: PersonalDataCipher | None = None) -> bytes:
    """The structured-mode JSON record value of an event. With ``cipher``, the personal data of
    a member event is sealed (``schemas.sealing``); an event read sealed is written sealed again
    (its ciphertext, unchanged) with or without one."""
    sealed = _sealed_data_of(event, cipher)
    if sealed is None:
        return event.model_dump_json(exclude_none=True).encode()
    document = event.model_dump(mode="json", exclude_none=True)
    return json.dumps({**document, "data": sealed}, separators=(",", ":")).encode()


def _sealed_data_of(
    event: CloudEvent[Any], cipher: PersonalDataCipher | None
) -> dict[str, Any] | None:
    read = event._sealed_data if isinstance(event, ReadSealedEvent) else None
    if read is not None and read[0] is event.data:
        return read[1]
    if cipher is None or event.type not in SEALED_TYPES:
        return None
    data = event.data.model_dump(mode="json", exclude_none=True)
    return seal_payload(event.type, event.orgid, str(event.id), data, cipher)


def decode_event(raw: bytes, cipher: PersonalDataCipher | None = None) -> CloudEvent[Any]:
    """Parse a record value into a typed event, or raise ``RejectedEvent`` saying why not.
    Sealed personal data is opened with ``cipher``; without one, or once the member's key is
    destroyed, placeholders stand in for it (``schemas.sealing.open_payload``)."""
    in_one_step = _decoded_in_one_step(raw)
    if in_one_step is not None:
        return in_one_step
    document = _parse_json(raw)
    fast = _fast_model(document)
    if fast is not None:
        try:
            return fast.model_validate(document)
        except ValidationError:
            pass  # the whole way below says what is wrong, in the same words as ever
    try:
        attributes = CloudEventAttributes.model_validate(document)
    except ValidationError as error:
        raise RejectedEvent(RejectionReason.NOT_A_CLOUDEVENT, _summarise(error)) from None
    if attributes.type not in CATALOGUE:
        raise RejectedEvent(RejectionReason.UNKNOWN_TYPE, f"unknown event type {attributes.type!r}")
    model = payload_type(attributes.type)
    try:
        version = version_of_dataschema(attributes.dataschema, default=model.version)
        data = document.get("data")
        sealed = None
        if attributes.type in SEALED_TYPES and version >= 2 and isinstance(data, dict):
            sealed = data if SEALED_FIELD in data else None
            data = open_payload(attributes.type, attributes.orgid, str(attributes.id), data, cipher)
        data = upcast(attributes.type, version, data)
        if sealed is None:
            return _event_model(attributes.type).model_validate({**document, "data": data})
        read: ReadSealedEvent[Any] = ReadSealedEvent[model].model_validate(  # type: ignore[valid-type]
            {**document, "data": data}
        )
        read._sealed_data = (read.data, sealed)
        return read
    except ValidationError as error:
        raise RejectedEvent(RejectionReason.INVALID_PAYLOAD, _summarise(error)) from None
    except (ValueError, TypeError, KeyError, RecursionError, ArithmeticError) as error:
        # An upcaster or validator meeting a shape it never expected: refused, never a crash.
        raise RejectedEvent(RejectionReason.INVALID_PAYLOAD, type(error).__name__) from None


_EVENT_MODELS: dict[str, type[CloudEvent[Any]]] = {}


def _event_model(event_type: str) -> type[CloudEvent[Any]]:
    """``CloudEvent[<payload>]`` of a type, made once (pydantic looks a parametrised generic up
    at some cost every time it is written out)."""
    found = _EVENT_MODELS.get(event_type)
    if found is None:
        made: Any = CloudEvent[payload_type(event_type)]  # type: ignore[misc]
        found = _EVENT_MODELS[event_type] = made
    return found


def _decoded_in_one_step(raw: bytes) -> CloudEvent[Any] | None:
    """The event parsed and validated by pydantic in one step from the bytes (a third less work
    than parsing into Python objects and validating those), when its model can be told from a
    look at the bytes: the first ``"dataschema":"…"`` in them, which names the type and its
    version (``urn:rituals:schema:<type>:v<version>``). That look is a guess (a key of the same
    name may come first inside ``data``): the result counts only when the validated event's own
    dataschema is the one guessed and its type the one the dataschema names, which makes the
    model the one ``_fast_model`` chooses. Otherwise None: the way below decides, and says why
    not (a dataschema of another form, too: the way below reads the type from ``type``)."""
    at = raw.find(_DATASCHEMA_KEY)
    if at < 0:
        return None
    at += len(_DATASCHEMA_KEY)
    guessed = raw[at : raw.find(b'"', at)]
    kind = _ONE_STEP_MODELS.get(guessed, _NOT_LOOKED_AT)
    if kind is _NOT_LOOKED_AT:
        kind = _one_step_model(guessed)
    if kind is None:
        return None
    validate_json, event_type, dataschema = kind
    try:
        event: CloudEvent[Any] = validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        return None
    return event if event.dataschema == dataschema and event.type == event_type else None


_DATASCHEMA_KEY = b'"dataschema":"'
_OneStep = tuple[Callable[[bytes], Any], str, str]
_NOT_LOOKED_AT: Any = object()
_ONE_STEP_MODELS: dict[bytes, _OneStep | None] = {}
"""The one-step validation (the model's validator, called without ``model_validate_json``'s
checks of its arguments; or None: decoded the whole way) of a guessed dataschema, as bytes: few
kinds, looked up for every record. Only catalogue types are remembered, and at most 4,096 kinds
(dataschema is free text), so the dictionary stays small."""


def _one_step_model(guessed: bytes) -> _OneStep | None:
    try:
        dataschema = guessed.decode()
    except UnicodeDecodeError:
        return None
    event_type = type_of_dataschema(dataschema)
    if event_type is None:
        return None
    model = _fast_model({"type": event_type, "dataschema": dataschema})
    kind = (
        None
        if model is None
        else (model.__pydantic_validator__.validate_json, event_type, dataschema)
    )
    if event_type in CATALOGUE and len(_ONE_STEP_MODELS) < 4_096:
        _ONE_STEP_MODELS[guessed] = kind
    return kind


_FAST_MODELS: dict[tuple[str, str], type[CloudEvent[Any]] | None] = {}
"""``_fast_model``'s answers by (type, dataschema): a rebuild asks it for every record, of few
kinds (only catalogue types are remembered, so the dictionary stays small)."""


def _fast_model(document: dict[str, Any]) -> type[CloudEvent[Any]] | None:
    """The model to validate a record with in one step, when nothing is to be done to its data
    first (not sealed, no upcaster): most records. None: the whole way (``decode_event``)."""
    event_type, dataschema = document.get("type"), document.get("dataschema")
    if not isinstance(event_type, str) or event_type not in CATALOGUE:
        return None
    if isinstance(dataschema, str):
        kind = (event_type, dataschema)
        if kind in _FAST_MODELS:
            return _FAST_MODELS[kind]
        if len(_FAST_MODELS) < 4_096:  # dataschema is free text: never an unbounded memory
            found = _FAST_MODELS[kind] = _fast_model_of(event_type, dataschema)
            return found
    return _fast_model_of(event_type, dataschema)


def _fast_model_of(event_type: str, dataschema: object) -> type[CloudEvent[Any]] | None:
    if event_type in SEALED_TYPES or not isinstance(dataschema, str):
        return None
    model = payload_type(event_type)
    version = version_of_dataschema(dataschema, default=model.version)
    if version != model.version or (event_type, version) in UPCASTERS:
        return None
    return _event_model(event_type)


def _too_deep(error: Exception) -> bool:
    return isinstance(error, RecursionError) or "recursion limit" in str(error)


def _parse_json(raw: bytes) -> dict[str, Any]:
    try:
        # pydantic's parser (Rust): the same JSON as the standard library's, in UTF-8 as the
        # contract says, at about a third of the cost; nesting deeper than it follows, bytes
        # that are not UTF-8 and anything else that is not JSON are a ValueError: refused,
        # never a crash.
        document = pydantic_core.from_json(raw)
    except (ValueError, RecursionError) as error:
        detail = "nesting too deep to parse" if _too_deep(error) else str(error)
        raise RejectedEvent(RejectionReason.INVALID_JSON, detail[:MAX_DETAIL_LENGTH]) from None
    if not isinstance(document, dict):
        raise RejectedEvent(
            RejectionReason.NOT_A_CLOUDEVENT,
            f"expected a JSON object, got {type(document).__name__}",
        )
    return document


def _summarise(error: ValidationError) -> str:
    """Field paths and messages only: input values may hold personal data."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )
