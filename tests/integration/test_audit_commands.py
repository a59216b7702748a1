"""``rituals audit`` through a real broker: export, verify, tamper, continue, explain."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import decode_event
from schemas.notifications import NotificationSent
from services.cli.main import app
from services.common.adapters.publisher import EventPublisher
from tests.factories import event
from tests.kafka_io import read_all
from tests.unit.insights.support import matched

pytestmark = pytest.mark.broker
EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-members.csv"


def signing_key(private: Path, public: Path) -> Path:
    key = Ed25519PrivateKey.generate()
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def publish_match_and_notification(kafka: KafkaSettings, topics: TopicSettings) -> str:
    """What the matcher and the notifier would publish after the requested round: a group
    caused by the request, a notification caused by the group. The notification's id."""
    coffee = [
        decode_event(r.value or b"")
        for r in read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))
    ]
    requested = next(e for e in coffee if e.type == "rituals.coffee.round_requested")
    later = datetime.now(UTC) + timedelta(minutes=1)
    group = matched(requested.data.round_id, "g1", ("ada", "bram"), later)
    group = event(group.data, org="acme", time=later, source="/rituals/matcher", cause=requested)
    sent = event(
        NotificationSent(
            notification_id=f"{group.id}/ada/email",
            source_event_id=str(group.id),
            recipient_id="ada",
            channel="email",
            template="coffee_matched",
            language="en",
        ),
        org="acme",
        time=later + timedelta(seconds=1),
        source="/rituals/notifier",
        cause=group,
    )
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([group, sent])
    return str(sent.id)


def test_export_verify_tamper_continue_and_explain(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> None:
    assert cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"]).exit_code == 0
    requested = cli.invoke(app, ["round", "request", "--org", "acme", "--week", "2026-03-04"])
    assert requested.exit_code == 0, requested.output

    first = tmp_path / "first"
    public_key = signing_key(tmp_path / "audit.key", tmp_path / "audit.pub")
    exported = cli.invoke(
        app,
        ["audit", "export", "--out", str(first), "--org", "acme"],
        env={"RITUALS_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit.key")},
    )
    assert exported.exit_code == 0, exported.output
    assert "exported 6 events" in exported.output
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["events"] == 6
    assert manifest["org"] == "acme"
    assert set(manifest["topics"]) == {topics.name(Topic.MEMBERS), topics.name(Topic.COFFEE)}
    whole = cli.invoke(app, ["audit", "verify", str(first), "--public-key", str(public_key)])
    assert whole.exit_code == 0, whole.output
    assert whole.output.startswith("whole: 6 events")
    assert "signed by SHA256:" in whole.output

    tampered = tmp_path / "tampered"
    shutil.copytree(first, tampered)
    blob = bytearray((tampered / "events.jsonl").read_bytes())
    third_line = blob.index(b"\n", blob.index(b"\n") + 1) + 1
    blob[third_line + 20] ^= 0x01
    (tampered / "events.jsonl").write_bytes(bytes(blob))
    broken = cli.invoke(app, ["audit", "verify", str(tampered)])
    assert broken.exit_code == 1
    assert "hash mismatch at line 3" in broken.output

    notification_id = publish_match_and_notification(kafka, topics)
    second = tmp_path / "second"
    continued = cli.invoke(
        app, ["audit", "export", "--out", str(second), "--org", "acme", "--since", str(first)]
    )
    assert continued.exit_code == 0, continued.output
    assert "exported 2 events" in continued.output
    assert json.loads((second / "manifest.json").read_text())["previous_head"] == manifest["head"]
    linked = cli.invoke(app, ["audit", "verify", str(second), "--since", str(first)])
    assert linked.exit_code == 0, linked.output

    explained = cli.invoke(app, ["audit", "explain", notification_id, "--org", "acme"])
    assert explained.exit_code == 0, explained.output
    lines = explained.stdout.splitlines()
    assert [line.split()[-3:-1] for line in lines] == [
        ["rituals.notification.sent", "/rituals/notifier"],
        ["rituals.coffee.matched", "/rituals/matcher"],
        ["rituals.coffee.round_requested", "/rituals/cli"],
    ]
    # Personal data is the directory's names and e-mails; member ids are pseudonyms and an
    # event id's random hex may spell anything, so look for the personal fields themselves.
    for personal in ("Ada Jansen", "ada@acme.example", "Bram de Vries", "bram@acme.example"):
        assert personal not in explained.output
    as_json = cli.invoke(app, ["audit", "explain", notification_id, "--json"])
    assert as_json.exit_code == 0, as_json.output
    chain = json.loads(as_json.stdout)["chain"]
    assert chain[0]["id"] == notification_id
    assert chain[-1]["causationid"] is None
