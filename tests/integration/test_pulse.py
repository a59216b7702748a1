"""The weekly pulse on the real broker: the matcher, on a clock tick past the pulse moment,
asks every member taking part once (on ``rituals.pulse``), and asks nobody again after a
redelivered tick, a later tick or a restart (its own outputs rebuild its state)."""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event, new_event
from schemas.clock import ClockTicked
from schemas.members import MemberOptedOut
from schemas.pulse import PulseAsked
from services.common.domain.links import LinkAction, read_link
from services.matcher.app import DEFINITION
from services.matcher.domain.policy import CoffeePolicy, PulseSetting
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import Policies
from tests.factories import member_joined
from tests.integration.notifier_peers import SmtpSink
from tests.integration.support import running
from tests.integration.test_matcher import publish
from tests.integration.test_notifier import (
    MONDAY_MORNING,
    Notifier,
    notifier_running,
    sent,
    smtp,
    wait_for_outcomes,
)
from tests.integration.test_notifier import joined as notifier_joined
from tests.integration.test_notifier import publish as notifier_publish
from tests.kafka_io import read_all, wait_for_records

pytestmark = pytest.mark.broker
__all__ = ["smtp"]  # the SMTP server fixture

ORG = "acme"
T0 = datetime(2026, 2, 1, tzinfo=UTC)
FRIDAY_3PM = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
PULSE_ON = dataclasses.replace(
    DEFINITION,
    new_processor=partial(
        MatcherProcessor, Policies(CoffeePolicy(pulse=PulseSetting(enabled=True)))
    ),
)


def asked(kafka: KafkaSettings, topics: TopicSettings) -> list[CloudEvent[Any]]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.PULSE))
    return [e for r in records if (e := decode_event(r.value or b"")).type.endswith(".asked")]


def event(payload: Any, at: datetime) -> CloudEvent[Any]:
    return new_event(payload, source="/tests", orgid=ORG, time=at)


async def test_the_matcher_asks_the_weekly_pulse_once_of_members_taking_part(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    for member_id in ("ada", "bob", "cy"):
        joined = member_joined(member_id, start_date=date(2024, 1, 15))
        await publish(kafka, topics, event(joined, T0))
    await publish(kafka, topics, event(MemberOptedOut(member_id="cy"), T0 + timedelta(days=1)))
    tick = event(ClockTicked(now=FRIDAY_3PM, sequence=1), FRIDAY_3PM)

    async with running(PULSE_ON, kafka, topics):
        await publish(kafka, topics, tick)
        await wait_for_records(
            kafka.bootstrap_servers, topics.name(Topic.PULSE), lambda found: len(found) >= 2
        )
        await publish(kafka, topics, tick)  # redelivered
        later = FRIDAY_3PM + timedelta(minutes=1)
        await publish(kafka, topics, event(ClockTicked(now=later, sequence=2), later))
    async with running(PULSE_ON, kafka, topics):  # a restart rebuilds who was asked
        later = FRIDAY_3PM + timedelta(minutes=2)
        await publish(kafka, topics, event(ClockTicked(now=later, sequence=3), later))
        next_week = FRIDAY_3PM + timedelta(weeks=1)
        await publish(kafka, topics, event(ClockTicked(now=next_week, sequence=4), next_week))
        await wait_for_records(
            kafka.bootstrap_servers, topics.name(Topic.PULSE), lambda found: len(found) >= 4
        )

    found = asked(kafka, topics)
    by_week: dict[date, list[str]] = {}
    for question in found:
        by_week.setdefault(question.data.week_starting, []).append(question.data.member_id)
    assert {week: sorted(ids) for week, ids in by_week.items()} == {
        date(2026, 3, 2): ["ada", "bob"],
        date(2026, 3, 9): ["ada", "bob"],
    }
    first_week = [q for q in found if q.data.week_starting == date(2026, 3, 2)]
    assert {q.causationid for q in first_week} == {str(tick.id)}


async def test_the_notifier_sends_the_pulse_with_a_signed_link_per_score(
    kafka: KafkaSettings,
    topics: TopicSettings,
    smtp: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = b"pulse integration link key 012345"
    monkeypatch.setenv("RITUALS_LINK_SIGNING_KEY", base64.b64encode(key).decode())
    monkeypatch.setenv("RITUALS_GATEWAY_PUBLIC_URL", "https://rituals.example.com")
    question = new_event(
        PulseAsked(week_starting=date(2025, 3, 3), member_id="m-1"),
        source="/rituals/matcher",
        orgid="acme",
        time=MONDAY_MORNING,
    )
    async with notifier_running(Notifier(smtp, None), kafka, topics):
        await notifier_publish(
            kafka,
            topics,
            notifier_joined("m-1", languages=("nl",), notification_channels=("email",)),
            question,
        )
        found = await wait_for_outcomes(kafka, topics, 1)

    assert [(s.recipient_id, s.channel, s.language) for s in sent(found)] == [
        ("m-1", "email", "nl")
    ]
    [mail] = smtp.received
    assert mail.message["Subject"] == "Hoe verbonden voelde je je deze week?"
    text = next(p for p in mail.message.iter_parts() if p.get_content_type() == "text/plain")
    tokens = re.findall(r"https://rituals\.example\.com/links/([\w.-]+)", text.get_content())
    claims = [read_link(t, key, MONDAY_MORNING) for t in tokens]
    pulse = [(c.subject, c.rating) for c in claims if c.action is LinkAction.PULSE]
    assert pulse == [("2025-03-03", score) for score in (1, 2, 3, 4, 5)]
    assert {c.member_id for c in claims} == {"m-1"}
