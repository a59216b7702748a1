"""What a one-click link's answer means: the event it publishes, decided from the signed claim
and the member as the gateway's projection knows them. Pure: the day is given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pydantic import ValidationError

from schemas.base import EventPayload
from schemas.coffee import CoffeeFeedbackGiven
from schemas.members import MemberOptedOut, MemberPaused
from schemas.pulse import PulseAnswered
from schemas.rituals import RitualAttendanceConfirmed, RitualRsvpGiven
from services.common.domain.directory import Member, MemberStatus
from services.common.domain.links import SUBJECT_SEPARATOR, LinkAction, LinkClaim

PAUSE_LENGTH = timedelta(weeks=2)


@dataclass(frozen=True)
class Unanswerable:
    """Why a genuine link cannot be answered (said to the person, 4xx)."""

    reason: str  # "unknown_member" | "malformed"


def answer(claim: LinkClaim, member: Member | None, today: date) -> EventPayload | Unanswerable:
    """The event a confirmed link publishes. A member who left (or was erased, or never was in
    the organisation) cannot answer."""
    if member is None or member.status is MemberStatus.LEFT or member.profile.erased:
        return Unanswerable("unknown_member")
    first, _, second = claim.subject.partition(SUBJECT_SEPARATOR)
    try:
        return _payload(claim, first, second, today)
    except ValidationError:
        return Unanswerable("malformed")


def _payload(claim: LinkClaim, first: str, second: str, today: date) -> EventPayload:
    member_id = claim.member_id
    match claim.action:
        case LinkAction.MET | LinkAction.NOT_MET | LinkAction.RATE:
            met = claim.action is not LinkAction.NOT_MET
            return CoffeeFeedbackGiven(
                round_id=first, group_id=second, member_id=member_id, met=met, rating=claim.rating
            )
        case LinkAction.RSVP:
            return RitualRsvpGiven(
                ritual_id=first,
                occurrence_start=second,
                member_id=member_id,
            )
        case LinkAction.ATTENDED:
            return RitualAttendanceConfirmed(
                ritual_id=first,
                occurrence_start=second,
                member_id=member_id,
            )
        case LinkAction.PAUSE:
            return MemberPaused(member_id=member_id, until=today + PAUSE_LENGTH)
        case LinkAction.OPT_OUT:
            return MemberOptedOut(member_id=member_id)
        case LinkAction.PULSE:
            return PulseAnswered.model_validate(
                {"week_starting": claim.subject, "member_id": member_id, "score": claim.rating}
            )
