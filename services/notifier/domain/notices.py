"""What the platform has to tell whom: one notice per (source event, recipient), one delivery per
notice and channel.

Identifiers are the deduplication keys. A notification id is ``<notice id>/<channel>`` and a
notice id is ``<source event id>/<recipient id>``, except for ritual reminders, which are about
one occurrence rather than one event: ``<org>:<ritual id>@<occurrence UTC>/<recipient id>``, so
that rescheduling a ritual (a new event) does not remind anybody twice of the same occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas import CloudEvent
from schemas.base import Channel
from schemas.coffee import CoffeeMatched, CoffeeTeamDigestCompiled, CoffeeUnmatched
from schemas.members import MemberProfile
from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue
from schemas.pulse import PulseAsked
from schemas.rituals import RitualCancelled, RitualScheduled
from services.notifier.domain.rituals import RitualPlan


class Template(StrEnum):
    """The messages the notifier knows; each language has a text for every one of them."""

    COFFEE_MATCHED = "coffee.matched"
    COFFEE_UNMATCHED = "coffee.unmatched"
    BUDDY_ASSIGNED_NEW_HIRE = "onboarding.buddy_assigned.new_hire"
    BUDDY_ASSIGNED_BUDDY = "onboarding.buddy_assigned.buddy"
    BUDDY_REASSIGNED_NEW_HIRE = "onboarding.buddy_reassigned.new_hire"
    BUDDY_REASSIGNED_BUDDY = "onboarding.buddy_reassigned.buddy"
    CHECKIN_DUE = "onboarding.checkin_due"
    RITUAL_REMINDER = "ritual.reminder"
    RITUAL_INVITATION = "ritual.invitation"
    RITUAL_OCCURRENCE_CANCELLED = "ritual.occurrence_cancelled"
    RITUAL_SERIES_CANCELLED = "ritual.series_cancelled"
    TEAM_DIGEST = "coffee.team_digest"
    PULSE = "pulse.asked"


@dataclass(frozen=True)
class Notice:
    """One recipient has to hear about one source event (or one ritual occurrence)."""

    notice_id: str
    source: CloudEvent[Any]
    recipient_id: str
    template: Template
    occurrence: datetime | None = None
    """Start of the ritual occurrence a reminder is about (UTC)."""
    expires_at: datetime | None = None
    """After this moment the notice is pointless (a reminder once the occurrence started)."""
    series: RitualPlan | None = None
    """For a team ritual's calendar invitation: the series as it stood after the change."""

    @property
    def org_id(self) -> str:
        return self.source.orgid

    def notification_id(self, channel: Channel) -> str:
        return f"{self.notice_id}/{channel}"


USEFUL_FOR: Mapping[Template, timedelta] = {
    Template.COFFEE_MATCHED: timedelta(days=7),
    Template.COFFEE_UNMATCHED: timedelta(days=7),
    Template.BUDDY_ASSIGNED_NEW_HIRE: timedelta(days=14),
    Template.BUDDY_ASSIGNED_BUDDY: timedelta(days=14),
    Template.BUDDY_REASSIGNED_NEW_HIRE: timedelta(days=14),
    Template.BUDDY_REASSIGNED_BUDDY: timedelta(days=14),
    Template.CHECKIN_DUE: timedelta(days=3),
    Template.RITUAL_INVITATION: timedelta(days=14),
    Template.RITUAL_SERIES_CANCELLED: timedelta(days=14),
    Template.TEAM_DIGEST: timedelta(days=7),
    Template.PULSE: timedelta(days=3),
}
"""How long after its source event a message is still worth delivering (a coffee match stays
useful for its week; a check-in reminder for a few days). A ritual reminder, or the cancellation
of one occurrence: until the occurrence starts."""


def due_from(notice: Notice) -> datetime:
    """When the notice is due, before quiet hours: a reminder at its reminder moment, any other
    notice when its source event happened."""
    data = notice.source.data
    if notice.occurrence is not None and isinstance(data, RitualScheduled):
        return notice.occurrence - timedelta(minutes=data.remind_minutes_before)
    return notice.source.time


def useful_until(notice: Notice) -> datetime:
    """The domain time after which the notice is no longer delivered (retries stop there)."""
    if notice.occurrence is not None:
        return notice.occurrence
    return notice.source.time + USEFUL_FOR[notice.template]


def notice_id_of(notification_id: str) -> str:
    """The notice a notification id belongs to (channel names hold no slash)."""
    return notification_id.rsplit("/", 1)[0]


def _notice(event: CloudEvent[Any], recipient_id: str, template: Template) -> Notice:
    return Notice(
        notice_id=f"{event.id}/{recipient_id}",
        source=event,
        recipient_id=recipient_id,
        template=template,
    )


def notices_for(event: CloudEvent[Any]) -> list[Notice]:
    """The notices a coffee, onboarding or pulse event makes (a team digest: to the lead only); none
    for any other event."""
    match event.data:
        case CoffeeMatched(participants=participants):
            return [_notice(event, p.member_id, Template.COFFEE_MATCHED) for p in participants]
        case CoffeeUnmatched(member_id=member_id):
            return [_notice(event, member_id, Template.COFFEE_UNMATCHED)]
        case CoffeeTeamDigestCompiled(lead_id=lead):
            return [_notice(event, lead, Template.TEAM_DIGEST)]
        case PulseAsked(member_id=member_id):
            return [_notice(event, member_id, Template.PULSE)]
        case BuddyAssigned(new_hire_id=new_hire, buddy_id=buddy):
            return [
                _notice(event, new_hire, Template.BUDDY_ASSIGNED_NEW_HIRE),
                _notice(event, buddy, Template.BUDDY_ASSIGNED_BUDDY),
            ]
        case BuddyReassigned(new_hire_id=new_hire, buddy_id=buddy):
            return [
                _notice(event, new_hire, Template.BUDDY_REASSIGNED_NEW_HIRE),
                _notice(event, buddy, Template.BUDDY_REASSIGNED_BUDDY),
            ]
        case CheckinDue(new_hire_id=new_hire, buddy_id=buddy):
            return [
                _notice(event, new_hire, Template.CHECKIN_DUE),
                _notice(event, buddy, Template.CHECKIN_DUE),
            ]
    return []


def reminder_notice(
    scheduled: CloudEvent[Any], ritual_id: str, occurrence: datetime, recipient_id: str
) -> Notice:
    start = occurrence.astimezone(UTC)
    return Notice(
        notice_id=f"{scheduled.orgid}:{ritual_id}@{start:%Y%m%dT%H%M%SZ}/{recipient_id}",
        source=scheduled,
        recipient_id=recipient_id,
        template=Template.RITUAL_REMINDER,
        occurrence=start,
        expires_at=start,
    )


def series_notice(
    plan: RitualPlan, ritual_id: str, cause: CloudEvent[Any], recipient_id: str
) -> Notice:
    """A team member's calendar invitation to a ritual's series after a change (``cause``: its
    schedule, a cancellation, or the member's joining the team). One per version of the series
    and recipient: the id holds the series' sequence, so a member who joins the team later gets
    the version of that moment."""
    occurrence = None
    template = Template.RITUAL_INVITATION
    if plan.series_cancelled:
        template = Template.RITUAL_SERIES_CANCELLED
    elif isinstance(cause.data, RitualCancelled) and cause.data.occurrence_start is not None:
        template = Template.RITUAL_OCCURRENCE_CANCELLED
        occurrence = cause.data.occurrence_start.astimezone(UTC)
    return Notice(
        notice_id=f"{cause.orgid}:{ritual_id}#{plan.sequence}/{recipient_id}",
        source=cause,
        recipient_id=recipient_id,
        template=template,
        occurrence=occurrence,
        expires_at=occurrence,
        series=plan,
    )


def people_named(notice: Notice) -> Iterator[str]:
    """Member ids a notice's message names (the recipient included)."""
    match notice.source.data:
        case CoffeeMatched(participants=participants):
            yield from (p.member_id for p in participants)
        case BuddyAssigned() | BuddyReassigned() | CheckinDue() as payload:
            yield payload.new_hire_id
            yield payload.buddy_id
        case CoffeeTeamDigestCompiled() as digest:
            yield from digest.quiet
            yield from (hire.member_id for hire in digest.new_hires)
            for suggestion in digest.suggestions:
                yield suggestion.member_id
                yield suggestion.partner_id
    yield notice.recipient_id


@dataclass(frozen=True)
class Delivery:
    """A notice ready to go out through one channel, with what rendering it needs."""

    notice: Notice
    channel: Channel
    recipient: MemberProfile
    language: str
    people: Mapping[str, MemberProfile]
    """Profiles of the members the message names, by id (unknown ones are missing)."""

    @property
    def notification_id(self) -> str:
        return self.notice.notification_id(self.channel)
