"""Team ritual events (topic ``rituals.rituals``): recurring moments to meet the person behind
the work (Monday check-in, Friday drinks, shared lunch, daily call)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from schemas.base import EventPayload, Identifier, Label, TimeZoneName
from schemas.recurrence import parse_recurrence
from schemas.text import ShortText

RitualKind = Literal["checkin", "drinks", "lunch", "daily", "other"]


class RitualScheduled(EventPayload):
    """A team's recurring ritual was scheduled (or rescheduled: same ritual id)."""

    event_type: ClassVar[str] = "rituals.ritual.scheduled"

    ritual_id: Identifier = Field(description="Id of the ritual.")
    team: Label = Field(description="The team it belongs to.")
    title: Label = Field(description="What it is called, e.g. 'Friday drinks'.")
    kind: RitualKind = Field(default="other", description="What kind of ritual it is.")
    rrule: str = Field(
        min_length=1,
        description=(
            "RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=FR: at most daily (FREQ=DAILY, "
            "WEEKLY, MONTHLY or YEARLY), firing at least once within a year of the first start; "
            "UNTIL in UTC (...Z), local (floating) or a date (to the end of that local day)."
        ),
    )
    timezone: TimeZoneName = Field(description="Time zone the recurrence is expressed in.")
    first_start: datetime = Field(
        description=(
            "Local start of the first occurrence (no offset), a time that exists in the zone; an "
            "ambiguous one (clocks go back) is the first of the two."
        )
    )
    duration_minutes: int = Field(default=30, ge=5, le=480, description="Length of an occurrence.")
    online_url: str | None = Field(default=None, description="Link for online occurrences.")
    office: Label | None = Field(default=None, description="Office for in-person occurrences.")
    remind_minutes_before: int = Field(
        default=60, ge=0, le=10080, description="When the notifier sends the reminder."
    )

    @model_validator(mode="after")
    def _recurrence_allowed(self) -> Self:
        """One rule for what a ritual may be (``schemas.recurrence``): a record with any other
        rule is refused where it is decoded, so no service ever expands it."""
        parse_recurrence(self.rrule, self.first_start, self.timezone)
        return self


class RitualHeld(EventPayload):
    """One occurrence of a ritual took place; who attended."""

    event_type: ClassVar[str] = "rituals.ritual.held"

    ritual_id: Identifier = Field(description="The ritual.")
    occurrence_start: AwareDatetime = Field(description="Start of the occurrence.")
    attendee_ids: tuple[Identifier, ...] = Field(default=(), description="Members who attended.")


class RitualCancelled(EventPayload):
    """A ritual was cancelled: one occurrence, or the whole series."""

    event_type: ClassVar[str] = "rituals.ritual.cancelled"

    ritual_id: Identifier = Field(description="The ritual.")
    occurrence_start: AwareDatetime | None = Field(
        default=None, description="The cancelled occurrence; none cancels the whole series."
    )
    reason: ShortText = Field(default="", description="Why, for the participants.")


class RitualRsvpGiven(EventPayload):
    """A member said they will be at an occurrence of a ritual (from a link in its reminder)."""

    event_type: ClassVar[str] = "rituals.ritual.rsvp_given"

    ritual_id: Identifier = Field(description="The ritual.")
    occurrence_start: AwareDatetime = Field(description="Start of the occurrence.")
    member_id: Identifier = Field(description="The member who will be there.")


class RitualAttendanceConfirmed(EventPayload):
    """A member confirmed they attended an occurrence of a ritual."""

    event_type: ClassVar[str] = "rituals.ritual.attendance_confirmed"

    ritual_id: Identifier = Field(description="The ritual.")
    occurrence_start: AwareDatetime = Field(description="Start of the occurrence.")
    member_id: Identifier = Field(description="The member who attended.")
