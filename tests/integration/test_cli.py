"""The ``rituals`` command line against a real broker."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import IO

import pytest
from kafka.admin import KafkaAdminClient, NewTopic
from typer.testing import CliRunner

from infra.broker import free_port
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings, provision_topics
from services.cli.main import app
from services.common.adapters.history import wait_until

pytestmark = pytest.mark.broker


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("broker", "topics", "up"):
        assert command in result.output


def test_topics_provision_is_idempotent(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"cli{uuid.uuid4().hex[:8]}."
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("RITUALS_TOPIC_PREFIX", prefix)
    expected = set(TopicSettings(prefix=prefix).all_names())

    first = CliRunner().invoke(app, ["topics", "provision"])
    second = CliRunner().invoke(app, ["topics", "provision"])

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert first.output.count("created ") == len(expected) == 18  # domain, dead letters, snapshots
    assert second.output.count("existing ") == len(expected)
    admin = KafkaAdminClient(**kafka.kafka_python_params())
    try:
        assert expected <= set(admin.list_topics())
    finally:
        admin.close()


def test_topics_provision_reports_a_topic_laid_out_by_accident(
    kafka: KafkaSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A topic a client created with the broker's defaults (1 partition, 7 days' retention on
    Apache Kafka) is reported, exit code 2, and left as it is."""
    prefix = f"cli{uuid.uuid4().hex[:8]}."
    accidental = TopicSettings(prefix=prefix).name(Topic.MEMBERS)
    week_ms = str(7 * 24 * 3600 * 1000)
    admin = KafkaAdminClient(**kafka.kafka_python_params())
    try:
        admin.create_topics([NewTopic(accidental, 1, 1, topic_configs={"retention.ms": week_ms})])
    finally:
        admin.close()
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("RITUALS_TOPIC_PREFIX", prefix)

    result = CliRunner().invoke(app, ["topics", "provision"])

    assert result.exit_code == 2, result.output
    assert f"mismatch {accidental}: 1 partitions, 6 expected" in result.output
    assert "Traceback" not in result.output
    report = provision_topics(kafka, TopicSettings(prefix=prefix))
    if accidental in report.unverified:  # a broker that reports no topic configuration
        assert "the broker reports no configuration" in result.output
    else:
        assert f"{accidental}: retention.ms={week_ms}, -1 expected" in report.mismatches


def test_up_says_clearly_when_its_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    root = logging.getLogger()  # ``up`` points it at the runner's stream, closed afterwards
    monkeypatch.setattr(root, "handlers", root.handlers[:])
    monkeypatch.setattr(root, "level", root.level)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["up", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is taken" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("engine", ["embedded", "kafka"])
def test_broker_command_serves_until_interrupted(engine: str, tmp_path: Path) -> None:
    """Both engines, whatever the suite's broker: the command is how a user starts one."""
    port = free_port()
    command = ["broker", "--port", str(port), "--engine", engine, "--data-dir", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"127.0.0.1:{port}" in first_line
        admin = KafkaAdminClient(bootstrap_servers=[f"127.0.0.1:{port}"])
        try:
            assert "rituals.members.dlq" in admin.list_topics()
        finally:
            admin.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    # Its data stays in the folder it was given.
    if engine == "kafka":
        assert (tmp_path / "kafka" / "logs" / "meta.properties").exists()
    else:
        assert (tmp_path / "store" / "ports.json").exists()
        assert any((tmp_path / "store" / "data").iterdir())


def test_up_runs_the_services_until_interrupted_and_stops_them_cleanly(kafka_servers: str) -> None:
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_servers,
        "RITUALS_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        "RITUALS_LOG_FORMAT": "json",
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            # As a shell starts a background job: Ctrl-C must still stop everything.
            preexec_fn=_ignore_interrupts,
        )
        try:
            # The three services and the gateway (its read state is rebuilt the same way).
            assert wait_until(lambda: _read(log).count("state rebuilt") == 4, 90, interval=0.5)
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        lines = [json.loads(line) for line in _read(log).splitlines() if line.startswith("{")]

    assert code == 0
    assert [line for line in lines if line["level"] in ("error", "critical")] == []
    stopped = {
        line["service"] for line in lines if line["event"] == "FastStream app shut down gracefully."
    }
    assert stopped == {"matcher", "onboarding", "notifier"}


def test_a_terminated_demo_stops_the_services_it_started(
    kafka_servers: str, tmp_path: Path
) -> None:
    """SIGTERM (a supervisor, ``kill``) ends the demo like Ctrl-C: the services it started stop
    with it rather than run on as orphans."""
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_servers}
    command = ["demo", "--weeks", "2", "--members", "10", "--teams", "2", "--out", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    logs = [tmp_path / "logs" / f"{name}.log" for name in ("matcher", "onboarding", "notifier")]

    def logged(path: Path, text: str) -> bool:
        return path.exists() and text in path.read_text(encoding="utf-8", errors="replace")

    try:
        assert wait_until(lambda: all(logged(log, "state rebuilt") for log in logs), 90, 0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert [log.name for log in logs if not logged(log, "shut down gracefully")] == []


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _read(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")
