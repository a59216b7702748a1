"""Run the whole platform on one machine: broker, topics and each part as its own process."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import structlog
from kafka import KafkaAdminClient, TopicPartition

from infra.broker import EmbeddedBroker, PortTakenError, ensure_free, free_port
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicMismatchError, TopicSettings, ensure_topics
from services.common.adapters.history import consumer_lag
from services.common.link_keys import ensure_link_signing_key
from services.common.privacy import ensure_key_encryption_key
from services.common.runtime import ServiceDefinition, consumer_group
from services.gateway.settings import GatewaySettings

SERVICES = ("matcher", "onboarding", "notifier")
PROCESSES = (*SERVICES, "clock", "gateway")
log = structlog.get_logger("rituals.platform")


@contextlib.contextmanager
def kafka_address(
    configured: str | None, port: int | None = None, data_dir: Path | None = None
) -> Iterator[str]:
    """The configured cluster, or an embedded broker (on ``port``, or a free one; durable in
    ``data_dir``, in memory without one) for as long as the block runs."""
    if configured:
        yield configured
        return
    with (
        EmbeddedBroker(port, data_dir=data_dir) as embedded,
        unless_set(EMBEDDED_BROKER_SETTINGS),
    ):
        yield embedded.bootstrap_servers


EMBEDDED_BROKER_SETTINGS = {"RITUALS_KAFKA_IDEMPOTENCE": "off"}
"""What the parts started against the embedded broker are told: it grants no producer id, so
they need not ask (asking makes it log an error line at every start)."""


@contextlib.contextmanager
def unless_set(settings: Mapping[str, str]) -> Iterator[None]:
    """The settings in the environment (for this process and its children) while the block
    runs, each unless the user set it."""
    added = {name: value for name, value in settings.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


class ServiceProcess:
    """One part of the platform (``python -m services.<name>``) as a child process, with its
    metrics on a free port so that others can see when its state is rebuilt."""

    def __init__(
        self,
        name: str,
        bootstrap_servers: str,
        *,
        environment: Mapping[str, str] | None = None,
        output: IO[bytes] | None = None,
    ) -> None:
        self.name = name
        self.metrics_port = free_port()
        variables = {
            **os.environ,
            **(environment or {}),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "RITUALS_METRICS_PORT": str(self.metrics_port),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=variables,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
        )

    def metrics_page(self) -> str | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
            ) as page:
                text: str = page.read().decode()
                return text
        except OSError:
            return None

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one sample on the service's metrics page, None when absent."""
        wanted = sorted(f'{key}="{value}"' for key, value in labels.items())
        for line in (self.metrics_page() or "").splitlines():
            sample, _, value = line.rpartition(" ")
            if not sample.startswith(name + "{"):
                continue
            inside = sample[sample.index("{") + 1 : -1]
            if sorted(part for part in inside.split(",") if part) == wanted:
                return float(value)
        return None

    def is_consuming(self) -> bool:
        return self.metric("rituals_events_replayed_total", service=self.name) is not None

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def subscribed_topics(service: str) -> tuple[Topic, ...]:
    """The topics a service consumes, from its composition root."""
    definition: ServiceDefinition = importlib.import_module(f"services.{service}.app").DEFINITION
    return definition.topics


class ConsumerProgress:
    """Whether every service's consumer group has committed every record a reader has seen, on
    the topics it consumes; one admin client serves every check."""

    def __init__(self, kafka: KafkaSettings, topics: TopicSettings, services: Sequence[str]):
        self._subscriptions = {
            consumer_group(topics, name): {topics.name(t) for t in subscribed_topics(name)}
            for name in services
        }
        self._admin = KafkaAdminClient(**kafka.kafka_python_params())

    def caught_up(self, seen: Mapping[TopicPartition, int]) -> bool:
        """``seen``: the next offset of every partition the reader has read."""
        return all(
            consumer_lag(self._admin, group, {tp: n for tp, n in seen.items() if tp.topic in names})
            == 0
            for group, names in self._subscriptions.items()
        )

    def close(self) -> None:
        self._admin.close()

    def __enter__(self) -> ConsumerProgress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def wait_until_consuming(services: Sequence[ServiceProcess], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = [s for s in services if s.name in SERVICES]
    while waiting and time.monotonic() < deadline:
        for service in waiting:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with code {service.process.returncode}")
        waiting = [s for s in waiting if not s.is_consuming()]
        time.sleep(0.3)
    if waiting:
        raise TimeoutError(f"not consuming after {timeout}s: {[s.name for s in waiting]}")


def stop_all(processes: Sequence[ServiceProcess], timeout: float = 30.0) -> None:
    for service in processes:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in processes:
        service.stop(timeout)


def run_platform(
    configured_servers: str | None,
    log_dir: Path | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
) -> int:
    """Run until Ctrl-C/SIGTERM or until a part dies; the exit code says which."""
    with (
        kafka_address(configured_servers, port, data_dir) as servers,
        unless_set(_local_mail(data_dir)),
        unless_set(local_keys(data_dir or DEFAULT_DATA_DIR)),
        unless_set(local_links(data_dir or DEFAULT_DATA_DIR)),
    ):
        try:
            report = ensure_topics(KafkaSettings(bootstrap_servers=servers), TopicSettings())
        except TopicMismatchError as wrong:
            log.error("topics not as the platform needs them", mismatches=list(wrong.mismatches))
            return 2
        log.info("topics ready", created=len(report.created), existing=len(report.existing))
        gateway = GatewaySettings()
        try:
            ensure_free(gateway.port)
        except PortTakenError:
            log.error("the gateway's port is taken; set RITUALS_GATEWAY_PORT", port=gateway.port)
            return 2
        processes = [ServiceProcess(name, servers) for name in PROCESSES]
        log.info(
            "platform up",
            kafka=servers,
            processes=list(PROCESSES),
            log_kept_in=str(data_dir) if data_dir else None,
            emails_written_to=os.environ.get(OUTBOX_VARIABLE),
            gateway=gateway_address(gateway),
        )
        # Both explicitly: a shell that starts us in the background has SIGINT ignored.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            return _watch(processes)
        except KeyboardInterrupt:
            log.info("stopping")
            return 0
        finally:
            stop_all(processes)


def gateway_address(settings: GatewaySettings) -> str:
    """Where the gateway's HTTP surface answers, as host:port (its settings give both; without
    a scheme, as the log redacts the path of anything that looks like a URL)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    return f"{host}:{settings.port}"


DEFAULT_DATA_DIR = Path("var/rituals")
"""Where a local broker keeps its log and the platform its e-mails (``--data-dir``)."""
OUTBOX_VARIABLE = "RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR"


def _local_mail(data_dir: Path | None) -> dict[str, str]:
    """Where e-mails go on this machine when no mail server is configured: ``.eml`` files in
    the data folder's ``outbox`` (``var/rituals/outbox``), not retries against a local port 25
    that nobody listens on."""
    if os.environ.get("RITUALS_NOTIFIER_SMTP_HOST"):
        return {}
    return {OUTBOX_VARIABLE: str((data_dir or DEFAULT_DATA_DIR) / "outbox")}


def local_keys(data_dir: Path) -> dict[str, str]:
    """Members' personal data sealed on this machine (docs/privacy.md): unless a key-encryption
    key is given, one generated once into the data folder (mode 0600) and the data keys kept
    beside it. Said explicitly to the services (they do not know the data folder)."""
    if os.environ.get("RITUALS_KEY_ENCRYPTION_KEY") or os.environ.get(
        "RITUALS_KEY_ENCRYPTION_KEY_FILE"
    ):
        return {}
    path, created = ensure_key_encryption_key(data_dir)
    if created:
        log.info("key-encryption key generated; keep it secret, back it up", path=str(path))
    return {
        "RITUALS_KEY_ENCRYPTION_KEY_FILE": str(path),
        "RITUALS_KEY_STORE_DIR": str(data_dir / "keys"),
    }


def local_links(data_dir: Path) -> dict[str, str]:
    """One-click answer links in this platform's messages, answered by its gateway: unless a
    link signing key is given, one generated once into the data folder (mode 0600); the
    gateway's public address is where it listens here, unless given."""
    links = {"RITUALS_GATEWAY_PUBLIC_URL": f"http://{gateway_address(GatewaySettings())}"}
    if os.environ.get("RITUALS_LINK_SIGNING_KEY") or os.environ.get(
        "RITUALS_LINK_SIGNING_KEY_FILE"
    ):
        return links
    path, created = ensure_link_signing_key(data_dir)
    if created:
        log.info("link signing key generated; keep it secret", path=str(path))
    return {**links, "RITUALS_LINK_SIGNING_KEY_FILE": str(path)}


def _watch(processes: Sequence[ServiceProcess]) -> int:
    while True:
        for service in processes:
            if service.process.poll() is not None:
                log.error("process exited", process=service.name, code=service.process.returncode)
                return 1
        time.sleep(0.5)


def _interrupt(*_: object) -> None:
    """SIGINT (Ctrl-C) and SIGTERM stop the platform the same way."""
    raise KeyboardInterrupt
