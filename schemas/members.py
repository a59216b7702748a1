"""Member events (topic ``rituals.members``): who takes part in an organisation's programme."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import Field

from schemas.base import (
    Channel,
    EmailAddress,
    EventPayload,
    Identifier,
    Label,
    LanguageCode,
    TimeZoneName,
    Weekday,
    WorkingHours,
)
from schemas.text import PersonName


class MemberProfile(EventPayload):
    """Everything the platform knows of a member. Name, e-mail and the other fields in
    ``schemas.sealing.PERSONAL_FIELDS`` are personal data: never logged, only used to address
    the member, and sealed with the member's key on the log (version 2)."""

    member_id: Identifier = Field(description="The member's id, unique in the organisation.")
    display_name: PersonName = Field(description="Name shown to others.")
    email: EmailAddress = Field(description="Work e-mail address.")
    team: Label = Field(description="The team the member works in.")
    department: Label = Field(description="The department the team belongs to.")
    manager_id: Identifier | None = Field(default=None, description="Member id of the manager.")
    timezone: TimeZoneName = Field(description="IANA time zone the member works in.")
    working_hours: WorkingHours = Field(description="Working days and hours, local time.")
    office_days: tuple[Weekday, ...] = Field(
        default=(), description="Days the member is usually at the office."
    )
    office: Label | None = Field(default=None, description="The office the member goes to.")
    languages: tuple[LanguageCode, ...] = Field(
        min_length=1, description="Languages spoken, most preferred first (messages use the first)."
    )
    interests: tuple[Label, ...] = Field(default=(), description="Interests, for matching.")
    start_date: date = Field(description="First working day in the organisation.")
    new_hire: bool = Field(default=False, description="Whether the member gets onboarding.")
    buddy_volunteer: bool = Field(
        default=False, description="Whether the member volunteers as an onboarding buddy."
    )
    notification_channels: tuple[Channel, ...] = Field(
        default=(),
        description="Channels to notify the member through, preferred first; "
        "empty means the organisation's default.",
    )
    erased: bool = Field(
        default=False,
        description="Set by readers, never by producers: the personal fields are placeholders "
        "because the member was erased (or this reader holds no key). Nothing is sent to them.",
    )


class MemberJoined(MemberProfile):
    """A person joined the organisation's programme (or rejoined after leaving)."""

    event_type: ClassVar[str] = "rituals.member.joined"
    version: ClassVar[int] = 2
    """Version 2: the personal fields may travel sealed (``schemas.sealing``)."""


class MemberProfileUpdated(MemberProfile):
    """A member's profile changed; the payload is the whole new profile."""

    event_type: ClassVar[str] = "rituals.member.profile_updated"
    version: ClassVar[int] = 2
    """Version 2: the personal fields may travel sealed (``schemas.sealing``)."""


class MemberPaused(EventPayload):
    """A member takes a break (holiday, leave, busy period) and is not matched meanwhile."""

    event_type: ClassVar[str] = "rituals.member.paused"

    member_id: Identifier = Field(description="The member who pauses.")
    until: date | None = Field(
        default=None,
        description="First day the member is active again; none means until member.resumed.",
    )


class MemberResumed(EventPayload):
    """A member ends a pause or an opt-out and takes part again."""

    event_type: ClassVar[str] = "rituals.member.resumed"

    member_id: Identifier = Field(description="The member who takes part again.")


class MemberOptedOut(EventPayload):
    """A member no longer wants to take part; they stay in the organisation."""

    event_type: ClassVar[str] = "rituals.member.opted_out"

    member_id: Identifier = Field(description="The member who opts out.")


class MemberLeft(EventPayload):
    """A member left the organisation; a later member.joined makes them a member again."""

    event_type: ClassVar[str] = "rituals.member.left"

    member_id: Identifier = Field(description="The member who left.")
    last_day: date | None = Field(default=None, description="Last working day, if known.")


class MemberErased(MemberLeft):
    """A member's personal data was erased (right to erasure): they left, and their data key is
    destroyed right after this event, so their sealed name, e-mail and profile can never be read
    again. Readers replace them with placeholders; every consumer treats it as member.left."""

    event_type: ClassVar[str] = "rituals.member.erased"
