"""What every command shares: settings, the publisher, the history, readable failures."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from kafka.errors import KafkaError

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, EventPayload, new_event
from services.common.adapters.history import read_events
from services.common.adapters.publisher import EventPublisher
from services.common.domain.directory import MemberDirectory
from services.common.vault import KeyStoreError

SOURCE = "/rituals/cli"


def fail(message: str) -> NoReturn:
    """A user mistake or an unreachable cluster: a message, exit code 2, no traceback."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@contextmanager
def kafka_errors_explained() -> Iterator[None]:
    """Fail fast and readably when the cluster cannot be reached (clients would retry for
    half a minute) or refuses what is asked."""
    kafka = KafkaSettings()
    if not any(_answers(address) for address in kafka.bootstrap_servers.split(",")):
        fail(f"no Kafka broker answers at {kafka.bootstrap_servers} (KAFKA_BOOTSTRAP_SERVERS)")
    try:
        yield
    except KafkaError as error:
        fail(f"Kafka refused the request: {type(error).__name__}")


@contextmanager
def key_store_errors_explained() -> Iterator[None]:
    """A key store or key-encryption key that cannot be used: exit code 2, nothing published
    and nothing treated as erased."""
    try:
        yield
    except KeyStoreError as error:
        fail(f"key store: {error} (docs/privacy.md)")


def _answers(address: str, timeout: float = 3.0) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 9092)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def now_or(moment: datetime | None) -> datetime:
    """Domain time of a command's event: the given moment, else now (the command line is where
    wall-clock time enters the platform)."""
    if moment is None:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def envelope(
    payload: EventPayload, organisation: str, moment: datetime, subject: str | None = None
) -> CloudEvent[Any]:
    return new_event(payload, source=SOURCE, orgid=organisation, time=moment, subject=subject)


def publish(events: list[CloudEvent[Any]]) -> int:
    with (
        kafka_errors_explained(),
        key_store_errors_explained(),
        EventPublisher(KafkaSettings(), TopicSettings()) as publisher,
    ):
        return publisher.publish(events)


@contextmanager
def reading_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar of reading the history, on standard error (standard output may be the
    command's report); yields what a reader calls with (records read, records in all)."""
    with typer.progressbar(length=1, label="reading the history", file=sys.stderr) as progress:

        def advance(read: int, total: int) -> None:
            progress.length = total
            progress.update(read - progress.pos)

        yield advance


def history(
    organisation: str | None = None, only: Iterable[Topic] | None = None
) -> list[CloudEvent[Any]]:
    """Every event (of one organisation; of ``only`` these topics), with a progress bar on
    standard error: standard output may be the command's report."""
    with kafka_errors_explained(), key_store_errors_explained(), reading_progress() as advance:
        return read_events(
            KafkaSettings(),
            TopicSettings(),
            organisation=organisation,
            on_progress=advance,
            only=only,
        )


def directory_of(organisation: str) -> MemberDirectory:
    """The organisation's members, from the members topic alone."""
    directory = MemberDirectory()
    for event in history(organisation, only=(Topic.MEMBERS,)):
        directory.apply(event)
    return directory
