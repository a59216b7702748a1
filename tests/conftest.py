"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings, ensure_topics
from tests.brokers import broker_for_tests


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read or write the developer's data folder (``var/rituals``: the keys a
    `rituals up` generated there would seal what tests publish): a folder of their own, for
    this process and every process it starts, unless the environment names one."""
    os.environ.setdefault("RITUALS_DATA_DIR", tempfile.mkdtemp(prefix="rituals-tests-"))


@pytest.fixture(scope="session")
def kafka_servers() -> Iterator[str]:
    with broker_for_tests() as servers:
        yield servers


@pytest.fixture
def kafka(kafka_servers: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_servers)


@pytest.fixture
def topics(kafka: KafkaSettings) -> TopicSettings:
    """Topics of its own for each test (a unique prefix), provisioned before anything writes."""
    settings = TopicSettings(prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=3)
    ensure_topics(kafka, settings)
    return settings


@pytest.fixture
def cli(kafka: KafkaSettings, topics: TopicSettings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The ``rituals`` command line against the test's broker and topics (no audit signing key
    from the environment: a test that signs sets its own)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("RITUALS_TOPIC_PREFIX", topics.prefix)
    monkeypatch.delenv("RITUALS_AUDIT_SIGNING_KEY_FILE", raising=False)
    return CliRunner()
