"""The broker integration tests run against, chosen once per session in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set (any real cluster);
2. ``RITUALS_TEST_ENGINE=kafka``: Apache Kafka started by the project (``infra/apache_kafka.py``,
   jars from Maven Central); ``make test`` runs the broker tests on it too;
3. a testcontainers Kafka (``apache/kafka``, KRaft, single node) when a Docker daemon answers;
4. the embedded broker otherwise (or with ``RITUALS_TEST_ENGINE=embedded``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

from infra.apache_kafka import ApacheKafka
from infra.broker import EmbeddedBroker, free_port

APACHE_KAFKA_IMAGE = "apache/kafka:3.9.1"


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no client library, no socket, no daemon: all mean "no Docker"
        return False


@contextlib.contextmanager
def apache_kafka_container() -> Iterator[str]:
    """A single-node KRaft Kafka advertising a fixed host port, so clients outside reach it."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    port = free_port()
    environment = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    container = DockerContainer(APACHE_KAFKA_IMAGE).with_bind_ports(9092, port)
    for name, value in environment.items():
        container = container.with_env(name, value)
    with container:
        wait_for_logs(container, "Kafka Server started", timeout=120)
        _wait_for_port(port)
        yield f"127.0.0.1:{port}"


def _wait_for_port(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass


@contextlib.contextmanager
def broker_for_tests() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    engine = os.environ.get("RITUALS_TEST_ENGINE", "")
    if configured:
        yield configured
    elif engine == "kafka":
        with ApacheKafka() as kafka:
            yield kafka.bootstrap_servers
    elif engine != "embedded" and docker_answers():
        with apache_kafka_container() as servers:
            yield servers
    else:
        with EmbeddedBroker() as embedded:
            yield embedded.bootstrap_servers
