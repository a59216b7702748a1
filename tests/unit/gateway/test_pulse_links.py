"""The weekly pulse answered with one click: one signed link per score, GET asks, POST
publishes ``rituals.pulse.answered`` once per link; another score is another answer (the
latest of the week counts downstream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from schemas.pulse import PulseAnswered
from services.common.domain.links import (
    LinkAction,
    LinkClaim,
    LinkRefusedError,
    answer_event_id,
    pulse_subject,
    read_link,
    sign_link,
)
from tests.unit.gateway.test_links_http import KEY, Links, surface_with, token

WEEK = date(2025, 3, 3)


@pytest.fixture
async def links() -> AsyncIterator[Links]:
    async for surface in surface_with(KEY):
        yield surface


def pulse_token(score: int, member_id: str = "m-1") -> str:
    return token(LinkAction.PULSE, member_id, pulse_subject(WEEK), rating=score)


async def test_a_pulse_link_asks_then_answers_once(links: Links) -> None:
    signed = pulse_token(4)
    shown = await links.client.get(f"/links/{signed}")
    assert shown.status_code == 200
    assert "How connected did you feel to your colleagues this week?" in shown.text
    assert "4 out of 5" in shown.text
    assert links.publisher.published == []

    for _ in range(2):
        answered = await links.client.post(f"/links/{signed}")
        assert answered.status_code == 200
        assert 'id="done"' in answered.text
    [published] = links.publisher.published
    assert published.data == PulseAnswered(week_starting=WEEK, member_id="m-1", score=4)
    assert published.id == answer_event_id(signed)
    assert published.type == "rituals.pulse.answered"


async def test_another_score_the_same_week_is_another_answer(links: Links) -> None:
    await links.client.post(f"/links/{pulse_token(2)}")
    await links.client.post(f"/links/{pulse_token(5)}")
    assert [p.data.score for p in links.publisher.published] == [2, 5]


async def test_the_pulse_page_is_in_the_members_language(links: Links) -> None:
    shown = await links.client.get(f"/links/{pulse_token(3, member_id='m-nl')}")
    assert "Hoe verbonden voelde je je deze week met je collega" in shown.text
    assert "3 van de 5" in shown.text


async def test_a_pulse_link_about_no_week_publishes_nothing(links: Links) -> None:
    signed = token(LinkAction.PULSE, "m-1", "not-a-week", rating=3)
    answered = await links.client.post(f"/links/{signed}")
    assert answered.status_code == 400
    assert links.publisher.published == []


def test_a_pulse_link_needs_a_score_of_one_to_five() -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    now = datetime.now(UTC)
    for score in (None, 0, 6):
        claim = LinkClaim("acme", "m-1", LinkAction.PULSE, pulse_subject(WEEK), expires, score)
        with pytest.raises(LinkRefusedError, match="malformed"):
            read_link(sign_link(claim, KEY), KEY, now)
    claim = LinkClaim("acme", "m-1", LinkAction.PULSE, pulse_subject(WEEK), expires, 5)
    assert read_link(sign_link(claim, KEY), KEY, now).rating == 5
