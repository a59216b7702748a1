"""One-click links over HTTP: ``GET /links/{token}`` shows the question, ``POST`` answers it
(publishes the event once); ``/unsubscribe/{token}`` is the same for the opt-out link that
e-mails name in ``List-Unsubscribe`` (RFC 8058: its one-click POST opts out). The token is
never logged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.common.domain.directory import Member
from services.common.domain.links import (
    LinkAction,
    LinkClaim,
    LinkRefusedError,
    answer_event_id,
    read_link,
    unverified_claim,
)
from services.gateway.adapters.members import MemberWrites
from services.gateway.domain.answers import Unanswerable, answer
from services.gateway.domain.link_pages import (
    DEFAULT_LANGUAGE,
    confirm_page,
    done_page,
    page_language,
    refused_page,
)

REFUSAL_STATUS = {
    "malformed": 400,
    "tampered": 400,
    "expired": 410,
    "unknown_member": 404,
    "not_configured": 404,
}
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
log = structlog.get_logger("rituals.gateway")

MemberLookup = Callable[[str, str], Member | None]
"""(organisation, member id) -> the member as the projection knows them."""
OrganisationClock = Callable[[str], datetime]
"""organisation -> its domain time now: what a link's expiry is judged by and an answer is
dated at, so that a simulated organisation's links work in its own weeks."""


def verified_claim(token: str, link_key: bytes, clock: OrganisationClock) -> LinkClaim:
    """The claim of a genuine link, unexpired by its organisation's clock; LinkRefusedError
    otherwise."""
    return read_link(token, link_key, clock(unverified_claim(token).organisation))


def links_router(
    link_key: bytes | None,
    find_member: MemberLookup,
    writes: MemberWrites,
    clock: OrganisationClock,
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def claim_or_refusal(
        token: str, request: Request, only: LinkAction | None
    ) -> tuple[LinkClaim, Member, str] | HTMLResponse:
        browser_language = page_language(_accepted_languages(request))
        if link_key is None:
            return _refused(browser_language, "not_configured")
        try:
            claim = verified_claim(token, link_key, clock)
        except LinkRefusedError as refused:
            return _refused(browser_language, refused.reason)
        if only is not None and claim.action is not only:
            return _refused(browser_language, "malformed")
        member = find_member(claim.organisation, claim.member_id)
        if member is None:
            return _refused(browser_language, "unknown_member")
        return claim, member, page_language(member.profile.languages)

    async def show(token: str, request: Request, only: LinkAction | None) -> HTMLResponse:
        checked = claim_or_refusal(token, request, only)
        if isinstance(checked, HTMLResponse):
            return checked
        claim, _, language = checked
        page = confirm_page(language, claim.action, claim.rating, request.url.path)
        return HTMLResponse(page, headers=PAGE_HEADERS)

    async def act(token: str, request: Request, only: LinkAction | None) -> HTMLResponse:
        checked = claim_or_refusal(token, request, only)
        if isinstance(checked, HTMLResponse):
            return checked
        claim, member, language = checked
        at = clock(claim.organisation)
        payload = answer(claim, member, at.date())
        if isinstance(payload, Unanswerable):
            return _refused(language, payload.reason)
        published = await writes.publish_once(
            claim.organisation, payload, answer_event_id(token), claim.member_id, at
        )
        log.info("link answered", action=claim.action.value, published=published)
        return HTMLResponse(done_page(language), headers=PAGE_HEADERS)

    @router.get("/links/{token}")
    async def show_link(token: str, request: Request) -> HTMLResponse:
        return await show(token, request, None)

    @router.post("/links/{token}")
    async def answer_link(token: str, request: Request) -> HTMLResponse:
        return await act(token, request, None)

    @router.get("/unsubscribe/{token}")
    async def show_unsubscribe(token: str, request: Request) -> HTMLResponse:
        return await show(token, request, LinkAction.OPT_OUT)

    @router.post("/unsubscribe/{token}")
    async def unsubscribe(token: str, request: Request) -> HTMLResponse:
        return await act(token, request, LinkAction.OPT_OUT)

    return router


def _refused(language: str, reason: str) -> HTMLResponse:
    log.info("link refused", reason=reason)
    return HTMLResponse(
        refused_page(language, reason), status_code=REFUSAL_STATUS[reason], headers=PAGE_HEADERS
    )


def _accepted_languages(request: Request) -> list[str]:
    header = request.headers.get("accept-language", DEFAULT_LANGUAGE)[:200]
    return [part.split(";")[0].strip() for part in header.split(",")]
