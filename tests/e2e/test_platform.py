"""The platform as it runs in production: each service its own process, talking only through a
real broker. Events go in with a plain aiokafka producer (not the platform's publisher) and the
output is read back with kafka-python in ``assign()`` mode."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest

from infra.topics import Topic, TopicSettings
from services.cli.platform import SERVICES, ServiceProcess, wait_until_consuming
from services.common.records import dead_letter_notes
from tests.kafka_io import produce, wait_for_records

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

DISPLAY_NAME = "Hedy Lamarr-Markey"
EMAIL = "hedy.lamarr@example.org"


def wait_until(condition: object, *, timeout: float = 90.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class LoggedService(ServiceProcess):
    """A service whose output goes to a file (never a pipe a chatty service could fill)."""

    def __init__(self, name: str, servers: str, topics: TopicSettings) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process)
        super().__init__(
            name,
            servers,
            environment={
                "RITUALS_TOPIC_PREFIX": topics.prefix,
                "RITUALS_LOG_FORMAT": "json",
                "RITUALS_LOG_LEVEL": "DEBUG",
                "RITUALS_SESSION_TIMEOUT_MS": "6000",
                "RITUALS_HEARTBEAT_INTERVAL_MS": "500",
            },
            output=self.log,
        )

    def stop_and_read(self) -> tuple[int, str]:
        code = self.stop()
        self.log.seek(0)
        return code, self.log.read().decode("utf-8", "replace")


@pytest.fixture
def services(kafka_servers: str, topics: TopicSettings) -> Iterator[list[LoggedService]]:
    started = [LoggedService(name, kafka_servers, topics) for name in SERVICES]
    yield started
    for service in started:
        service.stop()


def member_joined_document(org: str) -> dict[str, object]:
    """Written by hand from the contract, as an integration in another language would."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/integrations/hr-system",
        "type": "rituals.member.joined",
        "time": "2026-03-02T08:00:00Z",
        "subject": "m-hedy",
        "datacontenttype": "application/json",
        "dataschema": "urn:rituals:schema:rituals.member.joined:v1",
        "orgid": org,
        "correlationid": "import-42",
        "data": {
            "member_id": "m-hedy",
            "display_name": DISPLAY_NAME,
            "email": EMAIL,
            "team": "Platform",
            "department": "Engineering",
            "timezone": "Europe/Amsterdam",
            "working_hours": {"start": "09:00:00", "end": "17:00:00"},
            "languages": ["en", "nl"],
            "start_date": "2026-03-02",
            "new_hire": True,
        },
    }


async def test_the_services_consume_a_member_and_refuse_a_bad_record(
    kafka_servers: str, topics: TopicSettings, services: list[LoggedService]
) -> None:
    wait_until_consuming(services)

    members = topics.name(Topic.MEMBERS)
    headers = [("content-type", b"application/cloudevents+json")]
    document = json.dumps(member_joined_document("acme")).encode()
    await produce(kafka_servers, members, document, key=b"acme", headers=headers)
    await produce(kafka_servers, members, b"\xff not json", key=b"acme")

    for service in services:
        wait_until(
            lambda s=service: (
                s.metric("rituals_state", service=s.name, measure="members_active") == 1.0
            ),
            what=f"{service.name}'s directory to hold the member",
        )
    letters = await wait_for_records(
        kafka_servers, topics.dead_letter(Topic.MEMBERS), lambda found: len(found) >= len(SERVICES)
    )
    notes = [dead_letter_notes(letter.headers) for letter in letters]
    assert sorted(note["service"] for note in notes) == sorted(SERVICES)
    assert {note["reason"] for note in notes} == {"invalid_json"}
    assert {letter.value for letter in letters} == {b"\xff not json"}

    for service in services:
        code, output = service.stop_and_read()
        assert code == 0, f"{service.name} did not stop cleanly:\n{output[-2000:]}"
        assert "shut down gracefully" in output
        assert DISPLAY_NAME not in output
        assert EMAIL not in output
        assert '"event_type": "rituals.member.joined"' in output  # the event was logged, by id
