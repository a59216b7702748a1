"""The notifier against a real broker and real peers: an SMTP server (aiosmtpd) and an HTTP
server receiving Slack, Teams and signed webhook calls.

Each test runs the notifier in-process (``running``) with settings pointing at its peers, and
checks what the peers received and what the notifier recorded on ``rituals.notifications``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from icalendar import Calendar
from pydantic import SecretStr
from standardwebhooks import Webhook

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, decode_event
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeMatched, CoffeeUnmatched
from schemas.members import MemberJoined
from schemas.notifications import NotificationFailed, NotificationSent
from schemas.rituals import RitualCancelled, RitualScheduled
from services.common.processing import Emit, Ledger
from services.common.records import dead_letter_notes, event_record
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.notifier.adapters.base import idempotency_key
from services.notifier.app import notifier_definition
from services.notifier.domain.book import Waiting
from services.notifier.handlers import NotifierProcessor
from services.notifier.settings import NotifierSettings
from services.notifier.worker import DeliveryWorker, book_of
from tests.factories import event, member_joined, sample_payload
from tests.integration.notifier_peers import HttpSink, SmtpSink, http_sink
from tests.integration.support import running
from tests.kafka_io import produce, read_all, wait_for_records

pytestmark = pytest.mark.broker

SIGNING_KEY = b"integration-signing-key-0123456789"
SECRET = "whsec_" + base64.b64encode(SIGNING_KEY).decode()
MONDAY_MORNING = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
NEW_YORK_DAY = {"start": "03:00", "end": "17:00"}  # 09:00 UTC is 04:00 there


# -- the notifier bound to the test's peers -------------------------------------------------


class Notifier:
    """A notifier definition whose settings point at the peers; keeps each started worker."""

    def __init__(self, smtp: SmtpSink | None, http: HttpSink | None, **overrides: Any) -> None:
        peers: dict[str, Any] = {}
        if smtp is not None:
            peers.update(smtp_host="127.0.0.1", smtp_port=smtp.port)
        if http is not None:
            peers.update(
                slack_webhook_url=SecretStr(http.url("/slack")),
                teams_webhook_url=SecretStr(http.url("/teams")),
                webhook_url=SecretStr(http.url("/webhook")),
                webhook_secret=SecretStr(SECRET),
            )
        self.settings = NotifierSettings(
            mail_from="rituals@example.com",
            **{
                "retry_schedule_seconds": (0.05, 0.2),
                "poll_interval_seconds": 0.1,
                **peers,
                **overrides,
            },
        )
        self.workers: list[DeliveryWorker] = []
        self.definition: ServiceDefinition = notifier_definition(
            self.settings, worker_started=self.workers.append
        )


@asynccontextmanager
async def notifier_running(
    notifier: Notifier, kafka: KafkaSettings, topics: TopicSettings
) -> AsyncIterator[ServiceRuntime]:
    async with running(notifier.definition, kafka, topics) as runtime:
        yield runtime


async def publish(kafka: KafkaSettings, topics: TopicSettings, *events: CloudEvent[Any]) -> None:
    for item in events:
        record = event_record(item, topics)
        await produce(
            kafka.bootstrap_servers,
            record.topic,
            record.value,
            key=record.key,
            headers=record.headers,
        )


def joined(member_id: str, **overrides: Any) -> CloudEvent[Any]:
    payload: MemberJoined = member_joined(member_id, **overrides)
    return event(payload, time=MONDAY_MORNING - timedelta(days=7), subject=member_id)


def outcomes(kafka: KafkaSettings, topics: TopicSettings) -> list[Any]:
    """What deliveries came to (sent or failed for good; scheduled retries left out)."""
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.NOTIFICATIONS))
    found = [decode_event(record.value or b"").data for record in records]
    return [item for item in found if isinstance(item, NotificationSent | NotificationFailed)]


async def wait_for_outcomes(
    kafka: KafkaSettings, topics: TopicSettings, count: int, within: float = 30.0
) -> list[NotificationSent | NotificationFailed]:
    deadline = asyncio.get_running_loop().time() + within
    while len(found := outcomes(kafka, topics)) < count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{len(found)} outcomes, {count} expected")
        await asyncio.sleep(0.1)
    return found


def sent(found: list[Any]) -> list[NotificationSent]:
    return [item for item in found if isinstance(item, NotificationSent)]


async def settle(runtime: ServiceRuntime, worker: DeliveryWorker) -> None:
    """Let the worker look at the book twice more: anything it would send is started by then."""
    scans = worker.scans
    while worker.scans < scans + 2:  # noqa: ASYNC110 (the worker signals nothing to wait on)
        await asyncio.sleep(0.05)
    await worker.idle()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
async def http() -> AsyncIterator[HttpSink]:
    async with http_sink() as sink:
        yield sink


def verify_from_the_spec(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification written from the specification, independently of the
    notifier's code: HMAC-SHA256 over ``id.timestamp.body`` with the base64-decoded secret,
    compared with each ``v1,`` signature in the header."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = headers["webhook-signature"].split(" ")
    return any(
        version == "v1" and hmac.compare_digest(value, expected)
        for version, _, value in (s.partition(",") for s in signatures)
    )


# -- channels -------------------------------------------------------------------------------


async def test_an_email_with_text_html_and_a_calendar_invitation_reaches_a_real_smtp_server(
    kafka: KafkaSettings, topics: TopicSettings, smtp: SmtpSink
) -> None:
    matched = event(sample_payload(CoffeeMatched), time=MONDAY_MORNING)
    async with notifier_running(Notifier(smtp, None), kafka, topics):
        await publish(
            kafka,
            topics,
            joined("m-1", display_name="Ada", notification_channels=("email",)),
            joined(
                "m-2",
                display_name="Grace",
                languages=("nl",),
                timezone="America/New_York",
                working_hours=NEW_YORK_DAY,
                notification_channels=("email",),
            ),
            matched,
        )
        found = await wait_for_outcomes(kafka, topics, 2)

    assert sorted((s.recipient_id, s.channel, s.language) for s in sent(found)) == [
        ("m-1", "email", "en"),
        ("m-2", "email", "nl"),
    ]
    mails = {mail.recipients[0]: mail for mail in smtp.received}
    assert sorted(mails) == ["m-1@example.com", "m-2@example.com"]
    to_grace = mails["m-2@example.com"].message
    assert to_grace["Subject"] == "Koffie met Ada"
    notification_id = f"{matched.id}/m-2/email"
    assert to_grace["Message-ID"] == f"<{idempotency_key(notification_id)}@example.com>"
    parts = {part.get_content_type(): part for part in to_grace.iter_parts()}
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    assert "04:00 (America/New_York)" in parts["text/plain"].get_content()
    assert "<strong>" in parts["text/html"].get_content()
    assert parts["text/calendar"].get_param("method") == "REQUEST"

    uids = set()
    for mail in mails.values():
        calendar_part = next(
            p
            for p in mail.message.iter_parts()
            if p.get_content_maintype() == "text" and p.get_content_subtype() == "calendar"
        )
        calendar = Calendar.from_ical(calendar_part.get_content())
        assert calendar["METHOD"] == "REQUEST"
        (meeting,) = calendar.walk("VEVENT")
        assert meeting.decoded("DTSTART") == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
        assert meeting.decoded("DTEND") == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
        assert str(meeting["ORGANIZER"]) == "mailto:rituals@example.com"
        uids.add(str(meeting["UID"]))
    assert len(uids) == 1  # one meeting in both calendars


async def test_slack_teams_and_a_signed_webhook_reach_a_real_http_server(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    unmatched = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    async with notifier_running(Notifier(None, http), kafka, topics):
        await publish(
            kafka,
            topics,
            joined("m-1", notification_channels=("slack", "teams", "webhook")),
            unmatched,
        )
        found = await wait_for_outcomes(kafka, topics, 3)

    assert sorted(s.channel for s in sent(found)) == ["slack", "teams", "webhook"]
    (slack,) = http.on("/slack")
    (teams,) = http.on("/teams")
    (webhook,) = http.on("/webhook")

    slack_document = json.loads(slack.body)
    assert slack_document["text"] == "No coffee match this round"
    assert slack_document["blocks"][0]["type"] == "header"
    card = json.loads(teams.body)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    for request in (slack, teams):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["idempotency-key"]

    assert verify_from_the_spec(SECRET, webhook.headers, webhook.body)
    assert Webhook(SECRET).verify(webhook.body, webhook.headers)["id"] == str(unmatched.id)
    assert not verify_from_the_spec(SECRET, webhook.headers, webhook.body + b" ")
    cloud_event = from_http(HTTPMessage(webhook.headers, webhook.body), JSONFormat())
    assert cloud_event.get_type() == "rituals.coffee.unmatched"
    assert cloud_event.get_id() == str(unmatched.id)
    assert cloud_event.get_extension("recipientid") == "m-1"


async def test_a_ritual_reminder_goes_to_the_team_when_the_clock_reaches_its_moment(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    occurrence = datetime(2025, 3, 7, 15, 30, tzinfo=UTC)  # Friday drinks, 16:30 Amsterdam
    remind_at = occurrence - timedelta(minutes=60)
    scheduled = event(sample_payload(RitualScheduled), time=MONDAY_MORNING)
    async with notifier_running(Notifier(None, http), kafka, topics) as runtime:
        await publish(
            kafka,
            topics,
            joined("m-1", notification_channels=("webhook",)),
            joined("m-2", notification_channels=("webhook",)),
            joined("m-3", team="Data", notification_channels=("webhook",)),
            scheduled,
        )
        # The clock is another topic, read independently: let the directory see the team first.
        await _until(lambda: book_of(runtime, "acme").measures()["rituals_scheduled"] == 1)
        await _until(lambda: len(list(book_of(runtime, "acme").directory.members("acme"))) == 3)
        await publish(
            kafka,
            topics,
            event(ClockTicked(now=remind_at, sequence=1), time=remind_at),
            event(ClockTicked(now=remind_at + timedelta(minutes=5), sequence=2), time=remind_at),
        )
        found = await wait_for_outcomes(kafka, topics, 4)  # the series' invitation, a reminder

    by_template = sorted((s.template, s.recipient_id) for s in sent(found))
    assert by_template == [
        ("ritual.invitation", "m-1"),
        ("ritual.invitation", "m-2"),
        ("ritual.reminder", "m-1"),
        ("ritual.reminder", "m-2"),
    ]
    documents = [json.loads(request.body) for request in http.on("/webhook")]
    assert sorted(d["recipientid"] for d in documents) == ["m-1", "m-1", "m-2", "m-2"]
    assert {d["type"] for d in documents} == {"rituals.ritual.scheduled"}


async def test_a_series_cancelled_before_the_ticks_reminds_nobody_in_whatever_order_they_arrive(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    """The ticks (clock topic) are written before the cancel (rituals topic), though the cancel
    happened first in domain time: read in time order across topics, no reminder is made."""
    occurrence = datetime(2025, 3, 7, 15, 30, tzinfo=UTC)
    remind_at = occurrence - timedelta(minutes=60)
    cancelled_at = MONDAY_MORNING + timedelta(days=1)
    scheduled = event(sample_payload(RitualScheduled), time=MONDAY_MORNING)
    cancel = event(
        RitualCancelled(ritual_id="friday-drinks", reason="team disbanded"), time=cancelled_at
    )
    await publish(
        kafka,
        topics,
        joined("m-1", notification_channels=("webhook",)),
        joined("m-2", notification_channels=("webhook",)),
        scheduled,
        event(ClockTicked(now=remind_at, sequence=1), time=remind_at),
        event(ClockTicked(now=occurrence, sequence=2), time=occurrence),
        cancel,
    )
    notifier = Notifier(None, http)
    async with notifier_running(notifier, kafka, topics) as runtime:
        await _until(lambda: bool(notifier.workers))
        await settle(runtime, notifier.workers[-1])
        assert book_of(runtime, "acme").pending == {}

    # Each member's calendar got the series and then its cancellation; nobody a reminder.
    told = [(o.template, o.recipient_id) for o in outcomes(kafka, topics)]
    assert [who for template, who in told if template == "ritual.reminder"] == []
    assert sorted(who for template, who in told if template == "ritual.series_cancelled") == [
        "m-1",
        "m-2",
    ]
    assert len(http.received) == len(told)


# -- exactly one notification per (event, recipient, channel) ----------------------------


async def test_a_redelivered_event_and_a_restart_send_no_second_message(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    first = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    later = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    notifier = Notifier(None, http)
    async with notifier_running(notifier, kafka, topics):
        await publish(kafka, topics, joined("m-1", notification_channels=("webhook",)), first)
        await publish(kafka, topics, first)  # the same event id again, as after a producer retry
        await wait_for_outcomes(kafka, topics, 1)

    async with notifier_running(notifier, kafka, topics) as restarted:
        assert book_of(restarted, "acme").pending == {}  # rebuilt from the log: none to send
        await publish(kafka, topics, later)
        await wait_for_outcomes(kafka, topics, 2)
        await settle(restarted, notifier.workers[-1])

    ids = [json.loads(request.body)["id"] for request in http.on("/webhook")]
    assert sorted(ids) == sorted([str(first.id), str(later.id)])
    assert len(sent(outcomes(kafka, topics))) == 2


async def test_an_outcome_published_before_a_crash_is_not_sent_again(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    """The instance sent, published notification.sent and died before committing the source
    event: the next instance replays both and does not send again."""
    member = joined("m-1", notification_channels=("webhook",))
    delivered = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    notification_id = f"{delivered.id}/m-1/webhook"
    record = NotificationSent(
        notification_id=notification_id,
        source_event_id=str(delivered.id),
        recipient_id="m-1",
        channel="webhook",
        template="coffee.unmatched",
        language="en",
    )
    (outcome,) = Ledger(NotifierProcessor(), "/rituals/notifier").outputs(
        delivered, [Emit(record, key=f"sent/{notification_id}")]
    )
    await publish(kafka, topics, member, delivered, outcome)

    notifier = Notifier(None, http)
    async with notifier_running(notifier, kafka, topics) as runtime:
        fresh = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
        await publish(kafka, topics, fresh)
        await wait_for_outcomes(kafka, topics, 2)
        await settle(runtime, notifier.workers[-1])

    assert [json.loads(r.body)["id"] for r in http.on("/webhook")] == [str(fresh.id)]


async def test_a_send_cut_off_by_a_stop_is_repeated_with_the_same_idempotency_key(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    """The documented window: a send in progress when the instance dies has no recorded outcome,
    so the next instance sends again, with the same ``webhook-id`` for the receiver to drop."""
    unmatched = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    http.hold("/webhook")
    notifier = Notifier(None, http)
    async with notifier_running(notifier, kafka, topics):
        await publish(kafka, topics, joined("m-1", notification_channels=("webhook",)), unmatched)
        await http.wait_for(lambda sink: len(sink.waiting) == 1)
    http.release("/webhook")

    async with notifier_running(notifier, kafka, topics):
        (recorded,) = await wait_for_outcomes(kafka, topics, 1)

    (cut_off,) = http.waiting
    repeated = http.on("/webhook")  # the repeat (and the cut-off one, answered after release)
    assert repeated
    assert {r.headers["webhook-id"] for r in repeated} == {cut_off.headers["webhook-id"]}
    assert isinstance(recorded, NotificationSent)
    assert len(sent(outcomes(kafka, topics))) == 1


# -- failures -------------------------------------------------------------------------------


async def test_a_server_answering_500_then_200_gets_the_message_once_after_a_retry(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    http.script("/webhook", 500, 200)
    unmatched = event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=MONDAY_MORNING)
    async with notifier_running(Notifier(None, http), kafka, topics):
        await publish(kafka, topics, joined("m-1", notification_channels=("webhook",)), unmatched)
        (recorded,) = await wait_for_outcomes(kafka, topics, 1)

    assert isinstance(recorded, NotificationSent)
    assert recorded.attempts == 2
    failed_attempt, delivered_attempt = http.on("/webhook")
    assert (failed_attempt.status, delivered_attempt.status) == (500, 200)
    assert failed_attempt.headers["webhook-id"] == delivered_attempt.headers["webhook-id"]
    assert failed_attempt.body == delivered_attempt.body
    assert verify_from_the_spec(SECRET, delivered_attempt.headers, delivered_attempt.body)


async def test_a_400_and_a_refused_address_give_notification_failed_and_dead_letters(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink, smtp: SmtpSink
) -> None:
    http.script("/slack", 400)
    smtp.refused.add("m-2@example.com")
    matched = event(sample_payload(CoffeeMatched), time=MONDAY_MORNING)
    async with notifier_running(Notifier(smtp, http), kafka, topics):
        await publish(
            kafka,
            topics,
            joined("m-1", notification_channels=("slack", "webhook")),
            joined(
                "m-2",
                timezone="America/New_York",
                working_hours=NEW_YORK_DAY,
                notification_channels=("email", "teams"),
            ),
            matched,
        )
        found = await wait_for_outcomes(kafka, topics, 4)
        letters = await wait_for_records(
            kafka.bootstrap_servers,
            topics.dead_letter(Topic.COFFEE),
            lambda records: len(records) >= 2,
        )

    failures = sorted(
        (item for item in found if isinstance(item, NotificationFailed)),
        key=lambda item: item.channel,
    )
    assert [(f.recipient_id, f.channel, f.reason, f.permanent, f.attempts) for f in failures] == [
        ("m-2", "email", "recipient refused 550", True, 1),
        ("m-1", "slack", "http 400", True, 1),
    ]
    # The other channels of the same recipients were not held up.
    assert sorted(s.channel for s in sent(found)) == ["teams", "webhook"]
    assert smtp.received == []

    assert len(letters) == 2
    for letter in letters:
        notes = dead_letter_notes(letter.headers)
        assert notes["reason"] == "delivery_failed"
        assert notes["service"] == "notifier"
        assert notes["topic"] == topics.name(Topic.COFFEE)
        assert decode_event(letter.value or b"").id == matched.id
    details = sorted(dead_letter_notes(letter.headers)["detail"] for letter in letters)
    assert "http 400" in details[0] + details[1]
    assert all("@" not in detail for detail in details)  # no address in a dead letter note


def outage_notifier(smtp: SmtpSink) -> Notifier:
    """Retries over about eight seconds; the breaker opens after two failures in a row."""
    return Notifier(
        smtp,
        None,
        retry_schedule_seconds=(0.2, 0.5, 1.0, 2.0, 4.0),
        breaker_failures=2,
        breaker_cool_down_seconds=0.5,
        breaker_longest_cool_down_seconds=1.0,
    )


async def test_an_smtp_relay_down_for_seconds_then_back_gets_every_notice_once(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    relay = SmtpSink()  # its port is known, nothing listens there yet
    matched = event(sample_payload(CoffeeMatched), time=MONDAY_MORNING)
    people = [
        joined("m-1", notification_channels=("email",)),
        joined("m-2", notification_channels=("email",)),
    ]
    async with notifier_running(outage_notifier(relay), kafka, topics):
        await publish(kafka, topics, *people, matched)
        await asyncio.sleep(3)  # down: attempts fail, retries are scheduled, the breaker opens
        assert outcomes(kafka, topics) == []
        with relay:
            found = await wait_for_outcomes(kafka, topics, 2)
            await asyncio.sleep(1)  # nothing more arrives
            assert len(outcomes(kafka, topics)) == 2
            received = sorted(mail.recipients[0] for mail in relay.received)

    assert sorted((s.recipient_id, s.channel) for s in sent(found)) == [
        ("m-1", "email"),
        ("m-2", "email"),
    ]
    assert min(s.attempts for s in sent(found)) >= 2
    assert received == ["m-1@example.com", "m-2@example.com"]


async def test_a_notice_that_expires_during_an_outage_is_never_sent(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    relay = SmtpSink()
    matched = event(sample_payload(CoffeeMatched), time=MONDAY_MORNING)
    week_later = MONDAY_MORNING + timedelta(days=8)
    people = [
        joined("m-1", notification_channels=("email",)),
        joined("m-2", notification_channels=("email",)),
    ]
    async with notifier_running(outage_notifier(relay), kafka, topics):
        await publish(kafka, topics, *people, matched)
        await asyncio.sleep(1)
        await publish(
            kafka, topics, event(ClockTicked(now=week_later, sequence=1), time=week_later)
        )
        found = await wait_for_outcomes(kafka, topics, 2)
        with relay:
            await asyncio.sleep(2)
            received = list(relay.received)

    assert {(f.reason, f.permanent) for f in found if isinstance(f, NotificationFailed)} == {
        ("expired: no longer useful", True)
    }
    assert received == []


# -- quiet hours ----------------------------------------------------------------------------


async def test_at_night_a_message_waits_for_the_morning_tick_in_the_recipients_zone(
    kafka: KafkaSettings, topics: TopicSettings, http: HttpSink
) -> None:
    night = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # 03:00 in Amsterdam
    morning = datetime(2025, 3, 4, 8, 5, tzinfo=UTC)  # 09:05 in Amsterdam
    notifier = Notifier(None, http)
    async with notifier_running(notifier, kafka, topics) as runtime:
        await publish(
            kafka,
            topics,
            joined("m-1", notification_channels=("webhook",)),
            event(ClockTicked(now=night, sequence=1), time=night),
            event(sample_payload(CoffeeUnmatched, member_id="m-1"), time=night),
        )
        await _until(lambda: _waiting_for_quiet_hours(runtime) == 1)
        await settle(runtime, notifier.workers[-1])
        assert http.received == []
        assert outcomes(kafka, topics) == []

        await publish(kafka, topics, event(ClockTicked(now=morning, sequence=2), time=morning))
        (recorded,) = await wait_for_outcomes(kafka, topics, 1)

    assert isinstance(recorded, NotificationSent)
    assert len(http.on("/webhook")) == 1


def _waiting_for_quiet_hours(runtime: ServiceRuntime) -> int:
    book = book_of(runtime, "acme")
    return sum(
        1
        for notice in book.pending.values()
        if book.status(notice)[0].waiting is Waiting.QUIET_HOURS
    )


async def _until(condition: Callable[[], bool], within: float = 60.0) -> None:
    async def satisfied() -> None:
        while not condition():  # noqa: ASYNC110 (state of another task, polled)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(satisfied(), within)
