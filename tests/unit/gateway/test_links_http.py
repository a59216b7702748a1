"""One-click links through the gateway in process: GET asks and changes nothing, POST publishes
the answer once, in the member's language; a tampered, expired, foreign or malformed link gets a
clear page, a 4xx status and publishes nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from schemas.coffee import CoffeeFeedbackGiven
from schemas.members import MemberOptedOut, MemberPaused
from schemas.rituals import RitualRsvpGiven
from services.common.domain.links import (
    LinkAction,
    LinkClaim,
    answer_event_id,
    coffee_subject,
    ritual_subject,
    sign_link,
)
from services.common.runtime import ServiceRuntime
from services.gateway.adapters.members import MemberWrites
from services.gateway.app import DEFINITION, build_http_app
from services.gateway.domain.tokens import read_token_list
from services.gateway.settings import GatewaySettings
from tests.factories import ORG, OTHER_ORG, T0, member_joined_event
from tests.unit.gateway.test_http import FoldingPublisher, history

KEY = b"s" * 32
ORGANISATION_NOW = T0 + timedelta(days=3)
"""The organisation's domain time in ``history()``: its latest tick."""
GROUP = coffee_subject("r-2025-10", "g-1")


@dataclass
class Links:
    client: httpx.AsyncClient
    publisher: FoldingPublisher


async def surface_with(link_key: bytes | None) -> AsyncIterator[Links]:
    runtime = ServiceRuntime(DEFINITION)
    for history_event in [*history(), member_joined_event(ORG, "m-nl", languages=("nl", "en"))]:
        runtime.ledgers.handle(history_event)
    publisher = FoldingPublisher(runtime)
    writes = MemberWrites(runtime, lambda: publisher, visible_within_seconds=5)  # type: ignore[arg-type, return-value]
    app = build_http_app(
        runtime,
        writes,
        read_token_list(""),
        GatewaySettings(),
        ready=lambda: True,
        link_key=link_key,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Links(client, publisher)


@pytest.fixture
async def links() -> AsyncIterator[Links]:
    async for surface in surface_with(KEY):
        yield surface


def token(
    action: LinkAction = LinkAction.MET,
    member_id: str = "m-1",
    subject: str = GROUP,
    organisation: str = ORG,
    rating: int | None = None,
    expires: datetime | None = None,
    key: bytes = KEY,
) -> str:
    expiry = expires or datetime.now(UTC) + timedelta(days=1)
    claim = LinkClaim(organisation, member_id, action, subject, expiry, rating)
    return sign_link(claim, key)


async def test_get_asks_and_post_publishes_the_answer_once(links: Links) -> None:
    link = f"/links/{token()}"
    shown = await links.client.get(link)
    assert shown.status_code == 200
    assert 'id="confirm"' in shown.text
    assert f'action="{link}"' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert links.publisher.published == []  # a prefetching mail scanner changes nothing

    first, second = await links.client.post(link), await links.client.post(link)
    assert first.status_code == second.status_code == 200
    assert 'id="done"' in first.text
    [published] = links.publisher.published
    assert published.data == CoffeeFeedbackGiven(
        round_id="r-2025-10", group_id="g-1", member_id="m-1", met=True
    )
    assert published.subject == "m-1"
    assert published.orgid == ORG


async def test_clicks_at_once_publish_each_answer_once(links: Links) -> None:
    """Answers do not wait for each other, but the same link clicked twice at once is still
    published once."""
    same, other = f"/links/{token()}", f"/links/{token(member_id='m-nl')}"
    answers = await asyncio.gather(*(links.client.post(link) for link in (same, same, other)))
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert sorted(p.data.member_id for p in links.publisher.published) == ["m-1", "m-nl"]


async def test_the_event_id_comes_from_the_token(links: Links) -> None:
    signed = token(LinkAction.NOT_MET)
    await links.client.post(f"/links/{signed}")
    [published] = links.publisher.published
    assert published.id == answer_event_id(signed)
    assert published.data.met is False


async def test_a_rating_link_gives_its_rating(links: Links) -> None:
    await links.client.post(f"/links/{token(LinkAction.RATE, rating=4)}")
    [published] = links.publisher.published
    assert (published.data.met, published.data.rating) == (True, 4)


async def test_pause_rsvp_and_opt_out(links: Links) -> None:
    occurrence = datetime(2025, 3, 7, 15, 30, tzinfo=UTC)
    await links.client.post(f"/links/{token(LinkAction.PAUSE, subject='n-1')}")
    await links.client.post(
        f"/links/{token(LinkAction.RSVP, subject=ritual_subject('drinks', occurrence))}"
    )
    unsubscribe = await links.client.post(
        f"/unsubscribe/{token(LinkAction.OPT_OUT, subject='n-1')}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsubscribe.status_code == 200
    paused, rsvp, opted_out = (published.data for published in links.publisher.published)
    assert isinstance(paused, MemberPaused)
    assert paused.until == ORGANISATION_NOW.date() + timedelta(weeks=2)
    assert rsvp == RitualRsvpGiven(ritual_id="drinks", occurrence_start=occurrence, member_id="m-1")
    assert opted_out == MemberOptedOut(member_id="m-1")


async def test_an_answer_falls_in_the_organisations_own_time(links: Links) -> None:
    """A simulated organisation lives in its own weeks: its links are judged by its clock (the
    latest tick), and the answer is dated then, not at the wall clock's now."""
    past_by_the_wall_clock = ORGANISATION_NOW + timedelta(hours=1)
    answered = await links.client.post(f"/links/{token(expires=past_by_the_wall_clock)}")
    assert answered.status_code == 200
    [published] = links.publisher.published
    assert published.time == ORGANISATION_NOW
    expired = await links.client.post(
        f"/links/{token(LinkAction.NOT_MET, expires=ORGANISATION_NOW)}"
    )
    assert expired.status_code == 410
    assert len(links.publisher.published) == 1


async def test_before_its_first_tick_an_organisation_lives_by_the_wall_clock(
    links: Links,
) -> None:
    joined = member_joined_event("org-without-ticks", "m-9")
    links.publisher.runtime.ledgers.handle(joined)
    await links.client.post(f"/links/{token(organisation='org-without-ticks', member_id='m-9')}")
    [published] = links.publisher.published
    assert abs(published.time - datetime.now(UTC)) < timedelta(hours=1)


async def test_the_page_speaks_the_members_first_language(links: Links) -> None:
    shown = await links.client.get(f"/links/{token(member_id='m-nl')}")
    assert 'lang="nl"' in shown.text
    assert "Bevestigen" in shown.text
    done = await links.client.post(f"/links/{token(member_id='m-nl')}")
    assert "genoteerd" in done.text


def _tampered() -> str:
    body, signature = token().split(".")
    return f"{body}.{signature[:-2]}AA"


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("POST", f"/links/{_tampered()}", 400, "not valid"),
        ("GET", f"/links/{_tampered()}", 400, "not valid"),
        ("POST", f"/links/{token(key=b'o' * 32)}", 400, "not valid"),
        ("POST", "/links/garbage", 400, "not valid"),
        ("POST", f"/links/{'a' * 5000}.b", 400, "not valid"),
        ("POST", f"/links/{token(expires=datetime(2025, 1, 1, tzinfo=UTC))}", 410, "expired"),
        ("POST", f"/links/{token(member_id='nobody')}", 404, "no longer works"),
        ("POST", f"/links/{token(organisation=OTHER_ORG)}", 404, "no longer works"),
        ("POST", f"/links/{token(subject='no-separator')}", 400, "not valid"),
        ("POST", f"/unsubscribe/{token(LinkAction.MET)}", 400, "not valid"),
    ],
)
async def test_bad_links_are_refused_and_publish_nothing(
    links: Links,
    method: str,
    path: str,
    status: int,
    says: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = await links.client.request(method, path)
    assert refused.status_code == status
    assert says in refused.text
    assert 'id="refused"' in refused.text
    assert links.publisher.published == []
    server_logs = [record.getMessage() for record in caplog.records if record.name != "httpx"]
    logged = "\n".join([*server_logs, capsys.readouterr().out])  # the test's client logs URLs
    assert "link refused" in logged
    assert path.rsplit("/", 1)[1] not in logged


async def test_without_a_signing_key_no_link_works() -> None:
    async for surface in surface_with(None):
        refused = await surface.client.post(f"/links/{token()}")
        assert refused.status_code == 404
        assert "not enabled" in refused.text
        assert surface.publisher.published == []
