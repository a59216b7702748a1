"""Templates in every language, and each channel's layout of a message (escaping included)."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from icalendar import Calendar

from schemas import CloudEvent
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeMatched, CoffeeTeamDigestCompiled, CoffeeUnmatched
from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue
from schemas.pulse import PulseAsked
from schemas.rituals import RitualCancelled, RitualScheduled
from services.notifier.domain.calendar import invitation_ics
from services.notifier.domain.formats import as_html, as_slack, as_teams, as_text
from services.notifier.domain.message import Attendee, Message
from services.notifier.domain.notices import Delivery, Template
from services.notifier.domain.rendering import render
from services.notifier.domain.templates import PHRASEBOOKS, language_for
from services.notifier.domain.templates.phrasebook import PLACEHOLDERS, format_strings
from services.notifier.handlers import NotifierProcessor
from tests.factories import event, sample_payload
from tests.unit.notifier.support import joined

ORGANISER = Attendee("Rituals", "rituals@example.com")
EVENING = datetime(2025, 3, 7, 14, 30, tzinfo=UTC)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", sorted(PHRASEBOOKS))
def test_every_text_uses_known_placeholders_and_the_same_as_english(language: str) -> None:
    english = format_strings(PHRASEBOOKS["en"])
    texts = format_strings(PHRASEBOOKS[language])
    assert texts.keys() == english.keys()
    for field, text in texts.items():
        assert placeholders(text) <= PLACEHOLDERS, field
        assert placeholders(text) == placeholders(english[field]), field


def test_a_language_is_chosen_from_the_members_list_then_the_organisation() -> None:
    assert language_for(("nl", "en"), "en") == "nl"
    assert language_for(("de", "en-GB"), "nl") == "en"
    assert language_for(("de",), "nl") == "nl"
    assert language_for(("de",), "fr") == "en"


def deliveries(language: str, *events: CloudEvent[Any], name: str = "Ada") -> list[Delivery]:
    processor = NotifierProcessor()
    for member in (
        joined("m-1", display_name=name, languages=(language,)),
        joined(
            "m-2",
            display_name="Grace",
            languages=(language,),
            timezone="America/New_York",
            working_hours={"start": "00:00", "end": "23:59", "days": ("fri", "mon", "tue")},
        ),
        joined("m-9", display_name="Linus", languages=(language,)),
    ):
        processor.apply(member)
    for item in events:
        processor.apply(item)
    return list(processor.book.ready())


def every_template_event() -> list[CloudEvent[Any]]:
    scheduled = event(
        sample_payload(RitualScheduled, online_url="https://meet.example.com/drinks"),
        time=EVENING - timedelta(days=3),
    )
    return [
        event(sample_payload(CoffeeMatched)),
        event(sample_payload(CoffeeMatched, mode="in_person", office="Utrecht")),
        event(sample_payload(CoffeeUnmatched, member_id="m-1")),
        event(sample_payload(BuddyAssigned)),
        event(sample_payload(BuddyReassigned)),
        event(sample_payload(CheckinDue)),
        scheduled,
        event(ClockTicked(now=EVENING, sequence=1), time=EVENING),
        event(
            RitualCancelled(
                ritual_id="friday-drinks",
                occurrence_start=EVENING + timedelta(days=7, hours=1),
                reason="The office is closed.",
            ),
            time=EVENING,
        ),
        event(sample_payload(RitualScheduled, ritual_id="lunch"), time=EVENING),
        event(RitualCancelled(ritual_id="lunch"), time=EVENING),
        event(sample_payload(RitualScheduled, ritual_id="checkin"), time=EVENING),
        event(sample_payload(CoffeeTeamDigestCompiled)),
        event(sample_payload(PulseAsked)),
    ]


@pytest.mark.parametrize("language", sorted(PHRASEBOOKS))
def test_every_template_renders_completely_in_every_language(language: str) -> None:
    found = deliveries(language, *every_template_event())
    assert {d.notice.template for d in found} == set(Template)
    for delivery in found:
        message = render(delivery)
        assert message.language == language
        for text in (message.subject, message.lead, as_text(message), as_html(message)):
            assert "{" not in text, (delivery.notice.template, text)
            assert "}" not in text, (delivery.notice.template, text)
        assert "None" not in as_text(message)


def test_a_coffee_message_names_the_others_and_the_slot_in_the_recipients_time() -> None:
    ada, grace = deliveries("nl", event(sample_payload(CoffeeMatched)))
    to_grace = render(grace)
    assert to_grace.subject == "Koffie met Ada"
    assert "dinsdag 4 maart 2025 om 04:00 (America/New_York)" in as_text(to_grace)
    assert "Hoi Grace," in as_text(to_grace)
    assert "different teams" in to_grace.reasons
    to_ada = render(ada)
    assert to_ada.subject == "Koffie met Grace"
    assert "10:00 (Europe/Amsterdam)" in as_text(to_ada)


def test_a_team_digest_goes_to_the_lead_alone_with_names_and_what_the_round_does() -> None:
    (to_lead,) = deliveries("en", event(sample_payload(CoffeeTeamDigestCompiled)))
    assert to_lead.recipient.member_id == "m-1"
    message = render(to_lead)
    text = as_text(message)
    assert message.subject == "Platform this week: 5 of 6 have a coffee"
    assert "No coffee for 4 rounds or more: Grace" in text
    assert "New hires: Linus (met 2)" in text
    assert message.reasons_heading == "What the platform does this round"
    assert message.reasons[0] == (
        "Grace has had no coffee for a while: this round pairs them with m-7 (Sales)."
    )
    assert "Linus is new and has met few people so far" in message.reasons[1]

    (in_dutch,) = deliveries("nl", event(sample_payload(CoffeeTeamDigestCompiled)))
    assert "Geen koffie in 4 rondes of meer: Grace" in as_text(render(in_dutch))


def test_a_ritual_reminder_has_its_local_start_and_a_safe_link() -> None:
    (reminder, *_) = reminders(deliveries("en", *every_template_event()[6:8]))
    message = render(reminder)
    assert message.subject == "Reminder: Friday drinks"
    assert "Friday, March 7, 2025 at 4:30" in message.lead
    assert message.link == "https://meet.example.com/drinks"

    hostile = every_template_event()[6:8]
    hostile[0] = event(
        sample_payload(RitualScheduled, online_url="javascript:alert(1)"), time=hostile[0].time
    )
    assert render(reminders(deliveries("en", *hostile))[0]).link is None


def reminders(found: list[Delivery]) -> list[Delivery]:
    return [d for d in found if d.notice.template is Template.RITUAL_REMINDER]


HOSTILE = '<script>alert("hi")</script> & <b>'


def hostile_message() -> Message:
    matched = sample_payload(CoffeeMatched, reasons=(HOSTILE,), conversation_starter=HOSTILE)
    return render(deliveries("en", event(matched), name=HOSTILE)[1])  # to Grace, naming Ada


def test_html_escapes_everything_people_wrote() -> None:
    html = as_html(hostile_message())
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in html


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn text of a Block Kit document (plain_text is shown as is by Slack)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def test_slack_blocks_escape_mrkdwn_control_characters() -> None:
    document = as_slack(hostile_message())
    texts = list(mrkdwn_texts(document["blocks"]))
    assert texts
    assert not any("<script>" in text or "<b>" in text for text in texts)
    assert any("&lt;script&gt;" in text for text in texts)
    assert document["blocks"][0]["type"] == "header"
    assert document["text"] == hostile_message().subject


def test_teams_gets_an_adaptive_card_with_a_fact_set() -> None:
    document = as_teams(hostile_message())
    (attachment,) = document["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    fact_set = next(block for block in card["body"] if block["type"] == "FactSet")
    assert [fact["title"] for fact in fact_set["facts"]] == ["When", "Length", "How", "With"]


def test_the_invitation_is_one_meeting_for_all_participants() -> None:
    ada, grace = deliveries("en", event(sample_payload(CoffeeMatched)))
    calendars = []
    for delivery in (ada, grace):
        invitation = render(delivery).invitation
        assert invitation is not None
        calendars.append(Calendar.from_ical(invitation_ics(invitation, ORGANISER)))
    for calendar in calendars:
        assert calendar["METHOD"] == "REQUEST"
        (meeting,) = calendar.walk("VEVENT")
        assert meeting.decoded("DTSTART") == datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
        assert meeting.decoded("DTEND") == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
        assert str(meeting["ORGANIZER"]) == "mailto:rituals@example.com"
        attendees = sorted(str(a) for a in cast(list[Any], meeting["ATTENDEE"]))
        assert attendees == ["mailto:m-1@example.com", "mailto:m-2@example.com"]
    uids = {str(calendar.walk("VEVENT")[0]["UID"]) for calendar in calendars}
    assert uids == {"coffee-r-2025-10-g-1@acme.rituals"}
    # Rendering again gives the same bytes: a resent invitation is the same invitation.
    again = render(ada).invitation
    assert again is not None
    assert invitation_ics(again, ORGANISER) == calendars[0].to_ical()


def test_a_checkin_invitation_lasts_half_an_hour_at_the_due_moment() -> None:
    due = sample_payload(CheckinDue)
    (to_new_hire, to_buddy) = deliveries("en", event(due))
    message = render(to_buddy)
    assert message.subject == "Onboarding check-in (day 1) with Linus"
    assert render(to_new_hire).subject == "Onboarding check-in (day 1) with Ada"
    assert message.invitation is not None
    assert message.invitation.start == due.due_at
    assert message.invitation.minutes == 30
