"""Calendar invitations (iCalendar, RFC 5545/5546): an e-mail with a METHOD:REQUEST part makes
mail clients offer to put the meeting in the recipient's calendar."""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from services.notifier.domain.message import Attendee, Invitation

PRODUCT_ID = "-//Rituals//Notifier//EN"


def _address(attendee: Attendee, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{attendee.email}")
    address.params["CN"] = vText(attendee.name)
    if role is not None:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE")
    return address


def invitation_ics(invitation: Invitation, organiser: Attendee) -> bytes:
    """The ``text/calendar`` body of an invitation (a REQUEST from the organiser)."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", invitation.uid)
    event.add("dtstamp", invitation.stamp.astimezone(UTC))
    event.add("dtstart", invitation.start.astimezone(UTC))
    event.add("dtend", invitation.start.astimezone(UTC) + timedelta(minutes=invitation.minutes))
    event.add("summary", invitation.summary)
    event.add("description", invitation.description)
    if invitation.location:
        event.add("location", invitation.location)
    event.add("sequence", 0)
    event.add("status", "CONFIRMED")
    event.add("organizer", _address(organiser))
    for attendee in invitation.attendees:
        event.add("attendee", _address(attendee, role="REQ-PARTICIPANT"))
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics
