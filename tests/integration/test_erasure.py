"""Erasure by crypto-shredding through a real broker: after ``rituals members erase``, every
byte the platform holds or emits (raw records of every topic, ``events export``, an audit
export, command output and logs, a rebuilt state, the insights) is searched for the person's
name, e-mail and profile strings, and none is found; other members still open, the insights
figures stay, the audit chain still verifies. Bad input exits 2 and changes nothing."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from typer.testing import CliRunner

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from services.cli.main import app
from services.common.admission import admit
from services.common.domain.directory import MemberDirectory
from services.common.privacy import PrivacySettings, configured_vault
from services.common.vault import Vault
from tests.integration.test_audit_commands import publish_match_and_notification
from tests.kafka_io import read_all
from tests.unit.cli.test_erasure_outbox import write_email

pytestmark = pytest.mark.broker
EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-members.csv"
ERASED = "bram"
BRAM = ("Bram de Vries", "bram@acme.example", "Bram de V.", "bram.devries@", "origami")
"""Bram's name and e-mail as imported, his updated name and e-mail, and the interest only he
has (his other one, running, is shared with another member)."""


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vault:
    """A key-encryption key and a key store of the test's own, as every command reads them."""
    monkeypatch.setenv("RITUALS_KEY_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.setenv("RITUALS_KEY_STORE_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("RITUALS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    vault = configured_vault(PrivacySettings())
    assert vault is not None
    return vault


def invoke(cli: CliRunner, transcript: list[str], *arguments: str) -> Any:
    result = cli.invoke(app, list(arguments))
    transcript.append(result.output)
    return result


def raw_topics(kafka: KafkaSettings, topics: TopicSettings) -> bytes:
    """Every record (key, value, headers) of every topic of the test, dead letters included,
    read raw from offset 0."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers.split(","))
    try:
        names = sorted(name for name in consumer.topics() if name.startswith(topics.prefix))
    finally:
        consumer.close()
    assert topics.name(Topic.MEMBERS) in names
    blob = bytearray()
    for name in names:
        for record in read_all(kafka.bootstrap_servers, name):
            blob += (record.key or b"") + (record.value or b"")
            for header, value in record.headers:
                blob += header.encode() + value
    return bytes(blob)


def rebuilt_directory(kafka: KafkaSettings, topics: TopicSettings, vault: Vault) -> MemberDirectory:
    """The member directory a service rebuilds: the members topic, admitted as the runtime does,
    opened with the vault."""
    directory = MemberDirectory()
    for record in read_all(kafka.bootstrap_servers, topics.name(Topic.MEMBERS)):
        directory.apply(admit(record, topics, None, vault))
    return directory


def insights(cli: CliRunner, out: Path, *team: str) -> dict[str, Any]:
    """The organisation's insights report (``--team T``: a team's view, with names)."""
    arguments = ["insights", "--org", "acme", *team, "--format", "json", "--out", str(out)]
    result = cli.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def figures(cli: CliRunner, out: Path) -> dict[str, Any]:
    """The organisation's insights figures (the member rows and graph carry names)."""
    report = insights(cli, out)
    return {
        key: report[key]
        for key in (
            "coffee",
            "rounds",
            "rituals",
            "connections",
            "team_pairs",
            "members_by_status",
            "events",
        )
    }


def updated_roster(tmp_path: Path) -> Path:
    """The example roster with Bram renamed, given another e-mail and a rare interest: a
    profile update."""
    text = (
        EXAMPLE.read_text(encoding="utf-8")
        .replace(
            "bram,Bram de Vries,bram@acme.example", "bram,Bram de V.,bram.devries@acme.example"
        )
        .replace("nl;en,running,2023-09-01", "nl;en,running;origami,2023-09-01")
    )
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_erased_member_leaves_no_personal_data_in_any_byte(
    cli: CliRunner,
    kafka: KafkaSettings,
    topics: TopicSettings,
    keys: Vault,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    transcript: list[str] = []
    assert (
        invoke(cli, transcript, "members", "import", str(EXAMPLE), "--org", "acme").exit_code == 0
    )
    updated = invoke(
        cli, transcript, "members", "import", str(updated_roster(tmp_path)), "--org", "acme"
    )
    assert "1 profile_updated" in updated.output, updated.output
    requested = invoke(cli, transcript, "round", "request", "--org", "acme", "--week", "2026-03-04")
    assert requested.exit_code == 0, requested.output
    publish_match_and_notification(kafka, topics)  # a group of ada and bram, ada notified
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    to_ada = write_email(
        outbox, "1", ("Ada Jansen", "ada@acme.example"), "You meet Bram de V.", "base64"
    )
    to_bram = write_email(outbox, "2", ("Bram de V.", "bram.devries@acme.example"), "Hi", "7bit")
    to_chloe = write_email(outbox, "3", ("Chloé Martin", "chloe@acme.example"), "Hi", "base64")
    # Bram leaves, then asks to be erased: the erasure changes no figure the leaving did not.
    assert invoke(cli, transcript, "members", "leave", ERASED, "--org", "acme").exit_code == 0
    before = tmp_path / "audit-before"
    assert (
        invoke(cli, transcript, "audit", "export", "--out", str(before), "--org", "acme").exit_code
        == 0
    )
    raw_before = raw_topics(kafka, topics)
    assert b"acme" in raw_before
    assert not any(text.encode() in raw_before for text in BRAM), "sealed from the start"
    figures_before = figures(cli, tmp_path / "before.json")
    bram_before = rebuilt_directory(kafka, topics, keys).member("acme", ERASED)
    assert bram_before is not None
    assert bram_before.profile.display_name == "Bram de V."  # opened while the key exists

    erased = invoke(cli, transcript, "members", "erase", ERASED, "--org", "acme")

    assert erased.exit_code == 0, erased.output
    assert "data key destroyed" in erased.output
    assert "deleted 2 e-mail(s)" in erased.output
    assert not to_ada.exists()  # named Bram: the outbox keeps no copy
    assert not to_bram.exists()
    assert to_chloe.exists()
    assert not (tmp_path / "keys" / "acme" / f"{ERASED}.key").exists()
    exported = tmp_path / "events.jsonl"
    assert (
        invoke(
            cli, transcript, "events", "export", "--out", str(exported), "--org", "acme"
        ).exit_code
        == 0
    )
    after = tmp_path / "audit-after"
    assert (
        invoke(cli, transcript, "audit", "export", "--out", str(after), "--org", "acme").exit_code
        == 0
    )
    own = tmp_path / "bram.json"
    assert (
        invoke(
            cli, transcript, "members", "export-data", ERASED, "--org", "acme", "--out", str(own)
        ).exit_code
        == 0
    )
    team_view = tmp_path / "platform.json"
    platform = insights(cli, team_view, "--team", "Platform")
    directory = rebuilt_directory(kafka, topics, keys)

    everything = b"".join(
        [
            raw_topics(kafka, topics),
            exported.read_bytes(),
            *(path.read_bytes() for path in sorted(after.iterdir())),
            own.read_bytes(),
            *(path.read_bytes() for path in sorted(outbox.iterdir())),
            team_view.read_bytes(),
            "".join(transcript).encode(),
            caplog.text.encode(),
            json.dumps(
                [m.profile.model_dump(mode="json") for m in directory.members("acme")]
            ).encode(),
            *(
                path.read_bytes()
                for path in sorted((tmp_path / "keys").rglob("*"))
                if path.is_file()
            ),
        ]
    )
    assert b"Ada Jansen" in everything  # the search finds what is still there
    for text in BRAM:
        assert text.encode() not in everything, f"{text!r} still readable after the erasure"
        assert json.dumps(text).encode()[1:-1] not in everything
    bram = directory.member("acme", ERASED)
    assert bram is not None
    assert bram.profile.erased is True
    assert bram.profile.display_name == "Former member"
    assert [row["name"] for row in platform["members"]] == ["Ada Jansen"]  # Bram left
    assert json.loads(own.read_text())["profile"]["display_name"] == "Former member"
    ada = directory.member("acme", "ada")
    assert ada is not None
    assert ada.profile.display_name == "Ada Jansen"  # the others still open
    assert figures(cli, tmp_path / "after.json") == figures_before | {
        "events": figures_before["events"] + 1
    }

    verified = invoke(cli, transcript, "audit", "verify", str(before))
    assert verified.exit_code == 0, verified.output
    verified_after = invoke(cli, transcript, "audit", "verify", str(after))
    assert verified_after.exit_code == 0, verified_after.output
    lines_before = (before / "events.jsonl").read_bytes().splitlines()
    lines_after = (after / "events.jsonl").read_bytes().splitlines()
    assert set(lines_before) <= set(lines_after), "the chain covers the unchanged ciphertext"
    assert len(lines_after) == len(lines_before) + 1  # member.erased
    continued = tmp_path / "audit-continued"
    arguments = ["--out", str(continued), "--org", "acme", "--since", str(before)]
    assert invoke(cli, transcript, "audit", "export", *arguments).exit_code == 0
    linked = invoke(cli, transcript, "audit", "verify", str(continued), "--since", str(before))
    assert linked.exit_code == 0, linked.output


def test_erase_refuses_unknown_members_a_second_erase_and_a_corrupt_key_store(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, keys: Vault, tmp_path: Path
) -> None:
    assert cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"]).exit_code == 0
    members = topics.name(Topic.MEMBERS)

    unknown = cli.invoke(app, ["members", "erase", "nobody", "--org", "acme"])
    assert unknown.exit_code == 2
    assert "no member 'nobody'" in unknown.output

    assert cli.invoke(app, ["members", "erase", "dev", "--org", "acme"]).exit_code == 0
    written = len(read_all(kafka.bootstrap_servers, members))
    again = cli.invoke(app, ["members", "erase", "dev", "--org", "acme"])
    assert again.exit_code == 2
    assert "already erased" in again.output
    assert len(read_all(kafka.bootstrap_servers, members)) == written

    key_file = tmp_path / "keys" / "acme" / "chloe.key"
    intact = key_file.read_bytes()
    key_file.write_bytes(b"\x00garbage")
    corrupt = cli.invoke(app, ["members", "erase", "chloe", "--org", "acme"])
    assert corrupt.exit_code == 2
    assert "key store" in corrupt.output
    assert "corrupt" in corrupt.output
    assert len(read_all(kafka.bootstrap_servers, members)) == written  # nothing published
    key_file.write_bytes(intact)
    chloe = rebuilt_directory(kafka, topics, keys).member("acme", "chloe")
    assert chloe is not None
    assert chloe.profile.display_name == "Chloé Martin"  # nothing lost


def test_data_written_before_encryption_is_erased_from_view_but_says_it_cannot_be_shredded(
    cli: CliRunner,
    kafka: KafkaSettings,
    topics: TopicSettings,
    keys: Vault,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = os.environ["RITUALS_KEY_ENCRYPTION_KEY"]
    monkeypatch.delenv("RITUALS_KEY_ENCRYPTION_KEY")
    assert cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"]).exit_code == 0
    monkeypatch.setenv("RITUALS_KEY_ENCRYPTION_KEY", key)

    erased = cli.invoke(app, ["members", "erase", ERASED, "--org", "acme"])

    assert erased.exit_code == 0, erased.output
    assert "cannot be shredded" in erased.output
    assert b"Bram de Vries" in raw_topics(kafka, topics)  # the documented limit
    bram = rebuilt_directory(kafka, topics, keys).member("acme", ERASED)
    assert bram is not None
    assert bram.profile.display_name == "Former member"  # services no longer hold it
    again = cli.invoke(app, ["members", "erase", ERASED, "--org", "acme"])
    assert again.exit_code == 2
