"""Run the whole platform on one machine: broker, topics and each service as its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import structlog

from infra.broker import EmbeddedBroker
from infra.kafka import KafkaSettings
from infra.topics import TopicSettings, provision_topics

SERVICES = ("matcher", "onboarding", "notifier")
log = structlog.get_logger("rituals.platform")


@contextlib.contextmanager
def kafka_address(configured: str | None) -> Iterator[str]:
    """The configured cluster, or an embedded broker for as long as the block runs."""
    if configured:
        yield configured
        return
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap_servers


def start_service(name: str, bootstrap_servers: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers}
    return subprocess.Popen([sys.executable, "-m", f"services.{name}"], env=environment)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def run_platform(configured_servers: str | None) -> int:
    """Run until Ctrl-C/SIGTERM or until a service dies; the exit code says which."""
    with kafka_address(configured_servers) as servers:
        report = provision_topics(KafkaSettings(bootstrap_servers=servers), TopicSettings())
        log.info("topics ready", created=len(report.created), existing=len(report.existing))
        processes = [start_service(name, servers) for name in SERVICES]
        log.info("platform up", kafka=servers, services=list(SERVICES))
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            return _watch(processes)
        except KeyboardInterrupt:
            log.info("stopping")
            return 0
        finally:
            stop_all(processes)


def _watch(processes: list[subprocess.Popen[bytes]]) -> int:
    while True:
        for name, process in zip(SERVICES, processes, strict=True):
            if process.poll() is not None:
                log.error("service exited", service=name, code=process.returncode)
                return 1
        time.sleep(0.5)


def _interrupt(*_: object) -> None:
    """SIGTERM stops the platform the way Ctrl-C does."""
    raise KeyboardInterrupt
