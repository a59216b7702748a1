"""Envelope encryption of personal data: one data key per (organisation, member), wrapped by a
key-encryption key, kept in a key store that can really delete (docs/privacy.md).

``Vault`` is the ``schemas.sealing.PersonalDataCipher`` every producer and reader of member
events uses. Sealing creates the member's data key on first use; ``erase`` destroys it, after
which nothing sealed with it can be opened again by anyone, whatever copies of the log exist.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "rs1"
"""Format of a sealed text: ``rs1.<key id>.<base64 of nonce + AES-GCM ciphertext>``."""
KEY_BYTES = 32
NONCE_BYTES = 12


class KeyStoreError(Exception):
    """The key store cannot be used as it must (an unreadable or corrupt key, a wrong key-
    encryption key): the caller stops. It is never taken for an erasure, so nothing is lost."""


@dataclass(frozen=True)
class StoredKey:
    """A member's data key as the key store holds it: wrapped by the key-encryption key."""

    key_id: str
    wrapped: bytes


class KeyStore(Protocol):
    """Where data keys live. An implementation must make ``destroy`` final (no copy left that a
    reader could still load) and ``add`` atomic (two writers of the same member: one key)."""

    def load(self, org_id: str, member_id: str) -> StoredKey | None:
        """The member's key, None when there is none (never created, or destroyed)."""
        ...

    def add(self, org_id: str, member_id: str, key: StoredKey) -> StoredKey:
        """Store ``key`` unless the member has one already; returns the one that is stored."""
        ...

    def destroy(self, org_id: str, member_id: str) -> bool:
        """Delete the member's key for good; False when there was none."""
        ...


class Vault:
    """Seals and opens members' personal data (``schemas.sealing.PersonalDataCipher``)."""

    def __init__(self, key_encryption_key: bytes, store: KeyStore) -> None:
        if len(key_encryption_key) != KEY_BYTES:
            raise KeyStoreError(f"the key-encryption key must be {KEY_BYTES} bytes")
        self._wrapping = AESGCM(key_encryption_key)
        self.store = store

    def seal(self, org_id: str, member_id: str, context: bytes, plaintext: bytes) -> str:
        stored, key = self._data_key(org_id, member_id)
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, context)
        return f"{SEALED_PREFIX}.{stored.key_id}.{base64.b64encode(sealed).decode()}"

    def open(self, org_id: str, member_id: str, context: bytes, sealed: str) -> bytes | None:
        key_id, body = _parts(sealed)
        stored = self.store.load(org_id, member_id)
        if stored is None or stored.key_id != key_id:
            return None  # erased (a member who came back after an erasure has a new key)
        key = self._unwrap(org_id, member_id, stored)
        try:
            return AESGCM(key).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context)
        except InvalidTag:
            raise ValueError("sealed personal data does not belong to this event") from None

    def holds_key(self, org_id: str, member_id: str) -> bool:
        return self.store.load(org_id, member_id) is not None

    def erase(self, org_id: str, member_id: str) -> bool:
        """Destroy the member's data key; False when there was none."""
        return self.store.destroy(org_id, member_id)

    def _data_key(self, org_id: str, member_id: str) -> tuple[StoredKey, bytes]:
        stored = self.store.load(org_id, member_id)
        if stored is None:
            key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
            key_id = base64.urlsafe_b64encode(os.urandom(9)).decode()
            stored = self.store.add(org_id, member_id, self._wrap(org_id, member_id, key_id, key))
        return stored, self._unwrap(org_id, member_id, stored)

    def _wrap(self, org_id: str, member_id: str, key_id: str, key: bytes) -> StoredKey:
        nonce = os.urandom(NONCE_BYTES)
        wrapped = self._wrapping.encrypt(nonce, key, _wrapping_context(org_id, member_id, key_id))
        return StoredKey(key_id, nonce + wrapped)

    def _unwrap(self, org_id: str, member_id: str, stored: StoredKey) -> bytes:
        nonce, wrapped = stored.wrapped[:NONCE_BYTES], stored.wrapped[NONCE_BYTES:]
        context = _wrapping_context(org_id, member_id, stored.key_id)
        try:
            return self._wrapping.decrypt(nonce, wrapped, context)
        except InvalidTag:
            raise KeyStoreError(
                f"the data key of member {member_id} of {org_id} does not unwrap: a corrupt key "
                "store or another key-encryption key"
            ) from None


def _wrapping_context(org_id: str, member_id: str, key_id: str) -> bytes:
    return "\n".join(("rituals-data-key-v1", org_id, member_id, key_id)).encode()


def _parts(sealed: str) -> tuple[str, bytes]:
    """The key id and the nonce + ciphertext of a sealed text (ValueError if it is not one)."""
    prefix, _, rest = sealed.partition(".")
    key_id, _, body = rest.partition(".")
    if prefix != SEALED_PREFIX or not key_id:
        raise ValueError("not a sealed text of this platform")
    try:
        decoded = base64.b64decode(body, validate=True)
    except ValueError:
        raise ValueError("sealed text is not base64") from None
    if len(decoded) <= NONCE_BYTES:
        raise ValueError("sealed text too short")
    return key_id, decoded
