"""Proof, end to end: the notifier and the gateway as they run (``python -m``) on a real broker.
A coffee match becomes an e-mail in the outbox; its "we met" link, opened in headless Chromium
and confirmed there, becomes ``coffee.feedback_given`` on the topic and changes the insights
figure of coffees that happened. Chromium missing is a failure, not a skip: this is the proof."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.broker import free_port
from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from services.clock.ticks import ticks
from services.common.adapters.publisher import EventPublisher
from services.gateway.domain.tokens import Role, token_line
from tests.factories import ORG, event, member_joined, sample_payload
from tests.integration.browser import CHROMIUM, MISSING, Browser
from tests.kafka_io import read_all

pytestmark = pytest.mark.broker

LINK_KEY = base64.b64encode(b"end-to-end link signing key 0123").decode()
READER = "rit_read-token-of-acme"
WAIT_SECONDS = 120.0
MATCHED_AT = sample_payload(CoffeeMatched).slot_start - timedelta(days=1)


@dataclass(frozen=True)
class Platform:
    gateway_url: str
    outbox: Path
    logs: list[Path]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@pytest.fixture
def platform(kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path) -> Iterator[Platform]:
    """The notifier (e-mails to an outbox) and the gateway, sharing the link signing key."""
    port = free_port()
    gateway_url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "RITUALS_TOPIC_PREFIX": topics.prefix,
        "RITUALS_SESSION_TIMEOUT_MS": "6000",
        "RITUALS_HEARTBEAT_INTERVAL_MS": "500",
        "RITUALS_REPLAY_IDLE_MS": "300",
        "RITUALS_LOG_FORMAT": "json",
        "RITUALS_DATA_DIR": str(tmp_path),
        "RITUALS_LINK_SIGNING_KEY": LINK_KEY,
        "RITUALS_GATEWAY_PUBLIC_URL": gateway_url,
        "RITUALS_GATEWAY_PORT": str(port),
        "RITUALS_GATEWAY_TOKENS": token_line(ORG, Role.READ, READER),
        "RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "RITUALS_NOTIFIER_POLL_INTERVAL_SECONDS": "0.2",
    }
    processes, logs = [], []
    try:
        for service in ("gateway", "notifier"):
            log = tmp_path / f"{service}.log"
            logs.append(log)
            with log.open("wb") as output:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", f"services.{service}"],
                        env=environment,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        _wait(lambda: _ready(gateway_url), "gateway ready", processes, logs)
        yield Platform(gateway_url, tmp_path / "outbox", logs)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _wait(
    condition: Any, what: str, processes: list[subprocess.Popen[bytes]], logs: list[Path]
) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        for process, log in zip(processes, logs, strict=True):
            assert process.poll() is None, log.read_text()
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS}s\n" + logs[-1].read_text()[-4000:])
        time.sleep(0.2)


def mail_to(outbox: Path, address: str) -> EmailMessage | None:
    for path in sorted(outbox.glob("*.eml")):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        if address in str(mail["To"]):
            return mail
    return None


def feedback_events(kafka: KafkaSettings, topics: TopicSettings) -> list[CloudEvent[Any]]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))
    found = [decode_event(record.value or b"") for record in records]
    return [item for item in found if isinstance(item.data, CoffeeFeedbackGiven)]


def groups_met(url: str) -> int:
    answer = httpx.get(
        f"{url}/api/v1/organisations/{ORG}/insights",
        headers={"Authorization": f"Bearer {READER}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["coffee"]["groups_met"])


def test_the_we_met_link_of_a_real_email_confirmed_in_chromium_is_feedback_on_the_topic(
    platform: Platform, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    if CHROMIUM is None:
        pytest.fail(MISSING)
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish(
            [
                *(
                    event(
                        member_joined(member_id, notification_channels=("email",)),
                        time=MATCHED_AT - timedelta(days=7),
                        subject=member_id,
                    )
                    for member_id in ("m-1", "m-2")
                ),
                event(sample_payload(CoffeeMatched), time=MATCHED_AT),
                # The organisation's time: its links are judged by it, the answer dated at it.
                *ticks([ORG], MATCHED_AT + timedelta(hours=1), 1),
            ]
        )
    _wait(lambda: mail_to(platform.outbox, "m-1@example.com") is not None, "e-mail", [], [])
    mail = mail_to(platform.outbox, "m-1@example.com")
    assert mail is not None
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    [we_met] = re.findall(r"^We met: (\S+)$", text.get_content(), flags=re.MULTILINE)
    assert we_met.startswith(f"{platform.gateway_url}/links/")
    unsubscribe = str(mail["List-Unsubscribe"])
    assert unsubscribe.startswith(f"<{platform.gateway_url}/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert groups_met(platform.gateway_url) == 0

    with Browser() as browser:
        browser.open(we_met)
        assert "coffee meeting" in browser.wait_for("body")
        assert feedback_events(kafka, topics) == []  # opening the page changes nothing
        browser.click("#confirm")
        assert "recorded" in browser.wait_for("#done")

    [answered] = feedback_events(kafka, topics)
    assert answered.data == CoffeeFeedbackGiven(
        round_id="r-2025-10", group_id="g-1", member_id="m-1", met=True
    )
    assert answered.time == MATCHED_AT + timedelta(hours=1)
    _wait(lambda: groups_met(platform.gateway_url) == 1, "insights", [], [])
    gateway_log = platform.logs[0].read_text()
    assert we_met.rsplit("/", 1)[1] not in gateway_log
    assert "m-1@example.com" not in gateway_log
