"""The tamper-evident audit export, without I/O: the hash chain over the exported lines, the
manifest, its Ed25519 signature, and the verification of all three (docs/audit.md).

The chain rule: ``hash_n = SHA-256(hash_{n-1} || line_n)``, where ``line_n`` is the n-th line of
``events.jsonl`` as UTF-8 bytes without its line end, and ``hash_0`` is 32 zero bytes for a first
export or the previous export's head for an incremental one. The head is the last hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "rituals-audit-export/1"
GENESIS = bytes(32)
CHAIN_RULE = (
    "hash_n = SHA-256(hash_{n-1} || bytes of line n of events.jsonl without its line end); "
    "hash_0 = previous_head, or 32 zero bytes for a first export"
)


def canonical_line(document: Mapping[str, Any]) -> str:
    """One exported event: the canonical form of ``rituals events export`` (sorted keys)."""
    return json.dumps(document, sort_keys=True)


def canonical_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The bytes the signature covers: the manifest's JSON with sorted keys and no spaces, so
    that how ``manifest.json`` is laid out for people does not matter."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def next_hash(previous: bytes, line: bytes) -> bytes:
    return hashlib.sha256(previous + line).digest()


def chain_hashes(lines: Iterable[bytes], start: bytes = GENESIS) -> list[bytes]:
    hashes: list[bytes] = []
    current = start
    for line in lines:
        current = next_hash(current, line)
        hashes.append(current)
    return hashes


@dataclass(frozen=True, order=True)
class Position:
    """Where an exported event was read: its record in the log."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class ChainEntry:
    """One line of ``chain.jsonl``: the hash after line ``line`` and where that event was read."""

    line: int
    hash: str
    position: Position

    def to_json(self) -> str:
        return json.dumps(
            {
                "line": self.line,
                "hash": self.hash,
                "topic": self.position.topic,
                "partition": self.position.partition,
                "offset": self.position.offset,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ChainEntry:
        document = json.loads(text)
        return cls(
            line=int(document["line"]),
            hash=str(document["hash"]),
            position=Position(
                str(document["topic"]), int(document["partition"]), int(document["offset"])
            ),
        )


def chain_entries(
    lines: Sequence[str], positions: Sequence[Position], start: bytes = GENESIS
) -> list[ChainEntry]:
    hashes = chain_hashes((line.encode() for line in lines), start)
    return [
        ChainEntry(number, digest.hex(), position)
        for number, (digest, position) in enumerate(zip(hashes, positions, strict=True), 1)
    ]


def partition_summary(
    positions: Iterable[Position], next_offsets: Mapping[tuple[str, int], int]
) -> list[dict[str, Any]]:
    """Per topic-partition: events exported, their first and last offsets (None when none were
    exported this time) and the offset the next incremental export reads from."""
    by_partition: dict[tuple[str, int], list[int]] = {}
    for position in positions:
        by_partition.setdefault((position.topic, position.partition), []).append(position.offset)
    summary = []
    for topic, partition in sorted(set(by_partition) | set(next_offsets)):
        offsets = by_partition.get((topic, partition), [])
        summary.append(
            {
                "topic": topic,
                "partition": partition,
                "events": len(offsets),
                "first_offset": min(offsets) if offsets else None,
                "last_offset": max(offsets) if offsets else None,
                "next_offset": next_offsets.get(
                    (topic, partition), max(offsets) + 1 if offsets else 0
                ),
            }
        )
    return summary


def topic_counts(positions: Iterable[Position]) -> dict[str, int]:
    return dict(sorted(Counter(position.topic for position in positions).items()))


def build_manifest(
    *,
    entries: Sequence[ChainEntry],
    org: str | None,
    previous_head: str | None,
    next_offsets: Mapping[tuple[str, int], int],
    written_at: str,
) -> dict[str, Any]:
    positions = [entry.position for entry in entries]
    head = entries[-1].hash if entries else (previous_head or GENESIS.hex())
    return {
        "format": FORMAT,
        "chain_rule": CHAIN_RULE,
        "written_at": written_at,
        "org": org,
        "events": len(entries),
        "head": head,
        "previous_head": previous_head,
        "topics": topic_counts(positions),
        "partitions": partition_summary(positions, next_offsets),
    }


def next_offsets_of(manifest: Mapping[str, Any]) -> dict[tuple[str, int], int]:
    """Where an incremental export after this one starts reading, per topic-partition."""
    return {
        (str(item["topic"]), int(item["partition"])): int(item["next_offset"])
        for item in manifest.get("partitions", [])
    }


def public_key_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> tuple[dict[str, Any], str]:
    """The manifest naming its public key, and the base64 signature of its canonical bytes."""
    signed = {**manifest, "public_key": public_key_pem(key)}
    return signed, base64.b64encode(key.sign(canonical_manifest(signed))).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ValueError when it is something else."""
    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm:
        raise ValueError("not an Ed25519 public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def key_fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()[:16]


class Tampered(Exception):  # noqa: N818 (a verdict, not a program error)
    """The export is not what was written: the first problem found, in words."""


@dataclass(frozen=True)
class Verdict:
    events: int
    head: str
    previous_head: str | None
    signed_by: str | None


def verify_export(
    events_blob: bytes,
    chain_blob: bytes,
    manifest: Mapping[str, Any],
    signature: str | None,
    trusted_key_pem: bytes | None = None,
) -> Verdict:
    """The verdict on a whole export, or ``Tampered`` naming the first problem: a bad
    signature, the first line whose hash does not match (and whether it was edited, removed,
    inserted or swapped, when that can be told), a count or a head the manifest does not match."""
    signed_by = _check_signature(manifest, signature, trusted_key_pem)
    start = _start_of(manifest)
    lines, unterminated = _split_lines(events_blob)
    entries = _parse_chain(chain_blob)
    head = _walk(lines, entries, start, unterminated)
    _check_counts(lines, entries, manifest)
    _check_manifest(entries, head, manifest)
    return Verdict(len(lines), head.hex(), manifest.get("previous_head"), signed_by)


def _check_signature(
    manifest: Mapping[str, Any], signature: str | None, trusted_key_pem: bytes | None
) -> str | None:
    named = manifest.get("public_key")
    if trusted_key_pem is None and named is None:
        if signature is not None:
            raise Tampered("bad signature: manifest.sig is there but the manifest names no key")
        return None
    if signature is None:
        raise Tampered("bad signature: manifest.sig is missing")
    try:
        key = load_public_key(
            trusted_key_pem if trusted_key_pem is not None else str(named).encode()
        )
    except ValueError:
        whose = "the given public key" if trusted_key_pem is not None else "the manifest's key"
        raise Tampered(f"bad signature: {whose} is not an Ed25519 public key") from None
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical_manifest(manifest))
    except (InvalidSignature, binascii.Error, ValueError):
        whose = "the given public key" if trusted_key_pem is not None else "the manifest's key"
        raise Tampered(f"bad signature: manifest.sig does not verify against {whose}") from None
    return key_fingerprint(key)


def _start_of(manifest: Mapping[str, Any]) -> bytes:
    previous = manifest.get("previous_head")
    if previous is None:
        return GENESIS
    try:
        start = bytes.fromhex(str(previous))
    except ValueError:
        raise Tampered("manifest mismatch: previous_head is not a hash") from None
    if len(start) != len(GENESIS):
        raise Tampered("manifest mismatch: previous_head is not a hash")
    return start


def _split_lines(blob: bytes) -> tuple[list[bytes], bool]:
    """The lines without their line ends, and whether the last one had none (a cut file)."""
    if not blob:
        return [], False
    lines = blob.split(b"\n")
    if lines[-1] == b"":
        return lines[:-1], False
    return lines, True


def _parse_chain(blob: bytes) -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    for number, text in enumerate(blob.decode(errors="replace").splitlines(), 1):
        try:
            entry = ChainEntry.from_json(text)
            bytes.fromhex(entry.hash)
        except (ValueError, KeyError, TypeError):
            raise Tampered(f"chain.jsonl line {number} is not a chain entry") from None
        if entry.line != number:
            raise Tampered(f"chain.jsonl line {number} says it is line {entry.line}")
        entries.append(entry)
    return entries


def _walk(
    lines: Sequence[bytes], entries: Sequence[ChainEntry], start: bytes, unterminated: bool
) -> bytes:
    current = start
    for index, line in enumerate(lines):
        if index >= len(entries):
            raise Tampered(
                f"count mismatch at line {index + 1}: events.jsonl has {len(lines)} lines, "
                f"chain.jsonl {len(entries)} (line {index + 1} and after were added)"
            )
        computed = next_hash(current, line)
        if computed.hex() != entries[index].hash:
            what = _what_happened(index, lines, entries, current, unterminated)
            raise Tampered(f"hash mismatch at line {index + 1}: {what}")
        current = computed
    if unterminated:
        raise Tampered(f"line {len(lines)} has no line end: events.jsonl was cut")
    return current


def _what_happened(
    index: int,
    lines: Sequence[bytes],
    entries: Sequence[ChainEntry],
    previous: bytes,
    unterminated: bool,
) -> str:
    """Which change explains the mismatch at ``index``, judged by where the recorded chain
    picks up again; lines before ``index`` are known good, so ``previous`` is the recorded
    hash before it."""

    def recorded(at: int) -> bytes | None:
        return bytes.fromhex(entries[at].hash) if 0 <= at < len(entries) else None

    def line(at: int) -> bytes | None:
        return lines[at] if 0 <= at < len(lines) else None

    def links(before: bytes | None, text: bytes | None, after: bytes | None) -> bool:
        if before is None or text is None or after is None:
            return False
        return next_hash(before, text) == after

    here, following = recorded(index), recorded(index + 1)
    if links(previous, line(index + 1), here) and links(here, line(index), following):
        return f"lines {index + 1} and {index + 2} were swapped (reordered)"
    if links(previous, line(index + 1), here):
        return "this line was inserted"
    if links(here, line(index), following):
        return "the line that was here was removed"
    if unterminated and index == len(lines) - 1:
        return "the line was cut (events.jsonl is truncated)"
    if links(here, line(index + 1), following) or (
        index == len(lines) - 1 and index == len(entries) - 1
    ):
        # The first line also depends on where the chain starts: the manifest's previous_head.
        return "this line was edited" + (" (or previous_head was changed)" if index == 0 else "")
    return "edited, removed, inserted or reordered from here on"


def _check_counts(
    lines: Sequence[bytes], entries: Sequence[ChainEntry], manifest: Mapping[str, Any]
) -> None:
    if len(lines) < len(entries):
        raise Tampered(
            f"count mismatch after line {len(lines)}: events.jsonl has {len(lines)} lines, "
            f"chain.jsonl {len(entries)} (lines were removed from the end, or it was truncated)"
        )
    if manifest.get("events") != len(lines):
        raise Tampered(
            f"manifest mismatch: it counts {manifest.get('events')} events, "
            f"events.jsonl has {len(lines)} lines"
        )


def _check_manifest(
    entries: Sequence[ChainEntry], head: bytes, manifest: Mapping[str, Any]
) -> None:
    if manifest.get("head") != head.hex():
        raise Tampered(
            f"manifest mismatch: head {manifest.get('head')}, the chain ends at {head.hex()}"
        )
    positions = [entry.position for entry in entries]
    if manifest.get("topics") != topic_counts(positions):
        raise Tampered("manifest mismatch: the counts per topic differ from the chain's")
    recorded = {
        (item["topic"], item["partition"]): (
            item["events"],
            item["first_offset"],
            item["last_offset"],
        )
        for item in manifest.get("partitions", [])
    }
    computed = {
        (item["topic"], item["partition"]): (
            item["events"],
            item["first_offset"],
            item["last_offset"],
        )
        for item in partition_summary(positions, {})
    }
    for partition, (count, first, last) in computed.items():
        if recorded.get(partition) != (count, first, last):
            topic, number = partition
            raise Tampered(
                f"manifest mismatch: {topic}/{number} has {count} events (offsets {first}-{last}), "
                f"the manifest says {recorded.get(partition)}"
            )
    extra = [p for p, (count, _, _) in recorded.items() if count and p not in computed]
    if extra:
        topic, number = extra[0]
        raise Tampered(f"manifest mismatch: it counts events of {topic}/{number} the chain lacks")
