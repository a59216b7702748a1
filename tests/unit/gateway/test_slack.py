"""Slack's slash command and interactivity through the gateway in process: requests signed with
the app's secret act for the member with the Slack user's e-mail address; unsigned, wrongly
signed or stale requests get 401 and publish nothing."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from schemas.coffee import CoffeeFeedbackGiven
from schemas.members import MemberPaused, MemberResumed
from services.common.domain.links import LinkAction, LinkClaim, coffee_subject, sign_link
from services.common.runtime import ServiceRuntime
from services.gateway.adapters.members import MemberWrites
from services.gateway.adapters.slack import slack_email_lookup
from services.gateway.app import DEFINITION, build_http_app
from services.gateway.domain.tokens import read_token_list
from services.gateway.settings import GatewaySettings
from tests.factories import ORG
from tests.unit.gateway.test_http import FoldingPublisher, history
from tests.unit.gateway.test_links_http import ORGANISATION_NOW

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
LINK_KEY = b"l" * 32
EMAILS = {"U1": "M-1@example.com", "U9": "stranger@example.com"}


@dataclass
class Slack:
    client: httpx.AsyncClient
    publisher: FoldingPublisher


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    runtime = ServiceRuntime(DEFINITION)
    for history_event in history():
        runtime.ledgers.handle(history_event)
    publisher = FoldingPublisher(runtime)
    writes = MemberWrites(runtime, lambda: publisher, visible_within_seconds=5)  # type: ignore[arg-type, return-value]

    async def email_of(user_id: str) -> str | None:
        return EMAILS.get(user_id)

    settings = GatewaySettings(
        max_body_bytes=4096,
        slack_signing_secret=SecretStr(SECRET),
        slack_workspaces={"T1": ORG},
    )
    app = build_http_app(
        runtime,
        writes,
        read_token_list(""),
        settings,
        ready=lambda: True,
        link_key=LINK_KEY,
        slack_email_of=email_of,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Slack(client, publisher)


def signed_headers(body: str, secret: str = SECRET, age_seconds: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time()) - age_seconds)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def command(slack: Slack, text: str, user: str = "U1", team: str = "T1") -> httpx.Response:
    body = urlencode({"team_id": team, "user_id": user, "command": "/rituals", "text": text})
    return await slack.client.post("/slack/commands", content=body, headers=signed_headers(body))


async def test_pause_status_and_resume(slack: Slack) -> None:
    today = ORGANISATION_NOW.date()  # the latest tick of history()
    paused = await command(slack, "pause 2w")
    assert paused.status_code == 200
    assert paused.json() == {
        "response_type": "ephemeral",
        "text": f"Paused until {(today + timedelta(weeks=2)).isoformat()}.",
    }
    status = await command(slack, "status")
    assert (
        status.json()["text"] == f"You are paused until {(today + timedelta(weeks=2)).isoformat()}."
    )
    again = await command(slack, "  PAUSE   2w ")
    assert again.json()["text"].startswith("You are already paused")
    await command(slack, "resume")
    published = [event.data for event in slack.publisher.published]
    assert published == [
        MemberPaused(member_id="m-1", until=today + timedelta(weeks=2)),
        MemberResumed(member_id="m-1"),
    ]


async def test_skip_and_days(slack: Slack) -> None:
    today = ORGANISATION_NOW.date()  # the latest tick of history()
    await command(slack, "skip")
    await command(slack, "pause 10d")
    until = [event.data.until for event in slack.publisher.published]
    assert until == [today + timedelta(weeks=1), today + timedelta(days=10)]


@pytest.mark.parametrize("text", ["", "dance", "pause 0d", "pause 999w", "pause -2w", "resume"])
async def test_unknown_or_pointless_commands_publish_nothing(slack: Slack, text: str) -> None:
    answered = await command(slack, text)
    assert answered.status_code == 200
    assert answered.json()["text"]
    assert slack.publisher.published == []


@pytest.mark.parametrize(("user", "team"), [("U9", "T1"), ("U404", "T1"), ("U1", "T-other")])
async def test_a_user_who_is_no_member_changes_nothing(slack: Slack, user: str, team: str) -> None:
    answered = await command(slack, "pause", user=user, team=team)
    assert "does not know you" in answered.json()["text"]
    assert slack.publisher.published == []


BODY = urlencode({"team_id": "T1", "user_id": "U1", "text": "pause"})


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},
        signed_headers(BODY, secret="another-secret"),
        signed_headers(BODY, age_seconds=6 * 60),
        {**signed_headers(BODY), "X-Slack-Signature": "v0=" + "0" * 64},
        {**signed_headers(BODY), "X-Slack-Request-Timestamp": "yesterday"},
    ],
    ids=["unsigned", "wrong secret", "stale", "wrong signature", "bad timestamp"],
)
@pytest.mark.parametrize("path", ["/slack/commands", "/slack/interactivity"])
async def test_unsigned_or_stale_requests_are_refused(
    slack: Slack, headers: dict[str, str], path: str
) -> None:
    refused = await slack.client.post(path, content=BODY, headers=headers)
    assert refused.status_code == 401
    assert slack.publisher.published == []


async def test_a_changed_body_breaks_the_signature(slack: Slack) -> None:
    headers = signed_headers(BODY)
    changed = BODY.replace("pause", "resume")
    refused = await slack.client.post("/slack/commands", content=changed, headers=headers)
    assert refused.status_code == 401


async def test_an_oversized_body_is_refused(slack: Slack) -> None:
    body = urlencode({"team_id": "T1", "user_id": "U1", "text": "x" * 5000})
    refused = await slack.client.post("/slack/commands", content=body, headers=signed_headers(body))
    assert refused.status_code == 413
    assert slack.publisher.published == []


def button_click(*values: str, user: str = "U1") -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "actions": [{"type": "button", "value": value} for value in values],
    }
    return urlencode({"payload": json.dumps(payload)})


def answer_token(member_id: str = "m-1") -> str:
    expires = datetime.now(UTC) + timedelta(days=1)
    subject = coffee_subject("r-2025-10", "g-1")
    return sign_link(LinkClaim(ORG, member_id, LinkAction.MET, subject, expires), LINK_KEY)


async def test_a_button_click_answers_its_link_once(slack: Slack) -> None:
    body = button_click(answer_token(), answer_token(member_id="m-2"), "not-a-token")
    for _ in range(2):
        clicked = await slack.client.post(
            "/slack/interactivity", content=body, headers=signed_headers(body)
        )
        assert clicked.status_code == 200
    [published] = slack.publisher.published  # m-2's link is not U1's to answer
    assert published.data == CoffeeFeedbackGiven(
        round_id="r-2025-10", group_id="g-1", member_id="m-1", met=True
    )


@pytest.mark.parametrize(
    "body",
    [
        "payload=not-json",
        "nothing=here",
        urlencode({"payload": json.dumps({"team": "T1"})}),
        urlencode({"payload": json.dumps([1, 2])}),
    ],
)
async def test_a_malformed_interaction_is_refused(slack: Slack, body: str) -> None:
    refused = await slack.client.post(
        "/slack/interactivity", content=body, headers=signed_headers(body)
    )
    assert refused.status_code == 400
    assert slack.publisher.published == []


async def test_a_slack_users_address_comes_from_users_info_once() -> None:
    asked: list[httpx.Request] = []

    def slack_api(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if request.url.params["user"] == "U1":
            return httpx.Response(200, json={"ok": True, "user": {"profile": {"email": "a@x.io"}}})
        return httpx.Response(200, json={"ok": False, "error": "user_not_found"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(slack_api))
    email_of = slack_email_lookup("xoxb-test", client)
    assert await email_of("U1") == "a@x.io"
    assert await email_of("U1") == "a@x.io"
    assert await email_of("U2") is None
    assert [request.url.params["user"] for request in asked] == ["U1", "U2"]
    assert asked[0].headers["Authorization"] == "Bearer xoxb-test"
    await client.aclose()
