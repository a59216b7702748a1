"""The one-click answers a message carries: signed links to the gateway, per recipient. A coffee
match asks whether it happened (and a rating), a ritual reminder asks who comes (and who came),
the weekly pulse offers one link per score 1-5;
every message offers a two-week pause and opting out. Pure: key, base URL and moment given."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from services.common.domain.links import (
    LinkAction,
    LinkClaim,
    coffee_subject,
    link_expiry,
    pulse_subject,
    ritual_subject,
    sign_link,
)
from services.notifier.domain.message import AnswerLink, Message
from services.notifier.domain.notices import Delivery, Template

RATINGS = (1, 2, 3, 4, 5)
LABELS: dict[str, dict[LinkAction, str]] = {
    "en": {
        LinkAction.MET: "We met",
        LinkAction.NOT_MET: "We did not meet",
        LinkAction.RATE: "{rating}/5",
        LinkAction.RSVP: "I'll be there",
        LinkAction.ATTENDED: "I attended",
        LinkAction.PAUSE: "Pause me for 2 weeks",
        LinkAction.OPT_OUT: "Opt out",
        LinkAction.PULSE: "{rating}",
    },
    "nl": {
        LinkAction.MET: "We hebben afgesproken",
        LinkAction.NOT_MET: "We hebben niet afgesproken",
        LinkAction.RATE: "{rating}/5",
        LinkAction.RSVP: "Ik ben erbij",
        LinkAction.ATTENDED: "Ik was erbij",
        LinkAction.PAUSE: "Pauzeer mij 2 weken",
        LinkAction.OPT_OUT: "Afmelden",
        LinkAction.PULSE: "{rating}",
    },
}


@dataclass(frozen=True)
class LinkSigning:
    """Where the gateway answers (its public base URL) and the key links are signed with."""

    base_url: str
    key: bytes


def with_answer_links(message: Message, delivery: Delivery, signing: LinkSigning) -> Message:
    """The message with its recipient's answer links, valid for LINK_LIFETIME from its cause."""
    labels = LABELS.get(message.language.split("-")[0], LABELS["en"])
    base = signing.base_url.rstrip("/")
    notice = delivery.notice
    expires = link_expiry(valid_from(delivery))

    def signed(action: LinkAction, subject: str, rating: int | None = None) -> str:
        claim = LinkClaim(notice.org_id, notice.recipient_id, action, subject, expires, rating)
        return sign_link(claim, signing.key)

    def link(action: LinkAction, subject: str, rating: int | None = None) -> AnswerLink:
        token = signed(action, subject, rating)
        return AnswerLink(labels[action].format(rating=rating), f"{base}/links/{token}", token)

    answers = [*_asked(notice.template, delivery, link)]
    own = delivery.notification_id
    answers.append(link(LinkAction.PAUSE, own))
    opt_out = signed(LinkAction.OPT_OUT, own)
    unsubscribe = f"{base}/unsubscribe/{opt_out}"
    answers.append(AnswerLink(labels[LinkAction.OPT_OUT], unsubscribe, opt_out))
    return dataclasses.replace(message, answers=tuple(answers), unsubscribe=unsubscribe)


def valid_from(delivery: Delivery) -> datetime:
    """When a message's links start their lifetime: at the domain time of what the message is
    about (the occurrence, for a ritual's), so that every rendering of it, retries included,
    carries the same links, and a simulated organisation's links live in its own weeks (the
    gateway judges them by the organisation's clock)."""
    caused_at = delivery.notice.source.time
    occurrence = delivery.notice.occurrence
    return caused_at if occurrence is None else max(caused_at, occurrence)


def _asked(template: Template, delivery: Delivery, link: _LinkMaker) -> list[AnswerLink]:
    source = delivery.notice.source.data
    if template is Template.COFFEE_MATCHED:
        subject = coffee_subject(source.round_id, source.group_id)
        return [
            link(LinkAction.MET, subject),
            link(LinkAction.NOT_MET, subject),
            *(link(LinkAction.RATE, subject, rating) for rating in RATINGS),
        ]
    if template is Template.RITUAL_REMINDER and delivery.notice.occurrence is not None:
        subject = ritual_subject(source.ritual_id, delivery.notice.occurrence)
        return [link(LinkAction.RSVP, subject), link(LinkAction.ATTENDED, subject)]
    if template is Template.PULSE:
        subject = pulse_subject(source.week_starting)
        return [link(LinkAction.PULSE, subject, score) for score in RATINGS]
    return []


class _LinkMaker(Protocol):
    def __call__(
        self, action: LinkAction, subject: str, rating: int | None = None
    ) -> AnswerLink: ...
