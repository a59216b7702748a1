"""The read API (``/api/v1``): members and their status, coffee rounds and groups, a member's
notifications, the insights (JSON, and the HTML page). Every route is scoped to the organisation
in its path, which must be the bearer token's; the answers come from the gateway's projection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from services.common.domain.directory import Member, MemberStatus
from services.gateway.domain.activity import Notification, Round
from services.gateway.domain.tokens import Grant, TokenBook, bearer_token
from services.gateway.handlers import GatewayProcessor
from services.insights.domain import project
from services.insights.domain.model import Insights
from services.insights.render import Format, render

ORG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
OrgId = Annotated[str, Path(pattern=ORG_PATTERN, max_length=128, description="Organisation id.")]
Id = Annotated[str, Path(pattern=ORG_PATTERN, max_length=128)]


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong.")


class MemberView(BaseModel):
    member_id: str
    display_name: str
    email: str
    team: str
    department: str
    manager_id: str | None
    timezone: str
    languages: list[str]
    status: MemberStatus
    paused_until: date | None
    joined_at: datetime


class MemberList(BaseModel):
    members: list[MemberView]


class ParticipantView(BaseModel):
    member_id: str
    timezone: str
    local_start: str


class FeedbackView(BaseModel):
    member_id: str
    met: bool
    rating: int | None


class GroupView(BaseModel):
    group_id: str
    participants: list[ParticipantView]
    mode: str
    office: str | None
    slot_start: datetime
    slot_minutes: int
    feedback: list[FeedbackView]


class RoundView(BaseModel):
    round_id: str
    requested_at: datetime
    week_starting: date
    completed: bool
    groups: list[GroupView]
    unmatched: list[str]


class RoundList(BaseModel):
    rounds: list[RoundView]


class NotificationView(BaseModel):
    notification_id: str
    source_event_id: str
    channel: str
    template: str | None
    delivered: bool
    time: datetime
    reason: str | None


class NotificationList(BaseModel):
    notifications: list[NotificationView]


UNAUTHORISED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
    503: {"model": ErrorBody},
}


def authorised(
    request: Request, org: OrgId, authorization: Annotated[str | None, Header()] = None
) -> Grant:
    """The grant of the request's bearer token, which must be the path's organisation's (the
    token list is the app's ``state.tokens``); 503 until the projection is rebuilt (the app's
    ``state.ready``)."""
    tokens: TokenBook = request.app.state.tokens
    token = bearer_token(authorization)
    found = None if token is None else tokens.grant(token)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if found.org != org:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the token is for another organisation")
    if not request.app.state.ready():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the gateway is rebuilding its state; retry shortly",
            headers={"Retry-After": "5"},
        )
    return found


GrantOf = Annotated[Grant, Depends(authorised)]


def read_api(processor: Callable[[str], GatewayProcessor]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=UNAUTHORISED)

    @router.get("/organisations/{org}/members", response_model=MemberList)
    def members(org: OrgId, granted: GrantOf) -> MemberList:
        """Every member the organisation has had, with their status (left members included)."""
        found = processor(granted.org).directory.members(granted.org)
        return MemberList(members=[_member_view(member) for member in found])

    @router.get(
        "/organisations/{org}/members/{member_id}",
        response_model=MemberView,
        responses={404: {"model": ErrorBody}},
    )
    def member(org: OrgId, member_id: Id, granted: GrantOf) -> MemberView:
        found = processor(granted.org).directory.member(granted.org, member_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
        return _member_view(found)

    @router.get(
        "/organisations/{org}/members/{member_id}/notifications",
        response_model=NotificationList,
        responses={404: {"model": ErrorBody}},
    )
    def notifications(org: OrgId, member_id: Id, granted: GrantOf) -> NotificationList:
        """The member's latest notifications (delivered or failed), latest first."""
        state = processor(granted.org)
        if state.directory.member(granted.org, member_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member")
        found = state.activity.notifications(granted.org, member_id)
        return NotificationList(notifications=[_notification_view(n) for n in found])

    @router.get("/organisations/{org}/rounds", response_model=RoundList)
    def rounds(org: OrgId, granted: GrantOf) -> RoundList:
        """The organisation's coffee rounds, latest first, with their groups."""
        found = processor(granted.org).activity.rounds(granted.org)
        return RoundList(rounds=[_round_view(r) for r in found])

    @router.get(
        "/organisations/{org}/rounds/{round_id}",
        response_model=RoundView,
        responses={404: {"model": ErrorBody}},
    )
    def round_(org: OrgId, round_id: Id, granted: GrantOf) -> RoundView:
        found = processor(granted.org).activity.round(granted.org, round_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such round")
        return _round_view(found)

    @router.get(
        "/organisations/{org}/insights",
        response_model=Insights,
        responses={404: {"model": ErrorBody}},
    )
    async def insights(org: OrgId, granted: GrantOf, team: TeamQuery = None) -> Insights:
        """The connection insights (as `rituals insights --format json`): of the organisation
        (aggregates), or of one team (with names, for its lead)."""
        return await _insights(processor(granted.org), granted.org, team)

    @router.get(
        "/organisations/{org}/insights.html",
        # Errors are JSON, as on every route: only the page itself is HTML.
        responses={
            200: {"content": {"text/html": {"schema": {"type": "string"}}}},
            404: {"model": ErrorBody},
        },
    )
    async def insights_page(org: OrgId, granted: GrantOf, team: TeamQuery = None) -> HTMLResponse:
        """The insights as one self-contained HTML page, computed when asked."""
        report = await _insights(processor(granted.org), granted.org, team)
        return HTMLResponse(render(report, Format.HTML))

    return router


TeamQuery = Annotated[str | None, Query(max_length=200, description="One team's view, with names.")]


async def _insights(state: GatewayProcessor, org: str, team: str | None) -> Insights:
    """The report over the projection's events, computed in a thread (it is seconds of CPU for
    a large organisation; the consumer and other requests go on meanwhile)."""
    events = state.insights.events(org)
    report = await asyncio.to_thread(project, events, org, team=team)
    if team is not None and team not in report.teams:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such team")
    return report


def _member_view(member: Member) -> MemberView:
    profile = member.profile
    return MemberView(
        member_id=profile.member_id,
        display_name=profile.display_name,
        email=profile.email,
        team=profile.team,
        department=profile.department,
        manager_id=profile.manager_id,
        timezone=profile.timezone,
        languages=list(profile.languages),
        status=member.status,
        paused_until=member.paused_until,
        joined_at=member.joined_at,
    )


def _round_view(found: Round) -> RoundView:
    return RoundView(
        round_id=found.round_id,
        requested_at=found.requested_at,
        week_starting=found.week_starting,
        completed=found.completed is not None,
        unmatched=list(found.unmatched),
        groups=[
            GroupView(
                group_id=group.group_id,
                participants=[
                    ParticipantView(
                        member_id=p.member_id, timezone=p.timezone, local_start=p.local_start
                    )
                    for p in group.participants
                ],
                mode=str(group.mode),
                office=group.office,
                slot_start=group.slot_start,
                slot_minutes=group.slot_minutes,
                feedback=[
                    FeedbackView(member_id=f.member_id, met=f.met, rating=f.rating)
                    for (group_id, _), f in found.feedback.items()
                    if group_id == group.group_id
                ],
            )
            for group in found.groups.values()
        ],
    )


def _notification_view(notification: Notification) -> NotificationView:
    return NotificationView(
        notification_id=notification.notification_id,
        source_event_id=notification.source_event_id,
        channel=notification.channel,
        template=notification.template,
        delivered=notification.delivered,
        time=notification.time,
        reason=notification.reason,
    )
