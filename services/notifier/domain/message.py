"""A rendered message, independent of the channel that carries it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


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
