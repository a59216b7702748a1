"""The ``rituals`` command line against a real broker."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import pytest
from kafka.admin import KafkaAdminClient
from typer.testing import CliRunner

from infra.broker import free_port
from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from services.cli.main import app

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
    assert first.output.count("created ") == len(expected) == 12
    assert second.output.count("existing ") == len(expected)
    admin = KafkaAdminClient(**kafka.kafka_python_params())
    try:
        assert expected <= set(admin.list_topics())
    finally:
        admin.close()


def test_broker_command_serves_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "broker", "--port", str(port)],
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
        assert process.wait(timeout=15) == 0
