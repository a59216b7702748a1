"""The gateway's HTTP surface in process (no broker: a publisher that records and folds what it
is given, as the consumer would): refused requests answer 4xx with a clear body and publish
nothing; a write is published once and read back at once."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from schemas import CloudEvent
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched, CoffeeRoundRequested
from schemas.notifications import NotificationSent
from services.common.runtime import ServiceRuntime
from services.gateway.adapters.members import MemberWrites
from services.gateway.app import DEFINITION, build_http_app
from services.gateway.domain.scim_users import CORE_USER, ENTERPRISE_USER
from services.gateway.domain.tokens import Role, read_token_list, token_line
from services.gateway.settings import GatewaySettings
from services.insights.domain import project
from services.insights.render import Format, render
from tests.factories import ORG, OTHER_ORG, T0, event, member_joined_event, sample_payload

ADMIN, READER, OTHER = "rit_admin", "rit_reader", "rit_other"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class FoldingPublisher:
    """Records what is published and folds it into the runtime's state at once."""

    runtime: ServiceRuntime
    published: list[CloudEvent[Any]] = field(default_factory=list)

    def publish(self, events: list[CloudEvent[Any]]) -> int:
        self.published.extend(events)
        for published in events:
            self.runtime.ledgers.handle(published)
        return len(events)

    def close(self) -> None:
        pass


@dataclass
class Surface:
    client: httpx.AsyncClient
    publisher: FoldingPublisher
    ready: threading.Event


@pytest.fixture
async def surface() -> AsyncIterator[Surface]:
    runtime = ServiceRuntime(DEFINITION)
    ready = threading.Event()
    for history_event in history():
        runtime.ledgers.handle(history_event)
    publisher = FoldingPublisher(runtime)
    writes = MemberWrites(runtime, lambda: publisher, visible_within_seconds=5)  # type: ignore[arg-type, return-value]
    tokens = read_token_list(
        "\n".join(
            [
                token_line(ORG, Role.ADMIN, ADMIN),
                token_line(ORG, Role.READ, READER),
                token_line(OTHER_ORG, Role.ADMIN, OTHER),
            ]
        )
    )
    settings = GatewaySettings(max_body_bytes=4096)
    app = build_http_app(runtime, writes, tokens, settings, ready=lambda: ready.is_set())
    ready.set()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield Surface(client, publisher, ready)


def history() -> list[CloudEvent[Any]]:
    """Two members matched in a round, m-1's feedback and notification, and a clock tick."""
    coffee = [
        sample_payload(model)
        for model in (CoffeeRoundRequested, CoffeeMatched, CoffeeFeedbackGiven, NotificationSent)
    ]
    ticked = sample_payload(ClockTicked, now=T0 + timedelta(days=3))
    return [
        member_joined_event(ORG, "m-1"),
        member_joined_event(ORG, "m-2", time=T0, team="Sales"),
        *(event(payload, time=T0 + timedelta(minutes=1)) for payload in coffee),
        event(ticked, time=T0 + timedelta(days=3)),
    ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(user_name: str = "bob", **changes: Any) -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER],
        "userName": user_name,
        "displayName": "Bob",
        "emails": [{"value": "bob@example.com"}],
        "timezone": "Europe/Amsterdam",
        "preferredLanguage": "nl",
        ENTERPRISE_USER: {"department": "Sales"},
        **changes,
    }


USERS = "/scim/v2/Users"
API = f"/api/v1/organisations/{ORG}"


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "expected"),
    [
        ("POST", USERS, user(), {}, 401),
        ("POST", USERS, user(), bearer("rit_wrong"), 401),
        ("POST", USERS, user(), {"Authorization": "Basic YTpi"}, 401),
        ("POST", USERS, user(), bearer(READER), 403),
        ("DELETE", f"{USERS}/m-1", None, bearer(READER), 403),
        ("DELETE", f"{USERS}/m-1", None, bearer(OTHER), 404),
        ("PUT", f"{USERS}/m-1", user("m-1"), bearer(OTHER), 404),
        ("GET", f"{USERS}/m-1", None, bearer(OTHER), 404),
        ("PUT", f"{USERS}/nobody", user("nobody"), bearer(ADMIN), 404),
        ("DELETE", f"{USERS}/nobody", None, bearer(ADMIN), 404),
        ("POST", USERS, user(emails="bob@example.com"), bearer(ADMIN), 400),
        ("POST", USERS, user(displayName=["Bob"]), bearer(ADMIN), 400),
        ("POST", USERS, user(timezone="Nowhere/Land"), bearer(ADMIN), 400),
        ("POST", USERS, user(userName="m-1"), bearer(ADMIN), 409),
        ("POST", USERS, user(displayName="B" * 5000), bearer(ADMIN), 413),
        ("POST", USERS, [1, 2], bearer(ADMIN), 400),
    ],
)
async def test_a_refused_scim_request_answers_a_scim_error_and_publishes_nothing(
    surface: Surface,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    expected: int,
) -> None:
    answer = await surface.client.request(method, path, json=body, headers=headers)
    assert answer.status_code == expected, answer.text
    assert answer.json()["schemas"] == [ERROR_SCHEMA]
    assert answer.json()["status"] == str(expected)
    assert surface.publisher.published == []


async def test_malformed_json_is_a_scim_error(surface: Surface) -> None:
    answer = await surface.client.post(
        USERS,
        content=b'{"userName": "bob",',
        headers={**bearer(ADMIN), "Content-Type": "application/scim+json"},
    )
    assert answer.status_code == 400
    assert answer.json()["schemas"] == [ERROR_SCHEMA]
    assert surface.publisher.published == []


async def test_a_write_is_published_once_and_read_back_at_once(surface: Surface) -> None:
    created = await surface.client.post(USERS, json=user(), headers=bearer(ADMIN))
    assert created.status_code == 201
    assert [e.type for e in surface.publisher.published] == ["rituals.member.joined"]
    read = await surface.client.get(f"{USERS}/bob", headers=bearer(READER))
    assert read.json()["displayName"] == "Bob"

    replaced = await surface.client.put(f"{USERS}/bob", json=user(), headers=bearer(ADMIN))
    assert replaced.status_code == 200
    assert len(surface.publisher.published) == 1  # the same User again: nothing new

    members = await surface.client.get(
        f"/api/v1/organisations/{ORG}/members", headers=bearer(READER)
    )
    assert [m["member_id"] for m in members.json()["members"]] == ["m-1", "m-2", "bob"]


@pytest.mark.parametrize(
    ("path", "headers", "expected", "detail"),
    [
        (f"/api/v1/organisations/{ORG}/members", {}, 401, "a valid bearer token is required"),
        (
            f"/api/v1/organisations/{ORG}/rounds",
            bearer(OTHER),
            403,
            "the token is for another organisation",
        ),
        (f"/api/v1/organisations/{ORG}/members/nobody", bearer(READER), 404, "no such member"),
        (f"/api/v1/organisations/{ORG}/rounds/r-9", bearer(READER), 404, "no such round"),
    ],
)
async def test_the_read_api_refuses_with_a_clear_message(
    surface: Surface, path: str, headers: dict[str, str], expected: int, detail: str
) -> None:
    answer = await surface.client.get(path, headers=headers)
    assert answer.status_code == expected
    assert answer.json() == {"detail": detail}


async def test_until_the_projection_is_rebuilt_users_and_the_api_answer_503(
    surface: Surface,
) -> None:
    surface.ready.clear()
    assert (await surface.client.get("/healthz")).status_code == 200
    not_ready = await surface.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["ready"] is False
    refused = await surface.client.post(USERS, json=user(), headers=bearer(ADMIN))
    assert refused.status_code == 503
    assert refused.json()["schemas"] == [ERROR_SCHEMA]
    assert refused.headers["Retry-After"] == "5"
    assert (await surface.client.get(f"{API}/members", headers=bearer(READER))).status_code == 503
    config = await surface.client.get("/scim/v2/ServiceProviderConfig")
    assert config.status_code == 200
    assert surface.publisher.published == []
    surface.ready.set()
    assert (await surface.client.get("/readyz")).status_code == 200
    assert "rituals_ready" in (await surface.client.get("/metrics")).text


async def test_a_write_not_yet_shown_by_the_projection_answers_with_what_was_published() -> None:
    runtime = ServiceRuntime(DEFINITION)
    published: list[CloudEvent[Any]] = []

    class RecordingPublisher:
        def publish(self, events: list[CloudEvent[Any]]) -> int:
            published.extend(events)
            return len(events)

        def close(self) -> None:
            pass

    writes = MemberWrites(runtime, RecordingPublisher, visible_within_seconds=0.01)  # type: ignore[arg-type]
    tokens = read_token_list(token_line(ORG, Role.ADMIN, ADMIN))
    app = build_http_app(runtime, writes, tokens, GatewaySettings(), ready=lambda: True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        created = await client.post(USERS, json=user(), headers=bearer(ADMIN))
    assert created.status_code == 201
    assert created.json()["displayName"] == "Bob"
    assert [e.type for e in published] == ["rituals.member.joined"]


async def test_rounds_groups_and_notifications_come_from_the_projection(surface: Surface) -> None:
    rounds = (await surface.client.get(f"{API}/rounds", headers=bearer(READER))).json()["rounds"]
    assert [r["round_id"] for r in rounds] == ["r-2025-10"]
    (group,) = rounds[0]["groups"]
    assert [p["member_id"] for p in group["participants"]] == ["m-1", "m-2"]
    assert group["feedback"] == [{"member_id": "m-1", "met": True, "rating": 4}]
    notices = await surface.client.get(f"{API}/members/m-1/notifications", headers=bearer(READER))
    (notice,) = notices.json()["notifications"]
    assert notice["delivered"] is True


async def test_the_insights_are_the_reports_of_rituals_insights(surface: Surface) -> None:
    """The report over the whole history, but for the count of events read: the gateway keeps
    only what the report reads (no notifications, the latest tick)."""
    whole = project(history(), ORG)
    answer = await surface.client.get(f"{API}/insights", headers=bearer(READER))
    assert answer.status_code == 200
    assert answer.json()["coffee"]["groups"] == 1
    expected = whole.model_copy(update={"events": answer.json()["events"]})
    assert answer.json() == expected.model_dump(mode="json")
    page = await surface.client.get(f"{API}/insights.html", headers=bearer(READER))
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == render(expected, Format.HTML)
    team = await surface.client.get(
        f"{API}/insights", params={"team": "Sales"}, headers=bearer(READER)
    )
    assert team.json()["view"] == "team"
    unknown = await surface.client.get(
        f"{API}/insights", params={"team": "Nope"}, headers=bearer(READER)
    )
    assert unknown.status_code == 404


async def test_a_user_name_cannot_change(surface: Surface) -> None:
    renamed = await surface.client.put(f"{USERS}/m-1", json=user("m-one"), headers=bearer(ADMIN))
    assert renamed.status_code == 400, renamed.text
    assert surface.publisher.published == []
