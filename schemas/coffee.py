"""Coffee events (topic ``rituals.coffee``): rounds that pair colleagues for a conversation."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from schemas.base import EventPayload, Identifier, Label, TimeZoneName, ValueObject

MeetingMode = Literal["in_person", "video"]
"""How a group meets: at the office on a shared office day, or by video."""


class CoffeeRoundRequested(EventPayload):
    """Start a coffee round for an organisation (by its cadence scheduler or by hand)."""

    event_type: ClassVar[str] = "rituals.coffee.round_requested"

    round_id: Identifier = Field(description="Id of the round; also the seed of its randomness.")
    week_starting: date = Field(description="Monday of the week the meetings should happen in.")
    group_size: int = Field(default=2, ge=2, le=4, description="People per group.")
    team: Label | None = Field(default=None, description="Only members of this team take part.")
    department: Label | None = Field(
        default=None, description="Only members of this department take part."
    )
    programme: Identifier | None = Field(
        default=None, description="Opt-in programme the round is for, if any."
    )


class Participant(ValueObject):
    """One member of a coffee group, with the slot in their own time."""

    member_id: Identifier = Field(description="The member.")
    timezone: TimeZoneName = Field(description="The member's time zone.")
    local_start: str = Field(
        description="Start of the suggested slot in the member's local time (ISO 8601 with offset)."
    )


class CoffeeMatched(EventPayload):
    """A group of colleagues was matched for coffee in a round."""

    event_type: ClassVar[str] = "rituals.coffee.matched"

    round_id: Identifier = Field(description="The round.")
    group_id: Identifier = Field(description="Id of the group, unique in the round.")
    participants: tuple[Participant, ...] = Field(
        min_length=2, description="The members of the group."
    )
    mode: MeetingMode = Field(description="In person at an office, or by video.")
    office: Label | None = Field(default=None, description="Where to meet, when in person.")
    slot_start: AwareDatetime = Field(description="Suggested start, in UTC.")
    slot_minutes: int = Field(default=30, ge=5, le=240, description="Suggested length.")
    reasons: tuple[str, ...] = Field(
        default=(), description="Why this group, in words a person understands."
    )
    conversation_starter: str = Field(default="", description="A question to break the ice.")
    score: float = Field(description="The matcher's score of the group (higher is better).")


class CoffeeUnmatched(EventPayload):
    """A member of a round could not be placed in any group."""

    event_type: ClassVar[str] = "rituals.coffee.unmatched"

    round_id: Identifier = Field(description="The round.")
    member_id: Identifier = Field(description="The member who was not placed.")
    reason: str = Field(description="Why, in words a person understands.")


class CoffeeRoundCompleted(EventPayload):
    """A round's groups were all published; its statistics."""

    event_type: ClassVar[str] = "rituals.coffee.round_completed"

    round_id: Identifier = Field(description="The round.")
    participants: int = Field(ge=0, description="Members who took part.")
    groups: int = Field(ge=0, description="Groups formed.")
    trios: int = Field(ge=0, description="Groups of three formed because of an odd count.")
    unmatched: int = Field(ge=0, description="Members who could not be placed.")
    cross_team_share: float = Field(ge=0, le=1, description="Share of pairs across teams.")
    first_time_share: float = Field(ge=0, le=1, description="Share of pairs that never met before.")
    mean_score: float = Field(description="Mean score of the groups.")


class CoffeeFeedbackGiven(EventPayload):
    """A participant said whether the coffee happened and how it was."""

    event_type: ClassVar[str] = "rituals.coffee.feedback_given"

    round_id: Identifier = Field(description="The round.")
    group_id: Identifier = Field(description="The group.")
    member_id: Identifier = Field(description="Who gives the feedback.")
    met: bool = Field(description="Whether the meeting took place.")
    rating: int | None = Field(default=None, ge=1, le=5, description="1 (poor) to 5 (great).")
