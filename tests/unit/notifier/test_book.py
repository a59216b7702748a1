"""The notification book: notices from events, deliveries per channel, durable deduplication by
the notifier's own outcome events, quiet hours and ritual reminders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import CloudEvent
from schemas.base import Channel
from schemas.catalogue import CATALOGUE, payload_type
from schemas.clock import ClockTicked
from schemas.coffee import CoffeeMatched, CoffeeUnmatched
from schemas.members import MemberErased, MemberLeft, MemberPaused, MemberProfileUpdated
from schemas.notifications import NotificationFailed, NotificationSent
from schemas.onboarding import BuddyAssigned, BuddyReassigned, CheckinDue
from schemas.recurrence import RecurrenceError
from schemas.rituals import RitualCancelled, RitualScheduled
from services.common.processing import Emit, Ledger
from services.notifier.domain.book import NotificationBook, Waiting, _Type
from services.notifier.domain.notices import Delivery, Notice, Template
from services.notifier.handlers import NotifierProcessor
from tests.factories import T0, event, member_joined_event, member_profile, sample_payload
from tests.unit.notifier.support import SOURCE, joined, policy_with


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def processor_with(*events: CloudEvent[Any]) -> NotifierProcessor:
    processor = NotifierProcessor(policy_with("slack", "webhook"))
    for item in events:
        processor.apply(item)
    return processor


def ready_ids(book: NotificationBook) -> list[str]:
    return [delivery.notification_id for delivery in book.ready()]


def reminders_ready(book: NotificationBook) -> list[Delivery]:
    return [d for d in book.ready() if d.notice.template is Template.RITUAL_REMINDER]


def reminder_ids(book: NotificationBook) -> list[str]:
    return [delivery.notification_id for delivery in reminders_ready(book)]


def pending_reminders(book: NotificationBook) -> dict[str, Notice]:
    return {k: n for k, n in book.pending.items() if n.template is Template.RITUAL_REMINDER}


def tick(now: datetime, sequence: int = 1) -> CloudEvent[Any]:
    return event(ClockTicked(now=now, sequence=sequence), time=now)


def outcome(delivery: Delivery, *, sent: bool = True) -> CloudEvent[Any]:
    """The event the worker publishes for a delivery (same envelope as through the ledger)."""
    payload = (
        NotificationSent(
            notification_id=delivery.notification_id,
            source_event_id=str(delivery.notice.source.id),
            recipient_id=delivery.recipient.member_id,
            channel=delivery.channel,
            template=delivery.notice.template.value,
            language=delivery.language,
        )
        if sent
        else NotificationFailed(
            notification_id=delivery.notification_id,
            source_event_id=str(delivery.notice.source.id),
            recipient_id=delivery.recipient.member_id,
            channel=delivery.channel,
            reason="http 400",
            permanent=True,
            attempts=1,
        )
    )
    kind = "sent" if sent else "failed"
    (output,) = Ledger(NotifierProcessor(), SOURCE).outputs(
        delivery.notice.source, [Emit(payload, key=f"{kind}/{delivery.notification_id}")]
    )
    return output


MATCHED = event(sample_payload(CoffeeMatched))  # m-1 (Amsterdam) and m-2 (New York)
NEW_YORK_DAY = {"start": "03:00", "end": "17:00"}  # so 09:00 UTC is working time for m-2 too


def test_a_coffee_match_gives_each_participant_one_delivery_per_channel() -> None:
    processor = processor_with(
        joined("m-1", notification_channels=("email", "slack")),
        joined("m-2", timezone="America/New_York", working_hours=NEW_YORK_DAY),
        MATCHED,
    )
    assert ready_ids(processor.book) == [
        f"{MATCHED.id}/m-1/email",
        f"{MATCHED.id}/m-1/slack",
        f"{MATCHED.id}/m-2/console",  # no preference: the organisation's default
    ]
    assert {d.notice.template for d in processor.book.ready()} == {Template.COFFEE_MATCHED}


def test_a_channel_the_organisation_has_not_configured_gives_way_to_the_default() -> None:
    processor = processor_with(joined("m-3", notification_channels=("teams",)))
    processor.apply(event(sample_payload(CoffeeUnmatched)))
    assert [d.channel for d in processor.book.ready()] == ["console"]


def test_a_recorded_outcome_is_never_delivered_again_and_the_notice_leaves_the_book() -> None:
    processor = processor_with(joined("m-1", notification_channels=("email", "slack")))
    processor.apply(event(sample_payload(CoffeeUnmatched, member_id="m-1")))
    email, slack = processor.book.ready()

    processor.apply(outcome(email))
    assert [d.channel for d in processor.book.ready()] == ["slack"]
    processor.apply(outcome(slack, sent=False))  # a permanent failure is an outcome too
    assert ready_ids(processor.book) == []
    assert processor.book.pending == {}
    assert processor.measures()["notifications_sent"] == 1
    assert processor.measures()["notifications_failed"] == 1


@settings(max_examples=50)
@given(st.permutations(range(4)))
def test_whatever_the_replay_order_an_outcome_in_the_log_suppresses_its_delivery(
    order: list[int],
) -> None:
    members = [
        joined("m-1", notification_channels=("email", "webhook")),
        joined("m-2", timezone="America/New_York", working_hours=NEW_YORK_DAY),
    ]
    every = list(processor_with(*members, MATCHED).book.ready())
    done = every[:2]  # m-1's two channels were delivered before the restart
    log = [MATCHED, *(outcome(d) for d in done), tick(T0)]
    rebuilt = processor_with(*members, *(log[i] for i in order))
    assert ready_ids(rebuilt.book) == [every[2].notification_id]


def test_onboarding_events_notify_the_new_hire_and_the_buddy() -> None:
    members = [joined("m-9"), joined("m-1"), joined("m-2")]
    assigned = event(sample_payload(BuddyAssigned))
    reassigned = event(sample_payload(BuddyReassigned), time=T0 + timedelta(minutes=1))
    due = event(sample_payload(CheckinDue), time=T0 + timedelta(minutes=2))
    processor = processor_with(*members, assigned, reassigned, due)
    templates = [(d.recipient.member_id, d.notice.template) for d in processor.book.ready()]
    assert templates == [
        ("m-9", Template.BUDDY_ASSIGNED_NEW_HIRE),
        ("m-1", Template.BUDDY_ASSIGNED_BUDDY),
        ("m-9", Template.BUDDY_REASSIGNED_NEW_HIRE),
        ("m-2", Template.BUDDY_REASSIGNED_BUDDY),
        ("m-9", Template.CHECKIN_DUE),
        ("m-1", Template.CHECKIN_DUE),
    ]


def test_a_recipient_not_yet_in_the_directory_waits_for_their_join() -> None:
    processor = processor_with(event(sample_payload(CoffeeUnmatched)))  # m-3, unknown yet
    (notice,) = processor.book.pending.values()
    assert processor.book.status(notice)[0].waiting is Waiting.MEMBER_UNKNOWN
    assert ready_ids(processor.book) == []
    processor.apply(joined("m-3"))
    assert len(ready_ids(processor.book)) == 1


def test_a_member_who_left_is_not_notified() -> None:
    processor = processor_with(joined("m-3"), event(sample_payload(CoffeeUnmatched)))
    processor.apply(event(MemberLeft(member_id="m-3")))
    assert processor.book.pending == {}
    processor.apply(event(sample_payload(CoffeeUnmatched), time=T0 + timedelta(hours=1)))
    assert processor.book.pending == {}


def test_an_erased_member_is_not_notified_and_their_pending_notices_are_dropped() -> None:
    processor = processor_with(joined("m-3"), event(sample_payload(CoffeeUnmatched)))
    processor.apply(event(MemberErased(member_id="m-3")))
    assert processor.book.pending == {}
    processor.apply(event(sample_payload(CoffeeUnmatched), time=T0 + timedelta(hours=1)))
    assert processor.book.pending == {}


def test_a_profile_read_with_placeholders_is_never_notified() -> None:
    """A member whose data cannot be opened (key destroyed, or no key here) has an ``erased``
    profile with a placeholder address: nothing is sent to it, even before member.erased."""
    processor = processor_with(joined("m-3", erased=True))
    processor.apply(event(sample_payload(CoffeeUnmatched)))
    assert processor.book.pending == {}


def test_at_night_a_delivery_waits_for_a_morning_tick_in_the_recipients_zone() -> None:
    night = utc(2025, 3, 3, 2, 0)  # 03:00 in Amsterdam
    processor = processor_with(joined("m-3"), tick(night))
    processor.apply(event(sample_payload(CoffeeUnmatched), time=night))
    (notice,) = processor.book.pending.values()
    status = processor.book.status(notice)[0]
    assert status.waiting is Waiting.QUIET_HOURS
    assert status.ready_at == utc(2025, 3, 3, 8, 0)
    assert processor.measures()["notices_waiting_quiet_hours"] == 1

    processor.apply(tick(utc(2025, 3, 3, 7, 59), 2))
    assert ready_ids(processor.book) == []
    processor.apply(tick(utc(2025, 3, 3, 8, 0), 3))
    assert len(ready_ids(processor.book)) == 1


def test_before_any_tick_the_organisations_clock_is_its_latest_event_time() -> None:
    night = utc(2025, 3, 3, 2, 0)
    processor = processor_with(joined("m-3"))
    processor.apply(event(sample_payload(CoffeeUnmatched), time=night))
    assert processor.book.now("acme") == night
    assert ready_ids(processor.book) == []
    processor.apply(event(sample_payload(CoffeeUnmatched), time=utc(2025, 3, 3, 9, 0)))
    assert len(ready_ids(processor.book)) == 2  # the night's notice too, now it is morning


def test_the_language_is_the_members_first_supported_one_else_the_organisations() -> None:
    processor = processor_with(
        joined("m-1", languages=("de", "nl")),
        joined("m-2", languages=("en-GB",), timezone="Europe/London"),
        joined("m-3", languages=("fr",)),
        event(sample_payload(CoffeeUnmatched, member_id="m-1")),
        event(sample_payload(CoffeeUnmatched, member_id="m-2")),
        event(sample_payload(CoffeeUnmatched, member_id="m-3")),
    )
    assert [d.language for d in processor.book.ready()] == ["nl", "en", "en"]


# -- ritual reminders -----------------------------------------------------------------------

OCCURRENCE = utc(2025, 3, 7, 15, 30)  # first Friday drinks, 16:30 in Amsterdam
REMIND_AT = OCCURRENCE - timedelta(minutes=60)
SCHEDULED = event(sample_payload(RitualScheduled), time=utc(2025, 3, 3, 9, 0))


def ritual_team() -> list[CloudEvent[Any]]:
    return [
        joined("m-1"),
        joined("m-2"),
        joined("m-3", team="Data"),
        joined("m-4"),
        event(MemberPaused(member_id="m-4")),
    ]


def test_a_tick_at_the_reminder_moment_reminds_each_active_team_member_once() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED, tick(REMIND_AT - timedelta(minutes=1)))
    assert reminder_ids(processor.book) == []
    processor.apply(tick(REMIND_AT, 2))
    reminders = list(reminders_ready(processor.book))
    assert [d.recipient.member_id for d in reminders] == ["m-1", "m-2"]
    assert {d.notice.occurrence for d in reminders} == {OCCURRENCE}
    assert reminders[0].notification_id == "acme:friday-drinks@20250307T153000Z/m-1/console"

    processor.apply(tick(REMIND_AT + timedelta(minutes=5), 3))
    assert len(reminder_ids(processor.book)) == 2  # the same two, not two more
    for delivery in reminders:
        processor.apply(outcome(delivery))
    processor.apply(tick(REMIND_AT + timedelta(minutes=10), 4))
    assert reminder_ids(processor.book) == []


def test_a_tick_reminds_of_its_own_organisations_rituals_only() -> None:
    """Each organisation has its own clock: one organisation's tick at the reminder moment
    reminds nobody of another's ritual, whose clock has not come that far."""
    other = "globex"
    processor = processor_with(
        *ritual_team(),
        SCHEDULED,
        member_joined_event(org=other, member_id="g-1"),
        event(sample_payload(RitualScheduled), org=other, time=utc(2025, 3, 3, 9, 0)),
        event(ClockTicked(now=REMIND_AT - timedelta(days=1), sequence=1), org=other),
    )
    processor.apply(tick(REMIND_AT))
    assert {d.notice.org_id for d in reminders_ready(processor.book)} == {"acme"}
    processor.apply(event(ClockTicked(now=REMIND_AT, sequence=2), org=other, time=REMIND_AT))
    assert {d.notice.org_id for d in reminders_ready(processor.book)} == {"acme", other}


def test_rescheduling_the_ritual_does_not_remind_twice_of_the_same_occurrence() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED, tick(REMIND_AT))
    for delivery in list(reminders_ready(processor.book)):
        processor.apply(outcome(delivery))
    rescheduled = event(sample_payload(RitualScheduled, title="Drinks!"), time=REMIND_AT)
    processor.apply(rescheduled)
    processor.apply(tick(REMIND_AT + timedelta(minutes=1), 2))
    assert reminder_ids(processor.book) == []


def test_a_reminder_released_in_working_hours_goes_out_even_after_the_clock_moved_on() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED, tick(REMIND_AT))
    processor.apply(tick(OCCURRENCE + timedelta(hours=6), 2))  # evening: quiet hours again
    assert [d.recipient.member_id for d in reminders_ready(processor.book)] == ["m-1", "m-2"]
    assert processor.measures()["reminders_expired"] == 0


def test_a_reminder_still_in_quiet_hours_when_the_occurrence_starts_expires() -> None:
    team = [*ritual_team(), joined("m-5", working_hours={"start": "17:00", "end": "23:00"})]
    processor = processor_with(*team, SCHEDULED, tick(REMIND_AT))
    assert [d.recipient.member_id for d in reminders_ready(processor.book)] == ["m-1", "m-2"]
    processor.apply(tick(OCCURRENCE, 2))
    assert sorted(n.recipient_id for n in pending_reminders(processor.book).values()) == [
        "m-1",
        "m-2",
    ]
    assert processor.measures()["reminders_expired"] == 1


def test_a_cancelled_occurrence_drops_its_pending_reminders_and_makes_none() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED, tick(REMIND_AT))
    processor.apply(event(RitualCancelled(ritual_id="friday-drinks", occurrence_start=OCCURRENCE)))
    assert pending_reminders(processor.book) == {}
    processor.apply(tick(REMIND_AT + timedelta(minutes=1), 2))
    assert pending_reminders(processor.book) == {}
    next_week = OCCURRENCE + timedelta(days=7) - timedelta(minutes=60)
    processor.apply(tick(next_week, 3))
    assert len(pending_reminders(processor.book)) == 2


def test_a_cancelled_occurrence_stays_cancelled_when_the_ritual_is_scheduled_again() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED)
    processor.apply(event(RitualCancelled(ritual_id="friday-drinks", occurrence_start=OCCURRENCE)))
    title_fixed = event(sample_payload(RitualScheduled, title="Friday drinks!"), time=T0)
    processor.apply(title_fixed)  # the same schedule run again, e.g. to fix a title
    processor.apply(tick(REMIND_AT))
    assert pending_reminders(processor.book) == {}
    processor.apply(tick(OCCURRENCE + timedelta(days=7) - timedelta(minutes=60), 2))
    assert len(pending_reminders(processor.book)) == 2


def test_a_cancelled_series_reminds_nobody() -> None:
    processor = processor_with(*ritual_team(), SCHEDULED)
    processor.apply(event(RitualCancelled(ritual_id="friday-drinks")))
    processor.apply(tick(REMIND_AT))
    assert pending_reminders(processor.book) == {}


def test_a_reminder_outcome_replayed_before_its_tick_still_suppresses_it() -> None:
    """In replay order an outcome shares its cause's time: the ritual.scheduled event, earlier
    than the tick that made the reminder."""
    first = processor_with(*ritual_team(), SCHEDULED, tick(REMIND_AT))
    outcomes = [outcome(d) for d in reminders_ready(first.book)]
    rebuilt = processor_with(*ritual_team(), SCHEDULED, *outcomes, tick(REMIND_AT))
    assert pending_reminders(rebuilt.book) == {}
    assert reminder_ids(rebuilt.book) == []


def test_channels_follow_the_members_preference_when_the_delivery_is_ready() -> None:
    processor = processor_with(joined("m-3"), event(sample_payload(CoffeeUnmatched)))
    channels: tuple[Channel, ...] = ("webhook", "email")
    updated = MemberProfileUpdated.model_validate(
        member_profile("m-3", notification_channels=channels)
    )
    processor.apply(event(updated))
    assert [d.channel for d in processor.book.ready()] == ["webhook", "email"]


def test_a_schedule_read_after_the_tick_that_makes_its_reminder_due_still_reminds() -> None:
    """Topics are consumed independently: the clock may be read ahead of the rituals topic."""
    processor = processor_with(*ritual_team(), tick(REMIND_AT), SCHEDULED)
    assert sorted(d.recipient.member_id for d in reminders_ready(processor.book)) == ["m-1", "m-2"]


def test_a_schedule_whose_rule_slipped_through_fails_and_the_other_rituals_still_remind() -> None:
    """The schema refuses such a record at admission; one that got past it (an older schema, a
    bug) makes ``apply`` fail before anything changes, which the runtime dead-letters."""
    processor = processor_with(*ritual_team(), SCHEDULED)
    spinning = RitualScheduled.model_construct(
        **{**SCHEDULED.data.model_dump(), "ritual_id": "spin", "rrule": "FREQ=DAILY;INTERVAL=0"}
    )
    with pytest.raises(RecurrenceError, match="INTERVAL=0"):
        processor.apply(SCHEDULED.model_copy(update={"data": spinning}))
    processor.apply(tick(REMIND_AT))
    assert [d.recipient.member_id for d in reminders_ready(processor.book)] == ["m-1", "m-2"]
    assert {d.notice.occurrence for d in reminders_ready(processor.book)} == {OCCURRENCE}


def test_a_member_leaving_drops_what_was_not_due_yet_and_keeps_what_was() -> None:
    """Whether a notice goes out must not depend on how fast the worker was: one that was due
    before the member left is sent (it would have been, with a quicker worker), one due later is
    not."""
    morning = utc(2025, 3, 3, 9, 0)
    processor = processor_with(
        joined("m-3"),
        event(sample_payload(CoffeeUnmatched), time=morning),
        tick(morning),
    )
    due_before = ready_ids(processor.book)
    assert len(due_before) == 1
    night = utc(2025, 3, 3, 23, 0)  # quiet hours: due only next morning, after the leave
    processor.apply(event(sample_payload(CoffeeUnmatched), time=night))
    assert len(processor.book.pending) == 2
    processor.apply(event(MemberLeft(member_id="m-3"), time=utc(2025, 3, 4, 7, 0)))
    assert ready_ids(processor.book) == due_before
    assert len(processor.book.pending) == 1


def test_deliveries_are_counted_by_channel_and_outcome_once_each() -> None:
    processor = processor_with(
        joined("m-1", notification_channels=("slack", "webhook")),
        event(sample_payload(CoffeeUnmatched, member_id="m-1")),
    )
    slack, webhook = processor.book.ready()
    sent = outcome(slack)
    processor.apply(sent)
    processor.apply(sent.model_copy(update={"id": uuid.uuid4()}))  # the same outcome again
    processor.apply(outcome(webhook, sent=False))
    measures = processor.measures()
    assert measures["deliveries_sent_slack"] == 1
    assert measures["deliveries_failed_webhook"] == 1
    assert measures["deliveries_sent_webhook"] == measures["deliveries_retry_slack"] == 0


# --- Ticks that change nothing held ------------------------------------------------------------

AMSTERDAM = "Europe/Amsterdam"
LATE = {"start": "17:00", "end": "23:00"}
HOURS = [
    {"start": "09:00", "end": "17:30"},
    {"start": "06:00", "end": "08:00"},
    {"start": "20:00", "end": "23:30", "days": ["sat", "sun"]},
]
STEP = st.one_of(
    st.tuples(st.just("tick"), st.integers(min_value=1, max_value=600)),  # minutes forward
    st.tuples(st.just("unmatched"), st.sampled_from(["m-1", "m-2", "m-9"])),  # m-9 unknown
    st.tuples(st.just("hours"), st.sampled_from(["m-1", "m-2"]), st.sampled_from(HOURS)),
    st.tuples(st.just("joins"), st.sampled_from(["m-9"])),
    st.tuples(st.just("late"), st.sampled_from(["m-5"])),  # works 17:00-23:00
    st.tuples(st.just("sent"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("failed"), st.integers(min_value=0, max_value=5)),
)


def _looking_tick(book: NotificationBook, org_id: str, now: datetime) -> None:
    """The tick as it was before ``calm_until``: every held notice looked at, every tick."""
    book.clocks[org_id] = max(now, book.clocks.get(org_id, now))
    now = book.clocks[org_id]
    held = book.held.get(org_id, {})
    for notice in [n for n in held.values() if n.expires_at is not None and now >= n.expires_at]:
        book._remove(notice.notice_id)
        book.lapsed[notice.notice_id] = notice
        book.counts["expired"] += 1
    for notice in list(held.values()):
        book._release_if_working_time(notice)
    for ritual_id, plan in book.rituals.get(org_id, {}).items():
        book._remind(plan, ritual_id, now)


def _book_view(book: NotificationBook) -> tuple[Any, ...]:
    return (
        ready_ids(book),
        sorted(book.pending),
        sorted(book.lapsed),
        sorted(book.released),
        sorted(book.due_at.items()),
        dict(book.counts),
    )


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(STEP, max_size=40), zone=st.sampled_from(["Europe/Amsterdam", "Asia/Tokyo"]))
# Held overnight, then a tick half an hour into m-1's working day (09:00 in Amsterdam).
@example(steps=[("tick", 720), ("unmatched", "m-1"), ("tick", 1), ("tick", 690)], zone=AMSTERDAM)
# Held overnight for m-9, not a member yet, and for m-1: m-1's goes out in the morning.
@example(
    steps=[("tick", 720), ("unmatched", "m-9"), ("unmatched", "m-1"), ("tick", 1), ("tick", 690)],
    zone=AMSTERDAM,
)
# Held overnight; m-1's hours move to 06:00; a tick at 06:31 in Amsterdam releases it.
@example(
    steps=[
        ("tick", 720),
        ("unmatched", "m-1"),
        ("tick", 1),
        ("hours", "m-1", HOURS[1]),
        ("tick", 510),
    ],
    zone=AMSTERDAM,
)
# m-5 works 17:00-23:00: Friday's reminder for her is held from 15:30 (a tick at 16:00 looks
# again) and expires at 16:30, before her evening.
@example(
    steps=[("late", "m-5"), *[("tick", 600)] * 10, ("tick", 90), ("tick", 30), ("tick", 30)],
    zone=AMSTERDAM,
)
def test_ticks_that_skip_the_held_notices_leave_the_book_as_looking_at_them_does(
    steps: list[tuple[Any, ...]], zone: str
) -> None:
    """A tick before the earliest moment a held notice can be released or expire skips them
    (``calm_until``). The same events into a book whose ticks look at every held notice each
    time, as they did before: both show the same at every step."""
    start = [*ritual_team(), SCHEDULED, joined("m-1", timezone=zone), tick(T0)]
    skipping, looking = processor_with(*start), processor_with(*start)
    looking.book._tick = partial(_looking_tick, looking.book)  # type: ignore[method-assign]
    now, sequence = T0, 1
    for step in steps:
        if step[0] == "tick":
            now, sequence = now + timedelta(minutes=step[1]), sequence + 1
            made = tick(now, sequence)
        elif step[0] == "unmatched":
            made = event(sample_payload(CoffeeUnmatched, member_id=step[1]), time=now)
        elif step[0] == "hours":
            profile = member_profile(step[1], timezone=zone, working_hours=step[2])
            made = event(MemberProfileUpdated.model_validate(profile), time=now)
        elif step[0] == "joins":
            made = joined(step[1], time=now, timezone=zone)
        elif step[0] == "late":
            made = joined(step[1], time=now, timezone=zone, working_hours=LATE)
        else:
            ready = list(looking.book.ready())
            if not ready:
                continue
            made = outcome(ready[step[1] % len(ready)], sent=step[0] == "sent")
        skipping.apply(made)
        looking.apply(made)
        assert _book_view(skipping.book) == _book_view(looking.book)


def test_every_type_whose_payload_subclasses_one_folded_by_kind_is_named_itself() -> None:
    """The book matches events by ``type``, as a ``case`` on payload classes matched their
    subclasses too: a type whose payload subclasses one the book folds by kind must be named,
    or it would fall through to the notices (an erasure once did: ``MemberErased`` is a
    ``MemberLeft``)."""
    named = {value for key, value in vars(_Type).items() if key.isupper()}
    for event_type in CATALOGUE:
        kinds = {payload_type(name) for name in named - {event_type}}
        if any(issubclass(payload_type(event_type), kind) for kind in kinds):
            assert event_type in named, f"{event_type} is folded by its parent's kind"
