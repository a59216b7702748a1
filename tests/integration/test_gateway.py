"""The gateway as it runs (``python -m services.gateway``) on a real broker: the SCIM peer
compliance suite passes whole, SCIM writes become member events once each and are visible to the
next read, refused requests publish nothing, and the read API holds to its OpenAPI under
schemathesis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.broker import free_port
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import decode_event
from services.common.adapters.publisher import EventPublisher
from services.gateway.domain.scim_users import CORE_USER, ENTERPRISE_USER
from services.gateway.domain.tokens import Role, token_line
from tests.factories import ORG, OTHER_ORG, member_joined_event
from tests.kafka_io import read_all

pytestmark = pytest.mark.broker

ADMIN = "rit_admin-token-of-acme"
READER = "rit_read-token-of-acme"
OTHER_ADMIN = "rit_admin-token-of-globex"
READY_WAIT_SECONDS = 120.0
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@pytest.fixture
def gateway(kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway process with an admin and a read token of acme and an admin token of globex,
    its projection rebuilt from a topic that already holds acme's m-1."""
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([member_joined_event(ORG, "m-1")])
    port = free_port()
    tokens = "\n".join(
        [
            token_line(ORG, Role.ADMIN, ADMIN),
            token_line(ORG, Role.READ, READER),
            token_line(OTHER_ORG, Role.ADMIN, OTHER_ADMIN),
        ]
    )
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "RITUALS_TOPIC_PREFIX": topics.prefix,
        "RITUALS_GATEWAY_PORT": str(port),
        "RITUALS_GATEWAY_TOKENS": tokens,
        "RITUALS_SESSION_TIMEOUT_MS": "6000",
        "RITUALS_HEARTBEAT_INTERVAL_MS": "500",
        "RITUALS_REPLAY_IDLE_MS": "300",
        "RITUALS_LOG_FORMAT": "json",
    }
    log = tmp_path / "gateway.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.gateway"],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WAIT_SECONDS
        while not _ready(url):
            assert process.poll() is None, log.read_text()
            if time.monotonic() > deadline:
                pytest.fail(f"gateway not ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield Gateway(url, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def member_events(kafka: KafkaSettings, topics: TopicSettings) -> list[tuple[str, str, str]]:
    """(organisation, type, member id) of every member event, in log order per partition."""
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.MEMBERS))
    found = []
    for record in records:
        event = decode_event(record.value or b"")
        found.append((event.orgid, event.type, event.data.member_id))
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scim_user(user_name: str, **changes: Any) -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "userName": user_name,
        "displayName": "Ada Lovelace",
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        "timezone": "Europe/London",
        "preferredLanguage": "en-GB",
        ENTERPRISE_USER: {"department": "Engineering"},
        **changes,
    }


def test_the_scim_compliance_suite_passes_every_check(gateway: Gateway) -> None:
    suite = subprocess.run(
        [str(VENV_BIN / "scim2"), "--url", f"{gateway.url}/scim/v2", "test"],
        env={**os.environ, "SCIM_CLI_HEADERS": f"Authorization: Bearer {ADMIN}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    statuses = re.findall(r"^([A-Z]+) \w+", suite.stdout, flags=re.MULTILINE)
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert len(statuses) >= 44, suite.stdout
    assert set(statuses) == {"SUCCESS"}, suite.stdout
    assert ADMIN not in gateway.log.read_text()


def test_scim_writes_are_member_events_once_each_and_read_back_at_once(
    gateway: Gateway, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    users = f"{gateway.url}/scim/v2/Users"
    with httpx.Client(headers=bearer(ADMIN), timeout=30) as client:
        created = client.post(users, json=scim_user("ada@example.com"))
        assert created.status_code == 201, created.text
        assert created.json()["id"] == "ada@example.com"
        again = client.post(users, json=scim_user("ada@example.com"))
        assert again.status_code == 409
        assert again.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]

        location = f"{users}/ada@example.com"
        same = client.put(location, json=scim_user("ada@example.com"))
        assert same.status_code == 200, same.text
        moved = client.put(location, json=scim_user("ada@example.com", timezone="Asia/Tokyo"))
        assert moved.status_code == 200
        assert client.get(location).json()["timezone"] == "Asia/Tokyo"

        patched = client.patch(
            location,
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Ada King"}],
            },
        )
        assert patched.status_code in (200, 204), patched.text
        listed = client.get(users, params={"filter": 'displayName eq "Ada King"'}).json()
        assert [user["id"] for user in listed["Resources"]] == ["ada@example.com"]

        assert client.delete(location).status_code == 204
        assert client.get(location).status_code == 404
        assert client.delete(location).status_code == 404

    assert [e for e in member_events(kafka, topics) if e[2] == "ada@example.com"] == [
        (ORG, "rituals.member.joined", "ada@example.com"),
        (ORG, "rituals.member.profile_updated", "ada@example.com"),
        (ORG, "rituals.member.profile_updated", "ada@example.com"),
        (ORG, "rituals.member.left", "ada@example.com"),
    ]
    log = gateway.log.read_text()
    assert "ada@example.com" not in log
    assert "Ada" not in log


def test_an_identity_provider_deactivates_and_reactivates_a_member(
    gateway: Gateway, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    users = f"{gateway.url}/scim/v2/Users"
    location = f"{users}/grace@example.com"

    def active(value: bool) -> httpx.Response:
        return client.patch(
            location,
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": value}],
            },
        )

    with httpx.Client(headers=bearer(ADMIN), timeout=30) as client:
        created = client.post(users, json=scim_user("grace@example.com", active=True))
        assert created.status_code == 201, created.text
        assert active(False).status_code in (200, 204)
        assert active(False).status_code in (200, 204)  # again: nothing new
        assert active(True).status_code in (200, 204)
        assert active(True).status_code in (200, 204)
        assert "active" not in client.get(location).json()  # written, never read back
        hidden = client.post(users, json=scim_user("hedy@example.com", active=False))
        assert hidden.status_code == 201, hidden.text

    events = member_events(kafka, topics)
    assert [e for e in events if e[2] == "grace@example.com"] == [
        (ORG, "rituals.member.joined", "grace@example.com"),
        (ORG, "rituals.member.paused", "grace@example.com"),
        (ORG, "rituals.member.resumed", "grace@example.com"),
    ]
    assert [e for e in events if e[2] == "hedy@example.com"] == [
        (ORG, "rituals.member.joined", "hedy@example.com"),
        (ORG, "rituals.member.paused", "hedy@example.com"),
    ]


def test_refused_scim_requests_publish_nothing(
    gateway: Gateway, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    users = f"{gateway.url}/scim/v2/Users"
    m1 = f"{users}/m-1"
    body = scim_user("bob")
    with httpx.Client(timeout=30) as client:
        assert client.post(users, json=body).status_code == 401
        assert client.post(users, json=body, headers=bearer("rit_wrong")).status_code == 401
        assert client.post(users, json=body, headers=bearer(READER)).status_code == 403
        assert client.get(m1, headers=bearer(READER)).status_code == 200
        assert client.get(m1, headers=bearer(OTHER_ADMIN)).status_code == 404
        assert client.delete(m1, headers=bearer(OTHER_ADMIN)).status_code == 404
        admin = bearer(ADMIN)
        malformed = client.post(
            users, content=b'{"userName": ', headers={**admin, "Content-Type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        wrong_type = client.post(users, json=scim_user("bob", emails="bob"), headers=admin)
        assert wrong_type.status_code == 400
        bad_zone = client.post(users, json=scim_user("bob", timezone="Mars/Olympus"), headers=admin)
        assert bad_zone.status_code == 400
        assert "timezone" in bad_zone.json()["detail"]
        oversized = scim_user("bob", displayName="x" * 300_000)
        assert client.post(users, json=oversized, headers=admin).status_code == 413
        unknown = client.put(f"{users}/nobody", json=scim_user("nobody"), headers=admin)
        assert unknown.status_code == 404
        assert client.get(f"{gateway.url}/healthz").status_code == 200

    assert member_events(kafka, topics) == [(ORG, "rituals.member.joined", "m-1")]
    log = gateway.log.read_text()
    for secret_or_personal in ("ada@example.com", "Member m-1", ADMIN, READER):
        assert secret_or_personal not in log


def test_the_read_api_keeps_to_its_openapi_under_schemathesis(
    gateway: Gateway, tmp_path: Path
) -> None:
    """With the token's organisation in the paths, so that answers with data are checked too
    (other organisations' 403 are checked by the tests above)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.org" = "{ORG}"\n', encoding="utf-8")
    run = subprocess.run(
        [
            str(VENV_BIN / "st"),
            "--config-file",
            str(config),
            "run",
            f"{gateway.url}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,"
            "content_type_conformance",
            "--header",
            f"Authorization: Bearer {READER}",
            "--max-examples",
            "30",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # schemathesis keeps its own files where it runs
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Authentication failed" not in run.stdout  # every operation answered with data


def test_the_read_api_answers_for_the_token_organisation_only(gateway: Gateway) -> None:
    members = f"{gateway.url}/api/v1/organisations/{ORG}/members"
    with httpx.Client(timeout=30) as client:
        listed = client.get(members, headers=bearer(READER))
        assert listed.status_code == 200
        assert [m["member_id"] for m in listed.json()["members"]] == ["m-1"]
        assert listed.json()["members"][0]["status"] == "active"
        assert client.get(members).status_code == 401
        assert client.get(members, headers=bearer(OTHER_ADMIN)).status_code == 403
        missing = client.get(f"{members}/nobody", headers=bearer(READER))
        assert missing.status_code == 404
        assert json.loads(missing.text) == {"detail": "no such member"}
        assert "rituals_ready" in client.get(f"{gateway.url}/metrics").text
