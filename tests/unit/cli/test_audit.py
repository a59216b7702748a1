"""The audit export's chain, manifest and signature, and every kind of tampering verify finds:
on files, the history read from the log replaced by a list."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from schemas import CloudEvent, encode_event
from schemas.coffee import CoffeeRoundRequested
from schemas.notifications import NotificationSent
from services.cli import audit
from services.cli.audit_chain import (
    GENESIS,
    Position,
    canonical_line,
    canonical_manifest,
    chain_hashes,
    next_hash,
)
from services.cli.main import app
from tests.factories import T0, event, member_joined_event
from tests.unit.insights.support import matched

TOPIC = "rituals.members"


def history(count: int, start: int = 0) -> list[tuple[CloudEvent[Any], Position]]:
    """Members joining a minute apart, on two partitions, in domain-time order."""
    return [
        (
            member_joined_event(member_id=f"m-{n}", time=T0 + timedelta(minutes=n)),
            Position(TOPIC, n % 2, n // 2),
        )
        for n in range(start, start + count)
    ]


SIX = history(6)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv(audit.SIGNING_KEY_VARIABLE, raising=False)
    return CliRunner()


def export(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    out: Path,
    events: list[tuple[CloudEvent[Any], Position]],
    *extra: str,
) -> None:
    def read(org: str | None, previous: audit.Previous | None) -> audit.ReadHistory:
        offsets = dict(previous.next_offsets) if previous is not None else {}
        for _, position in events:
            where = (position.topic, position.partition)
            offsets[where] = max(offsets.get(where, 0), position.offset + 1)
        return audit.ReadHistory(events, offsets)

    monkeypatch.setattr(audit, "_read_history", read)
    result = runner.invoke(app, ["audit", "export", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output


def verify(runner: CliRunner, folder: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", str(folder), *extra])
    return result.exit_code, result.output


def write_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


def write_public_key(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def lines_of(folder: Path) -> list[str]:
    return (folder / "events.jsonl").read_text().splitlines(keepends=True)


def rewrite(folder: Path, lines: list[str]) -> None:
    (folder / "events.jsonl").write_text("".join(lines))


def edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, **changes}, indent=2))


@pytest.fixture
def exported(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    out = tmp_path / "export"
    export(runner, monkeypatch, out, SIX)
    return out


def test_the_chain_rule_and_its_continuation() -> None:
    lines = [b"first", b"second", b"third"]
    hashes = chain_hashes(lines)
    assert hashes[0] == next_hash(GENESIS, b"first")
    assert hashes[2] == next_hash(next_hash(next_hash(GENESIS, b"first"), b"second"), b"third")
    assert chain_hashes(lines[1:], start=hashes[0]) == hashes[1:]


def test_an_export_is_the_canonical_lines_of_events_export_with_a_chain_and_a_manifest(
    exported: Path, runner: CliRunner
) -> None:
    assert lines_of(exported) == [
        json.dumps(json.loads(encode_event(e)), sort_keys=True) + "\n" for e, _ in SIX
    ]
    chain = [json.loads(line) for line in (exported / "chain.jsonl").read_text().splitlines()]
    expected = chain_hashes(line.rstrip("\n").encode() for line in lines_of(exported))
    assert [entry["hash"] for entry in chain] == [digest.hex() for digest in expected]
    assert [(entry["partition"], entry["offset"]) for entry in chain][:3] == [
        (0, 0),
        (1, 0),
        (0, 1),
    ]
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["events"] == 6
    assert manifest["head"] == expected[-1].hex()
    assert manifest["previous_head"] is None
    assert manifest["org"] is None
    assert manifest["topics"] == {TOPIC: 6}
    assert [
        (p["partition"], p["events"], p["first_offset"], p["last_offset"], p["next_offset"])
        for p in manifest["partitions"]
    ] == [(0, 3, 0, 2, 3), (1, 3, 0, 2, 3)]
    assert not (exported / "manifest.sig").exists()
    assert verify(runner, exported) == (
        0,
        f"whole: 6 events chained from the start to head {expected[-1].hex()}, unsigned\n",
    )


def test_an_edited_line_is_named(exported: Path, runner: CliRunner) -> None:
    lines = lines_of(exported)
    lines[2] = lines[2].replace("m-2", "m-9")
    rewrite(exported, lines)
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 3: this line was edited" in output


def test_a_byte_changed_in_the_last_line_is_named(exported: Path, runner: CliRunner) -> None:
    blob = bytearray((exported / "events.jsonl").read_bytes())
    blob[-10] ^= 0x01
    (exported / "events.jsonl").write_bytes(bytes(blob))
    assert verify(runner, exported)[1].startswith("not whole: hash mismatch at line 6: this line")


def test_a_removed_line_is_named(exported: Path, runner: CliRunner) -> None:
    lines = lines_of(exported)
    del lines[3]
    rewrite(exported, lines)
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 4: the line that was here was removed" in output


def test_a_removed_last_line_is_a_count_mismatch(exported: Path, runner: CliRunner) -> None:
    rewrite(exported, lines_of(exported)[:-1])
    code, output = verify(runner, exported)
    assert code == 1
    assert "count mismatch after line 5" in output


def test_an_inserted_line_is_named(exported: Path, runner: CliRunner) -> None:
    lines = lines_of(exported)
    lines.insert(2, lines[0])
    rewrite(exported, lines)
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 3: this line was inserted" in output


def test_an_appended_line_is_named(exported: Path, runner: CliRunner) -> None:
    rewrite(exported, [*lines_of(exported), lines_of(exported)[0]])
    code, output = verify(runner, exported)
    assert code == 1
    assert "count mismatch at line 7" in output


def test_two_swapped_lines_are_named(exported: Path, runner: CliRunner) -> None:
    lines = lines_of(exported)
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(exported, lines)
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 2: lines 2 and 3 were swapped" in output


def test_a_file_cut_in_a_line_is_named(exported: Path, runner: CliRunner) -> None:
    blob = (exported / "events.jsonl").read_bytes()
    (exported / "events.jsonl").write_bytes(blob[:-40])
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 6: the line was cut (events.jsonl is truncated)" in output


def test_a_file_cut_after_its_last_line_end_is_named(exported: Path, runner: CliRunner) -> None:
    blob = (exported / "events.jsonl").read_bytes()
    (exported / "events.jsonl").write_bytes(blob[:-1])
    code, output = verify(runner, exported)
    assert code == 1
    assert "line 6 has no line end" in output


def test_a_changed_manifest_count_is_named(exported: Path, runner: CliRunner) -> None:
    edit_manifest(exported, events=7)
    code, output = verify(runner, exported)
    assert code == 1
    assert "manifest mismatch: it counts 7 events, events.jsonl has 6 lines" in output


def test_a_changed_partition_count_is_named(exported: Path, runner: CliRunner) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    manifest["partitions"][1]["events"] = 2
    edit_manifest(exported, partitions=manifest["partitions"])
    code, output = verify(runner, exported)
    assert code == 1
    assert f"manifest mismatch: {TOPIC}/1 has 3 events" in output


def test_a_changed_head_is_named(exported: Path, runner: CliRunner) -> None:
    edit_manifest(exported, head="ab" * 32)
    code, output = verify(runner, exported)
    assert code == 1
    assert f"manifest mismatch: head {'ab' * 32}" in output


def test_a_rewritten_chain_does_not_match_the_manifest_head(
    exported: Path, runner: CliRunner
) -> None:
    """Editing a line and recomputing the whole chain file still leaves the manifest's head."""
    lines = lines_of(exported)
    lines[0] = lines[0].replace("m-0", "m-8")
    rewrite(exported, lines)
    entries = [json.loads(line) for line in (exported / "chain.jsonl").read_text().splitlines()]
    hashes = chain_hashes(line.rstrip("\n").encode() for line in lines)
    (exported / "chain.jsonl").write_text(
        "".join(
            json.dumps({**entry, "hash": digest.hex()}) + "\n"
            for entry, digest in zip(entries, hashes, strict=True)
        )
    )
    code, output = verify(runner, exported)
    assert code == 1
    assert "manifest mismatch: head" in output


def test_a_changed_chain_start_is_named_at_the_first_line(
    exported: Path, runner: CliRunner
) -> None:
    edit_manifest(exported, previous_head="cd" * 32)
    code, output = verify(runner, exported)
    assert code == 1
    assert "hash mismatch at line 1: this line was edited (or previous_head was changed)" in output


@pytest.fixture
def signed(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[Path, Ed25519PrivateKey]:
    key = write_key(tmp_path / "signing.pem")
    monkeypatch.setenv(audit.SIGNING_KEY_VARIABLE, str(tmp_path / "signing.pem"))
    out = tmp_path / "signed"
    export(runner, monkeypatch, out, history(4))
    return out, key


def test_a_signed_export_verifies_against_its_key(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner, tmp_path: Path
) -> None:
    folder, key = signed
    manifest = json.loads((folder / "manifest.json").read_text())
    signature = base64.b64decode((folder / "manifest.sig").read_text())
    key.public_key().verify(signature, canonical_manifest(manifest))
    public = write_public_key(tmp_path / "public.pem", key)
    code, output = verify(runner, folder, "--public-key", str(public))
    assert code == 0, output
    assert "signed by SHA256:" in output


def test_a_signature_from_another_key_is_refused(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner, tmp_path: Path
) -> None:
    folder, _ = signed
    impostor = Ed25519PrivateKey.generate()
    manifest = json.loads((folder / "manifest.json").read_text())
    forged = base64.b64encode(impostor.sign(canonical_manifest(manifest))).decode()
    (folder / "manifest.sig").write_text(forged + "\n")
    code, output = verify(runner, folder)
    assert code == 1
    assert "bad signature: manifest.sig does not verify against the manifest's key" in output


def test_a_manifest_re_signed_by_another_key_fails_against_the_trusted_key(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner, tmp_path: Path
) -> None:
    folder, key = signed
    impostor = Ed25519PrivateKey.generate()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["public_key"] = (
        impostor.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))
    forged = base64.b64encode(impostor.sign(canonical_manifest(manifest))).decode()
    (folder / "manifest.sig").write_text(forged)
    assert verify(runner, folder)[0] == 0  # whole in itself: only a trusted key tells
    public = write_public_key(tmp_path / "public.pem", key)
    code, output = verify(runner, folder, "--public-key", str(public))
    assert code == 1
    assert "bad signature: manifest.sig does not verify against the given public key" in output


def test_a_public_key_that_is_not_one_is_a_user_mistake(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner, tmp_path: Path
) -> None:
    folder, _ = signed
    (tmp_path / "public.pem").write_text("not a key\n")
    code, output = verify(runner, folder, "--public-key", str(tmp_path / "public.pem"))
    assert code == 2
    assert "is not a PEM Ed25519 public key" in output


def test_a_changed_count_in_a_signed_manifest_breaks_the_signature(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner
) -> None:
    folder, _ = signed
    edit_manifest(folder, events=5)
    code, output = verify(runner, folder)
    assert code == 1
    assert "bad signature" in output


def test_a_removed_signature_is_refused(
    signed: tuple[Path, Ed25519PrivateKey], runner: CliRunner
) -> None:
    folder, _ = signed
    (folder / "manifest.sig").unlink()
    code, output = verify(runner, folder)
    assert code == 1
    assert "bad signature: manifest.sig is missing" in output


def test_a_signing_key_that_is_not_one_is_refused_without_showing_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "key.pem"
    secret.write_text(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    )
    monkeypatch.setenv(audit.SIGNING_KEY_VARIABLE, str(secret))
    result = runner.invoke(app, ["audit", "export", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "not an unencrypted PEM private key" in result.output
    assert "c2VjcmV0" not in result.output
    assert not (tmp_path / "out").exists()


def test_an_incremental_export_continues_the_chain(
    exported: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    later = tmp_path / "later"
    export(runner, monkeypatch, later, history(3, start=6), "--since", str(exported))
    first = json.loads((exported / "manifest.json").read_text())
    second = json.loads((later / "manifest.json").read_text())
    assert second["previous_head"] == first["head"]
    assert second["events"] == 3
    assert [
        (p["first_offset"], p["last_offset"], p["next_offset"]) for p in second["partitions"]
    ] == [
        (3, 4, 5),
        (3, 3, 4),
    ]
    whole_lines = [line.rstrip("\n").encode() for line in lines_of(exported) + lines_of(later)]
    assert second["head"] == chain_hashes(whole_lines)[-1].hex()
    code, output = verify(runner, later, "--since", str(exported))
    assert code == 0, output
    assert f"from head {first['head']}" in output


def test_an_export_that_does_not_continue_another_is_named(
    exported: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unrelated = tmp_path / "unrelated"
    export(runner, monkeypatch, unrelated, history(2, start=10))
    code, output = verify(runner, unrelated, "--since", str(exported))
    assert code == 1
    assert "not a continuation" in output


def test_an_incremental_export_refuses_a_tampered_previous_one(
    exported: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    edit_manifest(exported, events=9)
    result = runner.invoke(
        app, ["audit", "export", "--out", str(tmp_path / "x"), "--since", str(exported)]
    )
    assert result.exit_code == 2
    assert "is not whole" in result.output


def test_an_export_never_writes_over_another(exported: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["audit", "export", "--out", str(exported)])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_the_canonical_line_sorts_keys() -> None:
    assert canonical_line({"b": 1, "a": "é"}) == '{"a": "\\u00e9", "b": 1}'


def test_the_causation_chain_goes_back_to_the_origin() -> None:
    requested = event(
        CoffeeRoundRequested(round_id="coffee-2025-03-03", week_starting=T0.date()),
        source="/rituals/cli",
    )
    group = matched("coffee-2025-03-03", "g1", ("ada", "bram"), T0)
    caused_group = event(group.data, source="/rituals/matcher", cause=requested)
    sent = event(
        NotificationSent(
            notification_id="n-1",
            source_event_id=str(caused_group.id),
            recipient_id="ada",
            channel="email",
            template="coffee_matched",
            language="en",
        ),
        source="/rituals/notifier",
        cause=caused_group,
    )
    by_id = {str(e.id): e for e in (requested, caused_group, sent)}
    chain, missing = audit.causation_chain(str(sent.id), by_id)
    assert [(e.type, e.source) for e in chain] == [
        ("rituals.notification.sent", "/rituals/notifier"),
        ("rituals.coffee.matched", "/rituals/matcher"),
        ("rituals.coffee.round_requested", "/rituals/cli"),
    ]
    assert missing is None
    del by_id[str(requested.id)]
    chain, missing = audit.causation_chain(str(sent.id), by_id)
    assert len(chain) == 2
    assert missing == str(requested.id)
