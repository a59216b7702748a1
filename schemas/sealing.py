"""Personal data sealed inside member events, so that destroying one key erases a person.

A member's name, e-mail address and profile values are personal data (docs/privacy.md says which
fields and why). Producers that hold a key-encryption key write ``member.joined`` and
``member.profile_updated`` as version 2: the personal fields leave the payload and travel in one
``sealed`` string, encrypted with that member's data key and bound (as associated data) to the
organisation, the member, the event type and the event id, so a sealed value cannot be moved to
another event or person. Everything else (``member_id`` is a pseudonym; team, department, time
zone, languages, dates and flags are categories shared by many people) stays in clear, so
ordering, keys, aggregates and replay keep working without any key.

Readers open the payload here, before the model is validated: the domain only ever sees plain
profiles. A payload that cannot be opened (its key was destroyed by an erasure, or the reader
holds no key) gets neutral placeholders and ``erased=True``, so nobody is ever sent anything.
The cryptography itself is behind ``PersonalDataCipher`` (``services.common.vault``): this
module stays pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from pydantic import Field, TypeAdapter, create_model

from schemas.base import EventPayload, Identifier

SEALED_TYPES = frozenset({"rituals.member.joined", "rituals.member.profile_updated"})
"""Event types whose payload carries personal data."""
ProfileT = TypeVar("ProfileT", bound=EventPayload)
PERSONAL_FIELDS = (
    "display_name",
    "email",
    "manager_id",
    "office",
    "office_days",
    "working_hours",
    "interests",
)
"""The payload fields that are personal data: sealed when written, placeholders once erased."""
SEALED_FIELD = "sealed"
ERASED_FIELD = "erased"
PLACEHOLDERS: Mapping[str, Any] = {
    "display_name": "Former member",
    "email": "former-member@erased.invalid",
    "manager_id": None,
    "office": None,
    "office_days": (),
    "working_hours": {"start": "09:00", "end": "17:00"},
    "interests": (),
}
"""What stands in for the personal fields of a person whose data is gone: neutral values a
reader can show (the ``.invalid`` top-level domain can never route an e-mail)."""


class PersonalDataCipher(Protocol):
    """Seals and opens one member's personal data with that member's data key."""

    def seal(self, org_id: str, member_id: str, context: bytes, plaintext: bytes) -> str:
        """The sealed text of ``plaintext``, bound to ``context``."""
        ...

    def open(self, org_id: str, member_id: str, context: bytes, sealed: str) -> bytes | None:
        """The plaintext, or None when the member's key is gone (erased). A sealed text that
        does not authenticate against ``context`` raises ValueError."""
        ...


_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def sealing_context(event_type: str, org_id: str, member_id: str, event_id: str) -> bytes:
    """The associated data a sealed payload is bound to."""
    return "\n".join(("rituals-sealed-v1", org_id, member_id, event_type, event_id)).encode()


def seal_payload(
    event_type: str, org_id: str, event_id: str, data: Mapping[str, Any], cipher: PersonalDataCipher
) -> dict[str, Any]:
    """The version 2 payload of a plain one (JSON-ready ``data``): personal fields sealed."""
    personal = {name: data[name] for name in PERSONAL_FIELDS if name in data}
    clear = {
        name: value
        for name, value in data.items()
        if name not in PERSONAL_FIELDS and name != ERASED_FIELD
    }
    context = sealing_context(event_type, org_id, data["member_id"], event_id)
    plaintext = json.dumps(personal, sort_keys=True, separators=(",", ":")).encode()
    return {**clear, SEALED_FIELD: cipher.seal(org_id, data["member_id"], context, plaintext)}


def open_payload(
    event_type: str,
    org_id: str,
    event_id: str,
    data: dict[str, Any],
    cipher: PersonalDataCipher | None,
) -> dict[str, Any]:
    """The plain payload of a version 2 one. Personal fields in clear (written without a key)
    are kept; sealed ones are opened; those that cannot be (no key here, key destroyed) or are
    absent become placeholders, and the payload is marked ``erased``."""
    sealed = data.get(SEALED_FIELD)
    clear = {name: value for name, value in data.items() if name != SEALED_FIELD}
    if isinstance(sealed, str):
        clear = {name: value for name, value in clear.items() if name not in PERSONAL_FIELDS}
        opened = _opened(event_type, org_id, event_id, clear, sealed, cipher)
        if opened is None:
            return {**clear, **PLACEHOLDERS, ERASED_FIELD: True}
        return {**clear, **opened}
    if all(clear.get(name) is not None for name in ("display_name", "email")):
        return {**PLACEHOLDERS, **clear}  # an absent field, in clear, gets its placeholder
    return {**clear, **PLACEHOLDERS, ERASED_FIELD: True}


def _opened(
    event_type: str,
    org_id: str,
    event_id: str,
    clear: Mapping[str, Any],
    sealed: str,
    cipher: PersonalDataCipher | None,
) -> dict[str, Any] | None:
    if cipher is None:
        return None
    # Checked before the key store sees it: a malformed record is refused, never a key lookup.
    member_id = _IDENTIFIER.validate_python(clear.get("member_id"))
    context = sealing_context(event_type, org_id, member_id, event_id)
    plaintext = cipher.open(org_id, member_id, context, sealed)
    if plaintext is None:
        return None
    personal = json.loads(plaintext)
    if not isinstance(personal, dict):
        raise ValueError("sealed personal data is not an object")
    return {name: value for name, value in personal.items() if name in PERSONAL_FIELDS}


def sealed_wire_model(model: type[EventPayload]) -> type[EventPayload]:
    """The payload as version 2 writes it, for the published JSON Schema: the clear fields,
    ``sealed``, and the personal fields as optional (in clear only when written without a key;
    placeholders when absent)."""
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name == ERASED_FIELD:
            continue
        if name in PERSONAL_FIELDS:
            optional = field._copy()
            optional.default = PLACEHOLDERS[name]
            fields[name] = (field.annotation, optional)
        else:
            fields[name] = (field.annotation, field)
    fields[SEALED_FIELD] = (
        str | None,
        Field(
            default=None,
            description="The personal fields, AES-256-GCM encrypted with the member's data key "
            "(docs/privacy.md); absent when they are in clear.",
        ),
    )
    wire: type[EventPayload] = create_model(
        model.__name__, __base__=EventPayload, __doc__=model.__doc__, **fields
    )
    return wire


def erased_profile(profile: ProfileT) -> ProfileT:
    """The profile with its personal fields replaced by placeholders and marked ``erased``."""
    document = profile.model_dump(mode="json")
    return type(profile).model_validate({**document, **PLACEHOLDERS, ERASED_FIELD: True})


SNAPSHOT_CONTEXT = "rituals.member.snapshot"


def seal_profile(
    profile: EventPayload, org_id: str, cipher: PersonalDataCipher, holder: str
) -> dict[str, Any]:
    """A profile as a JSON-ready document with its personal fields sealed, for state kept
    outside the log (a service's snapshot): the same data key as the member's events, so an
    erasure shreds the snapshot's copy too. ``holder`` names what keeps it (e.g. the service
    and snapshot id): the sealed text opens only for the same holder."""
    data = profile.model_dump(mode="json", exclude_none=True)
    return seal_payload(SNAPSHOT_CONTEXT, org_id, holder, data, cipher)


def open_profile(
    model: type[ProfileT],
    document: dict[str, Any],
    org_id: str,
    cipher: PersonalDataCipher | None,
    holder: str,
) -> ProfileT:
    """The profile ``seal_profile`` sealed; placeholders and ``erased`` once its key is gone."""
    return model.model_validate(open_payload(SNAPSHOT_CONTEXT, org_id, holder, document, cipher))
