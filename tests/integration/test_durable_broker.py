"""The durable embedded broker: the log, written through the CLI, survives a clean stop and a
``kill -9`` of both the broker and its object store, event for event, byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.store import StoreUnavailableError
from infra.topics import TopicSettings, ensure_topics
from services.cli.main import app

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("RITUALS_TEST_ENGINE") == "kafka",
        reason="the embedded broker's own storage: tested in the embedded pass of make test",
    ),
    pytest.mark.timeout(240),
]
EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-members.csv"


def export(cli: CliRunner, folder: Path, name: str) -> list[str]:
    out = folder / f"{name}.jsonl"
    result = cli.invoke(app, ["events", "export", "--org", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8").splitlines()


def test_the_log_survives_a_clean_stop_and_a_kill_of_broker_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    broker = EmbeddedBroker(data_dir=data).start()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
    cli = CliRunner()
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), TopicSettings())
        imported = cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
        assert imported.exit_code == 0, imported.output
        paused = cli.invoke(
            app, ["members", "pause", "bram", "--org", "acme", "--until", "2027-04-01"]
        )
        assert paused.exit_code == 0, paused.output
        before = export(cli, tmp_path, "before")
        assert len(before) > 5
    finally:
        broker.kill()  # kill -9 of the broker and of its store

    again = EmbeddedBroker(broker.port, data_dir=data).start()
    try:
        assert export(cli, tmp_path, "after-kill") == before
        requested = cli.invoke(app, ["round", "request", "--org", "acme"])
        assert requested.exit_code == 0, requested.output
        grown = export(cli, tmp_path, "grown")
        assert len(grown) == len(before) + 1
    finally:
        again.stop()  # a clean stop, broker first, then the store

    last = EmbeddedBroker(broker.port, data_dir=data).start()
    try:
        assert export(cli, tmp_path, "after-stop") == grown
    finally:
        last.stop()


def test_a_data_folder_that_cannot_be_written_is_refused_clearly(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: make the folder a file instead
        locked.chmod(0o700)
        locked.rmdir()
        locked.write_text("not a folder")
    with pytest.raises(StoreUnavailableError, match="not writable"):
        EmbeddedBroker(data_dir=locked / "rituals").start()
