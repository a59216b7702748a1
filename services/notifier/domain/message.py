"""A rendered message, independent of the channel that carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class AnswerLink:
    """A one-click answer (signed link to the gateway's confirmation page)."""

    label: str
    url: str
    token: str
    """The signed token the URL ends in (a Slack button's value: a click answers at once)."""


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True)
class Invitation:
    """A meeting to put in the recipient's calendar (sent as an iCalendar REQUEST)."""

    uid: str
    """The same for every participant of the meeting, so calendars see one meeting."""
    start: datetime
    minutes: int
    summary: str
    description: str
    location: str | None
    attendees: tuple[Attendee, ...]
    stamp: datetime
    """When the invitation was made (domain time of the source event): a resent copy is the
    same invitation, byte for byte."""
    series: Series | None = None
    """The recurrence, for an invitation to a whole series (a team ritual)."""

    @property
    def method(self) -> str:
        """The iTIP method (RFC 5546): a series that no longer takes place is a CANCEL."""
        return "CANCEL" if self.series is not None and self.series.cancelled else "REQUEST"


@dataclass(frozen=True)
class Series:
    """A recurring meeting as calendars know it: each change is sent again under the same
    invitation uid with a higher sequence, and calendars keep the highest."""

    rule: str
    """RRULE value, UNTIL in UTC."""
    timezone: str
    """The zone the rule repeats in (DTSTART is local to it, so 16:30 stays 16:30 all year)."""
    excluded: tuple[datetime, ...]
    """Cancelled occurrences (EXDATE)."""
    sequence: int
    cancelled: bool = False


@dataclass(frozen=True)
class Message:
    """What one recipient is told, in their language; channels only lay it out."""

    template: str
    language: str
    subject: str
    greeting: str
    lead: str
    facts: tuple[Fact, ...] = ()
    reasons_heading: str = ""
    reasons: tuple[str, ...] = ()
    closing: str = ""
    link: str | None = None
    """A link to follow (a ritual's meeting URL); only http(s) links are kept."""
    link_label: str = ""
    sign_off: str = ""
    invitation: Invitation | None = None
    answers: tuple[AnswerLink, ...] = ()
    """One-click answers, when the platform signs links (none otherwise)."""
    unsubscribe: str | None = None
    """The one-click opt-out URL (e-mail's List-Unsubscribe), with the answers."""
