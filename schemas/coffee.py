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


SuggestionReason = Literal["quiet", "new_hire_few_connections", "only_own_team"]
"""Why someone needs a new connection most (see ``PairingSuggestion.why``)."""


class NewHireConnections(ValueObject):
    """A new hire of the team and how many people they have met in coffee rounds."""

    member_id: Identifier = Field(description="The new hire.")
    people_met: int = Field(ge=0, description="Distinct people met in coffees that happened.")


class PairingSuggestion(ValueObject):
    """Someone of the team the round paired with a person from another team, and why it was
    needed."""

    member_id: Identifier = Field(description="The team's member.")
    partner_id: Identifier = Field(description="Whom the round pairs them with.")
    partner_team: Label = Field(description="The partner's team.")
    why: SuggestionReason = Field(
        description="quiet: no coffee for several rounds; new_hire_few_connections: a new hire "
        "who has met few people; only_own_team: has met nobody outside the team."
    )


class CoffeeTeamDigestCompiled(EventPayload):
    """A team's weekly figures for its lead (the manager of most of the team), compiled when a
    whole-organisation round was matched. Names only the team's own members; the notifier
    tells the lead alone."""

    event_type: ClassVar[str] = "rituals.coffee.team_digest_compiled"

    round_id: Identifier = Field(description="The round the figures are of.")
    team: Label = Field(description="The team.")
    lead_id: Identifier = Field(description="The team's lead: the digest's only recipient.")
    active: int = Field(ge=0, description="The team's members taking part in the round's week.")
    participants: int = Field(ge=0, description="Of them, placed in a group this round.")
    quiet_rounds: int = Field(ge=1, description="Rounds without a coffee that make someone quiet.")
    quiet: tuple[Identifier, ...] = Field(
        default=(), description="The team's members without a coffee for quiet_rounds or more."
    )
    new_hires: tuple[NewHireConnections, ...] = Field(
        default=(), description="The team's new hires and the people they have met."
    )
    suggestions: tuple[PairingSuggestion, ...] = Field(
        default=(), max_length=2, description="What this round does about it (at most two)."
    )
    pulse_week: date | None = Field(
        default=None, description="Monday of the week of the pulse figures (the week before)."
    )
    pulse_answers: int = Field(
        default=0, ge=0, description="Pulse answers of the team's members in pulse_week."
    )
    pulse_mean: float | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Mean pulse score of those answers; null below 5 answers (no answer can be "
        "traced to a person).",
    )
    rituals_held: int = Field(
        default=0, ge=0, description="Occurrences of the team's rituals held in the week before."
    )
    ritual_attended: int = Field(
        default=0, ge=0, description="Team members who attended them, summed over occurrences."
    )
    ritual_invited: int = Field(
        default=0, ge=0, description="Team members invited to them, summed over occurrences."
    )


class CoffeeFeedbackGiven(EventPayload):
    """A participant said whether the coffee happened and how it was."""

    event_type: ClassVar[str] = "rituals.coffee.feedback_given"

    round_id: Identifier = Field(description="The round.")
    group_id: Identifier = Field(description="The group.")
    member_id: Identifier = Field(description="Who gives the feedback.")
    met: bool = Field(description="Whether the meeting took place.")
    rating: int | None = Field(default=None, ge=1, le=5, description="1 (poor) to 5 (great).")
