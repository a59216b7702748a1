"""Answer links in messages: each is signed for its recipient and reads back at the gateway;
e-mail (text, HTML, RFC 8058 headers), Slack buttons and Teams actions carry them; without
link signing a message has none."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest

from schemas.clock import ClockTicked
from schemas.rituals import RitualScheduled
from services.common.domain.links import (
    LINK_LIFETIME,
    LinkAction,
    LinkRefusedError,
    coffee_subject,
    link_expiry,
    read_link,
    ritual_subject,
)
from services.notifier.adapters.base import Outgoing
from services.notifier.adapters.smtp import EmailComposer
from services.notifier.domain.answer_links import LinkSigning, with_answer_links
from services.notifier.domain.formats import as_html, as_slack, as_teams, as_text
from services.notifier.domain.message import Message
from services.notifier.domain.notices import Delivery, Template
from services.notifier.domain.rendering import render
from tests.factories import ORG, event, sample_payload
from tests.unit.notifier.support import coffee_deliveries
from tests.unit.notifier.test_rendering import EVENING, deliveries

KEY = b"n" * 32
SIGNING = LinkSigning("https://rituals.example.com/", KEY)
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def linked(delivery: Delivery) -> Message:
    return with_answer_links(render(delivery), delivery, SIGNING)


def claims(message: Message) -> list[tuple[LinkAction, str, int | None]]:
    read = []
    for answer in message.answers:
        assert answer.url.startswith("https://rituals.example.com/")
        claim = read_link(answer.url.rsplit("/", 1)[1], KEY, NOW)
        assert (claim.organisation, claim.member_id) == (ORG, "m-1")
        assert claim.expires > NOW + timedelta(days=7)
        read.append((claim.action, claim.subject, claim.rating))
    return read


def test_a_coffee_match_asks_whether_it_happened_and_offers_pause_and_opt_out() -> None:
    delivery = coffee_deliveries("email")[0]
    message = linked(delivery)
    group = coffee_subject("r-2025-10", "g-1")
    own = delivery.notification_id
    assert claims(message) == [
        (LinkAction.MET, group, None),
        (LinkAction.NOT_MET, group, None),
        *((LinkAction.RATE, group, rating) for rating in (1, 2, 3, 4, 5)),
        (LinkAction.PAUSE, own, None),
        (LinkAction.OPT_OUT, own, None),
    ]
    assert message.unsubscribe == message.answers[-1].url
    assert "/unsubscribe/" in message.unsubscribe
    assert message.answers[0].label == "We met"


def test_labels_follow_the_message_language() -> None:
    message = linked(coffee_deliveries("email", languages=("nl",))[0])
    assert message.answers[0].label == "We hebben afgesproken"


def test_a_ritual_reminder_asks_who_comes() -> None:
    scheduled = event(sample_payload(RitualScheduled), time=EVENING - timedelta(days=3))
    tick = event(ClockTicked(now=EVENING, sequence=1), time=EVENING)
    [reminder] = [
        delivery
        for delivery in deliveries("en", scheduled, tick)
        if delivery.notice.template is Template.RITUAL_REMINDER
        and delivery.notice.recipient_id == "m-1"
    ]
    assert reminder.notice.occurrence is not None
    subject = ritual_subject("friday-drinks", reminder.notice.occurrence)
    assert claims(linked(reminder))[:2] == [
        (LinkAction.RSVP, subject, None),
        (LinkAction.ATTENDED, subject, None),
    ]


def test_every_channel_carries_the_links() -> None:
    message = linked(coffee_deliveries("email")[0])
    urls = [answer.url for answer in message.answers]
    text, page = as_text(message), as_html(message)
    assert all(url in text for url in urls)
    assert all(f'href="{url}"' in page for url in urls)
    [buttons] = [b for b in as_slack(message)["blocks"] if b["type"] == "actions"]
    assert [button["url"] for button in buttons["elements"]] == urls
    assert {button["type"] for button in buttons["elements"]} == {"button"}
    assert [button["value"] for button in buttons["elements"]] == [a.token for a in message.answers]
    card = as_teams(message)["attachments"][0]["content"]
    opened = [a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert opened[-len(urls) :] == urls


def test_an_email_carries_one_click_unsubscribe_headers() -> None:
    delivery = coffee_deliveries("email")[0]
    message = linked(delivery)
    raw = bytes(
        EmailComposer("rituals@example.com", "Rituals").compose(Outgoing(delivery, message))
    )
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["List-Unsubscribe"] == f"<{message.unsubscribe}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_link_signing_a_message_has_no_links() -> None:
    delivery = coffee_deliveries("email")[0]
    message = render(delivery)
    assert message.answers == ()
    raw = bytes(
        EmailComposer("rituals@example.com", "Rituals").compose(Outgoing(delivery, message))
    )
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["List-Unsubscribe"] is None
    assert not [b for b in as_slack(message)["blocks"] if b["type"] == "actions"]


def test_links_live_from_what_the_message_is_about_not_from_when_it_is_rendered() -> None:
    """A retry carries the same links; a simulated organisation's links expire in its weeks."""
    delivery = coffee_deliveries("email")[0]
    message = with_answer_links(render(delivery), delivery, SIGNING)
    token = message.answers[0].url.rsplit("/", 1)[1]
    cause = delivery.notice.source.time
    assert read_link(token, KEY, cause).expires == link_expiry(cause)
    with pytest.raises(LinkRefusedError):
        read_link(token, KEY, cause + LINK_LIFETIME + timedelta(days=2))
