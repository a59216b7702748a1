"""Calendar invitations (iCalendar, RFC 5545/5546): an e-mail with a METHOD:REQUEST part makes
mail clients offer to put the meeting in the recipient's calendar; a team ritual's is the whole
series (RRULE, EXDATE for cancelled occurrences), updated under the same UID with a higher
SEQUENCE, and a METHOD:CANCEL takes a cancelled series out of the calendar again."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vRecur, vText

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
    """The ``text/calendar`` body of an invitation from the organiser: a REQUEST, or the CANCEL
    of a series that no longer takes place."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", invitation.method)
    event = Event()
    event.add("uid", invitation.uid)
    event.add("dtstamp", invitation.stamp.astimezone(UTC))
    _add_times(event, invitation)
    event.add("summary", invitation.summary)
    event.add("description", invitation.description)
    if invitation.location:
        event.add("location", invitation.location)
    series = invitation.series
    event.add("sequence", series.sequence if series else 0)
    event.add("status", "CANCELLED" if invitation.method == "CANCEL" else "CONFIRMED")
    event.add("organizer", _address(organiser))
    for attendee in invitation.attendees:
        event.add("attendee", _address(attendee, role="REQ-PARTICIPANT"))
    calendar.add_component(event)
    if series is not None:
        calendar.add_missing_timezones()  # the VTIMEZONE its local times refer to
    ics: bytes = calendar.to_ical()
    return ics


def _add_times(event: Event, invitation: Invitation) -> None:
    """One meeting: in UTC. A series: in local time of its zone (TZID), so that the rule repeats
    at the same local time across daylight-saving changes, as the platform's reminders do."""
    series = invitation.series
    if series is None:
        start = invitation.start.astimezone(UTC)
        event.add("dtstart", start)
        event.add("dtend", start + timedelta(minutes=invitation.minutes))
        return
    zone = ZoneInfo(series.timezone)
    start = invitation.start.astimezone(zone)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=invitation.minutes))
    event.add("rrule", vRecur.from_ical(series.rule))
    if series.excluded:
        event.add("exdate", sorted(moment.astimezone(zone) for moment in series.excluded))
