"""A team ritual's series in people's calendars: one invitation per version of the series (RRULE,
EXDATE for cancelled occurrences, a stable UID and a rising SEQUENCE), a CANCEL when the series
stops. ``recurring_ical_events``, a third-party reader of iCalendar, expands what we send and must
find exactly the occurrences the platform reminds people of, across daylight-saving changes."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import recurring_ical_events
from icalendar import Calendar

from schemas import CloudEvent
from schemas.members import MemberPaused, MemberProfileUpdated
from schemas.notifications import NotificationSent
from schemas.recurrence import parse_recurrence
from schemas.rituals import RitualCancelled, RitualScheduled
from services.notifier.adapters.base import Outgoing
from services.notifier.adapters.smtp import EmailComposer
from services.notifier.domain.book import NotificationBook
from services.notifier.domain.calendar import invitation_ics
from services.notifier.domain.message import Attendee, Invitation
from services.notifier.domain.notices import Delivery, Template
from services.notifier.domain.rendering import render
from services.notifier.handlers import NotifierProcessor
from tests.factories import event, member_profile, sample_payload
from tests.unit.notifier.support import joined

ORGANISER = Attendee("Rituals", "rituals@example.com")
SCHEDULED_AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday, working hours everywhere
FIRST = datetime(2025, 3, 7, 15, 30, tzinfo=UTC)  # Friday 16:30 in Amsterdam (winter time)


def scheduled(time: datetime = SCHEDULED_AT, **overrides: Any) -> CloudEvent[Any]:
    return event(sample_payload(RitualScheduled, **overrides), time=time)


def cancelled(occurrence: datetime | None, time: datetime = SCHEDULED_AT) -> CloudEvent[Any]:
    return event(RitualCancelled(ritual_id="friday-drinks", occurrence_start=occurrence), time=time)


def processor_with(*events: CloudEvent[Any]) -> NotifierProcessor:
    processor = NotifierProcessor()
    for item in (
        joined("m-1", team="Platform"),
        joined("m-2", team="Platform"),
        joined("m-3", team="Data"),
        joined("m-4", team="Platform"),
        event(MemberPaused(member_id="m-4")),
        *events,
    ):
        processor.apply(item)
    return processor


def invitations(book: NotificationBook) -> list[Delivery]:
    return [d for d in book.ready() if d.notice.series is not None]


def calendar_of(delivery: Delivery) -> Calendar:
    message = render(delivery)
    assert message.invitation is not None
    return Calendar.from_ical(invitation_ics(message.invitation, ORGANISER))


def vevent(delivery: Delivery) -> Any:
    (found,) = calendar_of(delivery).walk("VEVENT")
    return found


def expanded(delivery: Delivery, start: date, end: date) -> list[datetime]:
    """The occurrences a calendar shows, in UTC, as a third-party reader expands them."""
    found = recurring_ical_events.of(calendar_of(delivery)).between(start, end)
    return sorted(item["DTSTART"].dt.astimezone(UTC) for item in found)


def test_scheduling_puts_the_series_in_the_calendar_of_each_team_member_taking_part() -> None:
    book = processor_with(scheduled()).book
    found = invitations(book)
    assert [d.recipient.member_id for d in found] == ["m-1", "m-2"]  # m-3: Data; m-4: paused
    assert {d.notice.template for d in found} == {Template.RITUAL_INVITATION}
    assert found[0].notification_id == "acme:friday-drinks#0/m-1/console"
    calendar = calendar_of(found[0])
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    event_ = vevent(found[0])
    assert event_["UID"] == "ritual-friday-drinks@acme.rituals"
    assert event_["SEQUENCE"] == 0
    assert event_["STATUS"] == "CONFIRMED"
    assert event_["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert event_["DTSTART"].dt.replace(tzinfo=None) == datetime(2025, 3, 7, 16, 30)
    assert event_["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=FR"
    assert str(event_["ATTENDEE"]) == "mailto:m-1@example.com"  # only the recipient


def test_a_third_party_reader_finds_the_platforms_occurrences_across_daylight_saving() -> None:
    book = processor_with(scheduled(), cancelled(FIRST + timedelta(weeks=3))).book
    (delivery, *_) = invitations(book)
    plan = book.rituals["acme"]["friday-drinks"]
    ours = [
        start
        for start in plan.recurrence.occurrences_between(
            FIRST - timedelta(days=1), datetime(2026, 1, 1, tzinfo=UTC)
        )
        if start not in plan.cancelled
    ]
    theirs = expanded(delivery, date(2025, 3, 1), date(2026, 1, 1))
    assert theirs == ours
    assert FIRST + timedelta(weeks=3) not in theirs
    summer = datetime(2025, 4, 4, 14, 30, tzinfo=UTC)  # still 16:30 local after the switch
    assert summer in theirs


def test_an_until_in_any_form_ends_the_series_where_the_platform_ends_it() -> None:
    for until in ("UNTIL=20250404T143000Z", "UNTIL=20250404T163000", "UNTIL=20250404"):
        book = processor_with(scheduled(rrule=f"FREQ=WEEKLY;BYDAY=FR;{until}")).book
        (delivery, *_) = invitations(book)
        rule = vevent(delivery)["RRULE"].to_ical().decode()
        assert re.search(r"UNTIL=\d{8}T\d{6}Z", rule), rule  # UTC, beside a TZID start
        theirs = expanded(delivery, date(2025, 3, 1), date(2025, 6, 1))
        assert theirs[-1] == datetime(2025, 4, 4, 14, 30, tzinfo=UTC), until
        assert len(theirs) == 5


def test_cancelling_an_occurrence_sends_the_series_again_without_it() -> None:
    occurrence = FIRST + timedelta(weeks=1)
    book = processor_with(scheduled(), cancelled(occurrence)).book
    found = invitations(book)
    assert [d.notification_id for d in found] == [
        "acme:friday-drinks#1/m-1/console",  # the unsent first version is not sent any more
        "acme:friday-drinks#1/m-2/console",
    ]
    assert found[0].notice.template is Template.RITUAL_OCCURRENCE_CANCELLED
    message = render(found[0])
    assert message.subject == (
        "Cancelled: Friday drinks on Friday, March 14, 2025 at 4:30\u202fPM (Europe/Amsterdam)"
    )
    event_ = vevent(found[0])
    assert event_["SEQUENCE"] == 1
    assert [d.dt.astimezone(UTC) for d in event_["EXDATE"].dts] == [occurrence]
    assert calendar_of(found[0])["METHOD"] == "REQUEST"


def test_cancelling_the_series_takes_it_out_of_every_calendar() -> None:
    book = processor_with(scheduled(), cancelled(FIRST), cancelled(None)).book
    found = invitations(book)
    assert [d.recipient.member_id for d in found] == ["m-1", "m-2"]
    assert found[0].notice.template is Template.RITUAL_SERIES_CANCELLED
    calendar = calendar_of(found[0])
    assert calendar["METHOD"] == "CANCEL"
    event_ = vevent(found[0])
    assert (event_["UID"], event_["SEQUENCE"], event_["STATUS"]) == (
        "ritual-friday-drinks@acme.rituals",
        2,
        "CANCELLED",
    )


def test_a_rescheduled_series_is_a_new_version_that_keeps_its_cancellations() -> None:
    book = processor_with(
        scheduled(), cancelled(FIRST), scheduled(title="Friday drinks!", duration_minutes=60)
    ).book
    (delivery, *_) = invitations(book)
    assert delivery.notice.template is Template.RITUAL_INVITATION
    event_ = vevent(delivery)
    assert (event_["SEQUENCE"], event_["SUMMARY"]) == (2, "Friday drinks!")
    assert event_["DTEND"].dt - event_["DTSTART"].dt == timedelta(minutes=60)
    assert [d.dt.astimezone(UTC) for d in event_["EXDATE"].dts] == [FIRST]


def test_a_member_who_joins_the_team_later_gets_the_series_as_it_stands_once() -> None:
    processor = processor_with(scheduled(), cancelled(FIRST))
    for delivery in invitations(processor.book):
        processor.book.apply(event(delivery_sent(delivery), time=SCHEDULED_AT))
    assert invitations(processor.book) == []
    moved = MemberProfileUpdated.model_validate(member_profile("m-3", team="Platform"))
    processor.apply(event(moved, time=SCHEDULED_AT + timedelta(hours=1)))
    (delivery,) = invitations(processor.book)
    assert delivery.notification_id == "acme:friday-drinks#1/m-3/console"
    assert delivery.notice.template is Template.RITUAL_INVITATION
    assert [d.dt.astimezone(UTC) for d in vevent(delivery)["EXDATE"].dts] == [FIRST]

    processor.book.apply(event(delivery_sent(delivery), time=SCHEDULED_AT))
    again = MemberProfileUpdated.model_validate(member_profile("m-3", team="Platform"))
    processor.apply(event(again, time=SCHEDULED_AT + timedelta(hours=2)))
    assert invitations(processor.book) == []  # the same version is not sent twice


def test_nobody_is_invited_to_a_cancelled_series_on_joining() -> None:
    processor = processor_with(scheduled(), cancelled(None))
    for delivery in invitations(processor.book):
        processor.book.apply(event(delivery_sent(delivery), time=SCHEDULED_AT))
    processor.apply(joined("m-5", team="Platform"))
    assert invitations(processor.book) == []


def test_a_copy_sent_again_is_the_same_invitation_byte_for_byte() -> None:
    first = invitations(processor_with(scheduled(), cancelled(FIRST)).book)[0]
    again = invitations(processor_with(scheduled(), cancelled(FIRST)).book)[0]
    one, two = render(first).invitation, render(again).invitation
    assert isinstance(one, Invitation)
    assert isinstance(two, Invitation)
    assert invitation_ics(one, ORGANISER) == invitation_ics(two, ORGANISER)


def test_the_calendar_rule_holds_until_in_utc_for_every_form() -> None:
    local = parse_recurrence(
        "FREQ=DAILY;UNTIL=20250310", datetime(2025, 3, 7, 9), "Europe/Amsterdam"
    )
    assert local.calendar_rule() == "FREQ=DAILY;UNTIL=20250310T225959Z"
    counted = parse_recurrence("rrule:freq=weekly;count=3", datetime(2025, 3, 7, 9), "UTC")
    assert counted.calendar_rule() == "FREQ=WEEKLY;COUNT=3"


def delivery_sent(delivery: Delivery) -> NotificationSent:
    return NotificationSent(
        notification_id=delivery.notification_id,
        channel=delivery.channel,
        recipient_id=delivery.recipient.member_id,
        template=delivery.notice.template.value,
        source_event_id=str(delivery.notice.source.id),
        language=delivery.language,
    )


def test_the_email_of_a_cancelled_series_carries_a_calendar_cancel() -> None:
    book = processor_with(scheduled(), cancelled(None)).book
    (delivery, *_) = invitations(book)
    composer = EmailComposer("rituals@example.com", "Rituals")
    mail = email.message_from_bytes(
        bytes(composer.compose(Outgoing(delivery, render(delivery)))), policy=email.policy.default
    )
    assert isinstance(mail, EmailMessage)
    parts = {part.get_content_type(): part for part in mail.iter_parts()}
    assert parts["text/calendar"].get_param("method") == "CANCEL"
    assert Calendar.from_ical(parts["text/calendar"].get_content())["METHOD"] == "CANCEL"
    assert mail["Subject"] == "Cancelled: Friday drinks"


def invitation_notices(*events: CloudEvent[Any]) -> list[tuple[str, str]]:
    processor = NotifierProcessor()
    for item in events:
        processor.apply(item)
    found = processor.book.pending.values()
    return sorted((n.notice_id, str(n.source.id)) for n in found if n.series is not None)


def test_the_same_invitations_whatever_order_members_and_rituals_are_read_in() -> None:
    """Topics are read independently: a member's joining (members topic) may be read before or
    after a schedule (rituals topic) that happened later or earlier in domain time."""
    before = SCHEDULED_AT - timedelta(days=1)
    after = SCHEDULED_AT + timedelta(days=1)
    early = joined("m-1", time=before, team="Platform")
    late = joined("m-2", time=after, team="Platform")
    schedule = scheduled()
    cancel = cancelled(FIRST + timedelta(weeks=2), time=after + timedelta(hours=1))
    in_time_order = invitation_notices(early, schedule, late, cancel)
    assert [notice for notice, _cause in in_time_order] == [
        "acme:friday-drinks#0/m-1",  # due before the cancellation: sent all the same
        "acme:friday-drinks#0/m-2",
        "acme:friday-drinks#1/m-1",
        "acme:friday-drinks#1/m-2",
    ]
    # Members read late, early, or before the schedule; a member read only after a later version
    # of the series gets that version only (see docs/rituals.md).
    for order in (
        (schedule, early, late, cancel),
        (schedule, late, early, cancel),
        (late, early, schedule, cancel),
        (late, schedule, early, cancel),
    ):
        assert invitation_notices(*order) == in_time_order, order


def test_a_member_who_joined_before_the_schedule_but_was_read_after_it_is_invited_by_it() -> None:
    early = joined("m-1", time=SCHEDULED_AT - timedelta(days=1), team="Platform")
    schedule = scheduled()
    ((_, cause),) = invitation_notices(schedule, early)
    assert cause == str(schedule.id)
    ((_, late_cause),) = invitation_notices(
        schedule, joined("m-1", time=SCHEDULED_AT + timedelta(days=1), team="Platform")
    )
    assert late_cause != str(schedule.id)  # entered the team after: caused by the joining
