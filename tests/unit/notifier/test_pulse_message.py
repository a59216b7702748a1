"""The weekly pulse message: the question in the member's language (every language the
notifier writes), with one signed link per score 1-5 that reads back at the gateway; the team
lead's digest shows last week's pulse (no figure below 5 answers) and ritual attendance."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.coffee import CoffeeTeamDigestCompiled
from schemas.pulse import PulseAsked
from services.common.domain.links import LinkAction, pulse_subject
from services.notifier.domain.formats import as_text
from services.notifier.domain.notices import Template
from services.notifier.domain.rendering import render
from services.notifier.domain.templates import PHRASEBOOKS
from tests.factories import event, sample_payload
from tests.unit.notifier.test_message_answer_links import claims, linked
from tests.unit.notifier.test_rendering import deliveries

WEEK = date(2025, 3, 3)
QUESTIONS = {
    "en": "How connected did you feel to your colleagues this week?",
    "nl": "Hoe verbonden voelde je je deze week met je collega's?",
}


def test_every_language_has_the_question() -> None:
    assert set(QUESTIONS) == set(PHRASEBOOKS)


@pytest.mark.parametrize("language", sorted(PHRASEBOOKS))
def test_the_pulse_asks_in_the_members_language_with_a_link_per_score(language: str) -> None:
    asked = event(PulseAsked(week_starting=WEEK, member_id="m-1"))
    [delivery] = deliveries(language, asked)
    assert delivery.notice.template is Template.PULSE
    message = linked(delivery)
    assert message.language == language
    assert QUESTIONS[language] in as_text(message)
    scores = [c for c in claims(message) if c[0] is LinkAction.PULSE]
    assert scores == [(LinkAction.PULSE, pulse_subject(WEEK), s) for s in (1, 2, 3, 4, 5)]
    assert [a.label for a in message.answers[:5]] == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("language", sorted(PHRASEBOOKS))
def test_the_digest_shows_a_pulse_only_from_five_answers(language: str) -> None:
    book = PHRASEBOOKS[language]
    few = sample_payload(CoffeeTeamDigestCompiled, pulse_answers=4, pulse_mean=None)
    enough = sample_payload(CoffeeTeamDigestCompiled, pulse_answers=5, pulse_mean=3.4)
    [few_delivery] = deliveries(language, event(few))
    [enough_delivery] = deliveries(language, event(enough))
    few_facts = dict((f.label, f.value) for f in render(few_delivery).facts)
    enough_facts = dict((f.label, f.value) for f in render(enough_delivery).facts)
    assert few_facts[book.label_pulse] == book.pulse_too_few
    assert enough_facts[book.label_pulse].startswith("3")
    assert "5" in enough_facts[book.label_pulse]
    assert "4" in enough_facts[book.label_attendance]
    assert "6" in enough_facts[book.label_attendance]
