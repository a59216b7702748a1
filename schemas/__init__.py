"""The event contract of the Rituals platform.

Every event is a CloudEvents 1.0 event in structured mode (``envelope``); payloads are frozen,
versioned pydantic models (``members``, ``coffee``, ``onboarding``, ``rituals``,
``notifications``, ``clock``) registered in one catalogue (``catalogue``). This package depends on
pydantic alone, so any integration can import it.
"""

from schemas.base import EventPayload
from schemas.catalogue import CATALOGUE, payload_type
from schemas.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    CloudEvent,
    RejectedEvent,
    RejectionReason,
    decode_event,
    encode_event,
    new_event,
)

__all__ = [
    "CATALOGUE",
    "CLOUDEVENTS_CONTENT_TYPE",
    "CloudEvent",
    "EventPayload",
    "RejectedEvent",
    "RejectionReason",
    "decode_event",
    "encode_event",
    "new_event",
    "payload_type",
]
