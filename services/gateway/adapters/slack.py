"""Slack, where people already are: the ``/rituals`` slash command (``/slack/commands``) and
button clicks (``/slack/interactivity``). Every request is verified with the app's signing
secret (slack-sdk's ``SignatureVerifier``: HMAC over the raw body, timestamps older than five
minutes refused): unsigned, stale or wrongly signed requests get 401 and change nothing.

A Slack user is the member with the same e-mail address in the workspace's organisation; the
address comes from Slack's ``users.info`` (a bot token with ``users:read.email``). Nothing a
request carries (user ids, text, tokens) is logged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk.signature import SignatureVerifier

from services.common.domain.directory import Member
from services.common.domain.links import LinkRefusedError, answer_event_id
from services.gateway.adapters.links import OrganisationClock, verified_claim
from services.gateway.adapters.members import MemberWrites
from services.gateway.domain.answers import Unanswerable, answer
from services.gateway.domain.slack_commands import run_command

EmailOf = Callable[[str], Awaitable[str | None]]
"""Slack user id -> their e-mail address (None when Slack does not say)."""
MemberByEmail = Callable[[str, str], Member | None]
"""(organisation, e-mail address) -> the member with that address."""
log = structlog.get_logger("rituals.gateway")


def slack_router(
    signing_secret: str,
    workspaces: Mapping[str, str],
    email_of: EmailOf,
    member_by_email: MemberByEmail,
    writes: MemberWrites,
    link_key: bytes | None,
    max_body_bytes: int,
    clock: OrganisationClock,
) -> APIRouter:
    """``workspaces``: Slack team id -> organisation."""
    verifier = SignatureVerifier(signing_secret)
    router = APIRouter(include_in_schema=False)

    async def verified_form(request: Request) -> dict[str, str] | Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > max_body_bytes:
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = await request.body()
        if len(body) > max_body_bytes:
            return JSONResponse({"error": "body too large"}, status_code=413)
        timestamp = request.headers.get("x-slack-request-timestamp")
        signature = request.headers.get("x-slack-signature")
        # slack-sdk raises on a timestamp that is not a number: such a request is unsigned too.
        well_formed = timestamp is not None and timestamp.isascii() and timestamp.isdigit()
        if not well_formed or not verifier.is_valid(body, timestamp, signature):
            log.info("slack request refused", reason="signature")
            return JSONResponse({"error": "invalid or stale signature"}, status_code=401)
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError:
            return JSONResponse({"error": "malformed form"}, status_code=400)
        return {name: values[0] for name, values in fields.items()}

    async def member_of(team_id: str, user_id: str) -> tuple[str, Member] | None:
        organisation = workspaces.get(team_id)
        if organisation is None or not user_id:
            return None
        address = await email_of(user_id)
        member = member_by_email(organisation, address) if address else None
        return (organisation, member) if member is not None else None

    @router.post("/slack/commands")
    async def command(request: Request) -> Response:
        form = await verified_form(request)
        if isinstance(form, Response):
            return form
        found = await member_of(form.get("team_id", ""), form.get("user_id", ""))
        if found is None:
            return _ephemeral("Rituals does not know you: ask your administrator.")
        organisation, member = found
        at = clock(organisation)
        outcome = run_command(form.get("text", ""), member, at.date())
        if outcome.events:
            async with writes.lock:
                await writes.publish(organisation, outcome.events, at)
        log.info("slack command", events=len(outcome.events))
        return _ephemeral(outcome.reply)

    @router.post("/slack/interactivity")
    async def interactivity(request: Request) -> Response:
        form = await verified_form(request)
        if isinstance(form, Response):
            return form
        try:
            payload = json.loads(form["payload"])
            team_id, user_id = payload["team"]["id"], payload["user"]["id"]
            values = [action.get("value") for action in payload.get("actions", [])]
        except (KeyError, TypeError, ValueError, AttributeError):
            return JSONResponse({"error": "malformed payload"}, status_code=400)
        found = await member_of(str(team_id), str(user_id))
        answered = 0
        if found is not None and link_key is not None:
            for value in values:
                if isinstance(value, str):
                    answered += await _answer_button(value, found, link_key, writes, clock)
        log.info("slack interaction", answered=answered)
        return Response(status_code=200)  # Slack only needs the acknowledgement

    return router


async def _answer_button(
    token: str,
    found: tuple[str, Member],
    link_key: bytes,
    writes: MemberWrites,
    clock: OrganisationClock,
) -> int:
    """A button carrying an answer link's token answers it, when it is the clicker's own."""
    organisation, member = found
    try:
        claim = verified_claim(token, link_key, clock)
    except LinkRefusedError:
        return 0
    if (claim.organisation, claim.member_id) != (organisation, member.member_id):
        return 0
    at = clock(organisation)
    payload = answer(claim, member, at.date())
    if isinstance(payload, Unanswerable):
        return 0
    published = await writes.publish_once(
        organisation, payload, answer_event_id(token), member.member_id, at
    )
    return int(published)


def _ephemeral(text: str) -> JSONResponse:
    reply: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    return JSONResponse(reply)


SLACK_USERS_INFO = "https://slack.com/api/users.info"


def slack_email_lookup(bot_token: str, client: httpx.AsyncClient | None = None) -> EmailOf:
    """E-mail addresses from Slack's ``users.info`` (kept for the process's life: a user's
    address rarely changes, and each lookup is an API call). A failed lookup is not kept."""
    http = client or httpx.AsyncClient(timeout=10)
    known: dict[str, str] = {}

    async def email_of(user_id: str) -> str | None:
        if user_id not in known:
            try:
                answer = await http.get(
                    SLACK_USERS_INFO,
                    params={"user": user_id},
                    headers={"Authorization": f"Bearer {bot_token}"},
                )
                found = answer.json()
                address = found["user"]["profile"]["email"] if found.get("ok") else None
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                address = None
            if not isinstance(address, str):
                log.warning("slack user lookup failed")
                return None
            known[user_id] = address
        return known[user_id]

    return email_of
