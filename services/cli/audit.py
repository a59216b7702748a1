"""``rituals audit``: the tamper-evident export of the history, its verification, and the
causation chain of an event (docs/audit.md). The chain and the checks are in ``audit_chain``;
this module reads the log and the files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import TopicPartition

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent, encode_event
from services.cli.audit_chain import (
    GENESIS,
    Position,
    Tampered,
    Verdict,
    build_manifest,
    canonical_line,
    chain_entries,
    load_public_key,
    next_offsets_of,
    sign_manifest,
    verify_export,
)
from services.cli.context import fail, history, kafka_errors_explained, reading_progress
from services.common.adapters.history import domain_topics, read_records

audit_app = typer.Typer(help="Tamper-evident exports of the history.", no_args_is_help=True)

SIGNING_KEY_VARIABLE = "RITUALS_AUDIT_SIGNING_KEY_FILE"
EVENTS_FILE = "events.jsonl"
CHAIN_FILE = "chain.jsonl"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"


@dataclass(frozen=True)
class Previous:
    """What an incremental export continues from."""

    head: str
    next_offsets: dict[tuple[str, int], int]
    event_ids: frozenset[str]


@audit_app.command("export")
def export(
    out: Annotated[
        Path, typer.Option(help="Folder to write (new or empty).", file_okay=False, writable=True)
    ],
    org: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            help="A previous export: continue its chain with the events read after it.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
) -> None:
    """The history in domain-time order as CloudEvents JSON lines, hash-chained, with a
    manifest (signed when RITUALS_AUDIT_SIGNING_KEY_FILE names an Ed25519 key)."""
    key = _signing_key()
    previous = _previous_export(since, org) if since is not None else None
    if out.exists() and any(out.iterdir()):
        fail(f"{out} is not empty: an export is never written over")
    read = _read_history(org, previous)
    lines = [canonical_line(json.loads(encode_event(event))) for event, _ in read.events]
    start = bytes.fromhex(previous.head) if previous is not None else GENESIS
    entries = chain_entries(lines, [position for _, position in read.events], start)
    manifest = build_manifest(
        entries=entries,
        org=org,
        previous_head=previous.head if previous is not None else None,
        next_offsets=read.next_offsets,
        written_at=datetime.now(UTC).isoformat(),
    )
    signature = None
    if key is not None:
        manifest, signature = sign_manifest(manifest, key)
    out.mkdir(parents=True, exist_ok=True)
    _write_lines(out / EVENTS_FILE, lines)
    _write_lines(out / CHAIN_FILE, [entry.to_json() for entry in entries])
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if signature is not None:
        (out / SIGNATURE_FILE).write_text(signature + "\n")
    signed = "signed" if signature is not None else "unsigned"
    typer.echo(f"exported {len(lines)} events to {out}; head {manifest['head']} ({signed})")


@audit_app.command("verify")
def verify(
    folder: Annotated[Path, typer.Argument(help="The export's folder.")],
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="PEM Ed25519 public key the signature must verify against.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            help="The export this one continues: its head must be this one's start.",
            exists=True,
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Exit 0 and a summary when the export is whole and unaltered; exit 1 and the first
    problem (the line, the count, the manifest field or the signature) otherwise."""
    if not folder.is_dir():
        fail(f"{folder} is not a folder")
    trusted = public_key.read_bytes() if public_key is not None else None
    if trusted is not None:
        try:
            load_public_key(trusted)
        except ValueError:
            fail(f"{public_key} is not a PEM Ed25519 public key")
    try:
        verdict = _verify_folder(folder, trusted)
        if since is not None:
            earlier = _verify_folder(since, trusted)
            if verdict.previous_head != earlier.head:
                raise Tampered(
                    f"not a continuation: it starts from {verdict.previous_head}, "
                    f"{since} ends at {earlier.head}"
                )
    except Tampered as problem:
        typer.secho(f"not whole: {problem}", fg=typer.colors.RED)
        raise typer.Exit(1) from None
    start = "the start" if verdict.previous_head is None else f"head {verdict.previous_head}"
    signed = f"signed by {verdict.signed_by}" if verdict.signed_by else "unsigned"
    typer.echo(
        f"whole: {verdict.events} events chained from {start} to head {verdict.head}, {signed}"
    )


@audit_app.command("explain")
def explain(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    org: Annotated[
        str | None, typer.Option(help="Its organisation (reads only its partitions).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chain as JSON.")] = False,
) -> None:
    """The causation chain of an event back to its origin: one line per event (time, type,
    source, id; no personal data)."""
    by_id = {str(event.id): event for event in history(org)}
    if event_id not in by_id:
        fail(f"no event {event_id} in the history")
    chain, missing = causation_chain(event_id, by_id)
    if as_json:
        document = {"chain": [_summary(event) for event in chain], "missing_cause": missing}
        typer.echo(json.dumps(document, indent=2))
        return
    for depth, event in enumerate(chain):
        arrow = "  " * depth + ("<- " if depth else "")
        typer.echo(f"{arrow}{event.time.isoformat()} {event.type} {event.source} [{event.id}]")
    if missing is not None:
        typer.echo(f"cause {missing} is not in the history read")


def causation_chain(
    event_id: str, by_id: dict[str, CloudEvent[Any]]
) -> tuple[list[CloudEvent[Any]], str | None]:
    """The event and its causes up to the origin; the id of a cause not found, if one is not."""
    chain = [by_id[event_id]]
    while (cause := chain[-1].causationid) is not None:
        if cause not in by_id:
            return chain, cause
        if any(str(event.id) == cause for event in chain):  # a loop cannot be followed
            return chain, None
        chain.append(by_id[cause])
    return chain, None


def _summary(event: CloudEvent[Any]) -> dict[str, Any]:
    return {
        "time": event.time.isoformat(),
        "type": event.type,
        "source": event.source,
        "id": str(event.id),
        "causationid": event.causationid,
        "correlationid": event.correlationid,
    }


def _signing_key() -> Ed25519PrivateKey | None:
    """The key named by the variable; its content is never printed, whatever is wrong."""
    name = os.environ.get(SIGNING_KEY_VARIABLE)
    if not name:
        return None
    try:
        key = serialization.load_pem_private_key(Path(name).read_bytes(), password=None)
    except OSError:
        fail(f"{SIGNING_KEY_VARIABLE}: cannot read the key file {name}")
    except (ValueError, TypeError, UnsupportedAlgorithm):
        fail(f"{SIGNING_KEY_VARIABLE}: {name} is not an unencrypted PEM private key")
    if not isinstance(key, Ed25519PrivateKey):
        fail(f"{SIGNING_KEY_VARIABLE}: {name} is not an Ed25519 key")
    return key


def _previous_export(folder: Path, org: str | None) -> Previous:
    """The export to continue: whole (its own signature checked), of the same organisation."""
    try:
        verdict = _verify_folder(folder, None)
    except Tampered as problem:
        fail(f"the previous export {folder} is not whole: {problem}")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    if manifest.get("org") != org:
        fail(
            f"the previous export is of {_organisations(manifest.get('org'))}, "
            f"this one would be of {_organisations(org)}: give the same --org"
        )
    ids = frozenset(
        str(json.loads(line)["id"])
        for line in (folder / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    )
    return Previous(verdict.head, next_offsets_of(manifest), ids)


def _organisations(org: str | None) -> str:
    return "every organisation" if org is None else f"--org {org}"


@dataclass(frozen=True)
class ReadHistory:
    events: list[tuple[CloudEvent[Any], Position]]
    next_offsets: dict[tuple[str, int], int]


def _read_history(org: str | None, previous: Previous | None) -> ReadHistory:
    """Every event once (the first copy in the log), of ``org``, after ``previous``, in
    domain-time order (ties in log order), with where each was read."""
    next_offsets = dict(previous.next_offsets) if previous is not None else {}
    seen = set(previous.event_ids) if previous is not None else set()
    starts = {TopicPartition(topic, number): at for (topic, number), at in next_offsets.items()}
    found: list[tuple[CloudEvent[Any], Position]] = []
    with kafka_errors_explained(), reading_progress() as advance:
        for record in read_records(
            KafkaSettings(),
            domain_topics(TopicSettings()),
            on_progress=advance,
            key=org.encode() if org is not None else None,
            starts=starts,
        ):
            where = (record.topic, record.partition)
            next_offsets[where] = max(next_offsets.get(where, 0), record.offset + 1)
            event = record.event()
            if event is None or str(event.id) in seen or (org is not None and event.orgid != org):
                continue
            seen.add(str(event.id))
            found.append((event, Position(record.topic, record.partition, record.offset)))
    found.sort(key=lambda item: (item[0].time, item[1]))
    return ReadHistory(found, next_offsets)


def _verify_folder(folder: Path, trusted_key_pem: bytes | None) -> Verdict:
    files = {name: folder / name for name in (EVENTS_FILE, CHAIN_FILE, MANIFEST_FILE)}
    for name, path in files.items():
        if not path.is_file():
            raise Tampered(f"{name} is missing from {folder}")
    try:
        manifest = json.loads(files[MANIFEST_FILE].read_text(encoding="utf-8"))
    except ValueError:
        raise Tampered("manifest mismatch: manifest.json is not JSON") from None
    if not isinstance(manifest, dict):
        raise Tampered("manifest mismatch: manifest.json is not an object")
    signature_file = folder / SIGNATURE_FILE
    signature = signature_file.read_text().strip() if signature_file.is_file() else None
    return verify_export(
        files[EVENTS_FILE].read_bytes(),
        files[CHAIN_FILE].read_bytes(),
        manifest,
        signature,
        trusted_key_pem,
    )


def _write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as file:
        for line in lines:
            file.write(line + "\n")
