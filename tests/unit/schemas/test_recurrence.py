"""What a team ritual's recurrence may be (``schemas.recurrence``): one rule for the CLI, the
event schema (so admission) and the notifier's expansion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import RejectedEvent, RejectionReason, decode_event, encode_event
from schemas.recurrence import (
    RecurrenceError,
    local_time,
    parse_recurrence,
    stale_first_start_refusal,
)
from schemas.rituals import RitualScheduled
from tests.factories import event, sample_payload

AMS = "Europe/Amsterdam"
WEDNESDAY = datetime(2026, 3, 4, 16, 0)  # 15:00 UTC (winter time)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def starts(rule: str, first: datetime = WEDNESDAY, until: datetime | None = None) -> list[datetime]:
    recurrence = parse_recurrence(rule, first, AMS)
    return recurrence.occurrences_between(utc(2026, 3, 1), until or utc(2026, 4, 1))


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL=0"),
        ("FREQ=WEEKLY;INTERVAL=-1", "INTERVAL=-1"),
        ("FREQ=SECONDLY", "at most once a day"),
        ("FREQ=MINUTELY", "at most once a day"),
        ("FREQ=HOURLY", "at most once a day"),
        ("FREQ=WEEKLY;BYHOUR=9,17", "at most once a day"),
        ("FREQ=DAILY;COUNT=0", "never fires"),
        ("FREQ=WEEKLY;BYDAY=WE;UNTIL=20260301T000000Z", "never fires"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
        ("FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31", "never fires"),
        ("FREQ=DAILY;BYSETPOS=2", "BYSETPOS"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "within a year"),
        ("FREQ=WEEKLY;BYDAY=XX", "cannot read"),
        ("every friday", "cannot read"),
        ("FREQ=SOMETIMES", "cannot read"),
        ("BYDAY=FR", "no FREQ"),
        ("FREQ=WEEKLY;FREQ=DAILY", "twice"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20260401T000000Z", "both COUNT and UNTIL"),
        ("FREQ=WEEKLY;UNTIL=tomorrow", "UNTIL"),
        ("FREQ=YEARLY;INTERVAL=2", "INTERVAL=2"),
        ("DTSTART:20260304T160000\nRRULE:FREQ=WEEKLY", "one RRULE value"),
    ],
)
def test_a_rule_a_ritual_may_not_have_is_refused_with_the_reason(rule: str, why: str) -> None:
    with pytest.raises(RecurrenceError, match=why):
        parse_recurrence(rule, WEDNESDAY, AMS)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=WE",
        "RRULE:FREQ=WEEKLY;BYDAY=WE",
        "freq=weekly;byday=we",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28",
        "FREQ=WEEKLY;COUNT=1",
    ],
)
def test_a_rule_firing_at_most_daily_is_accepted(rule: str) -> None:
    assert parse_recurrence(rule, WEDNESDAY, AMS).first_occurrence() is not None


def test_until_in_utc_is_an_instant_as_rfc_5545_requires_with_a_time_zone() -> None:
    weekly = "FREQ=WEEKLY;BYDAY=WE;UNTIL="
    expected = [utc(2026, 3, 4, 15), utc(2026, 3, 11, 15), utc(2026, 3, 18, 15)]
    assert starts(weekly + "20260319T000000Z") == expected
    assert starts(weekly + "20260318T150000Z") == expected  # inclusive
    assert starts(weekly + "20260318T145959Z") == expected[:2]


def test_a_floating_or_date_until_is_local_to_the_ritual_zone() -> None:
    weekly = "FREQ=WEEKLY;BYDAY=WE;UNTIL="
    expected = [utc(2026, 3, 4, 15), utc(2026, 3, 11, 15), utc(2026, 3, 18, 15)]
    assert starts(weekly + "20260318T160000") == expected  # 16:00 Amsterdam, inclusive
    assert starts(weekly + "20260318T155959") == expected[:2]
    assert starts(weekly + "20260318") == expected  # to the end of that local day


def test_a_first_start_that_does_not_exist_is_refused() -> None:
    with pytest.raises(RecurrenceError, match="does not exist in Europe/Amsterdam"):
        parse_recurrence("FREQ=WEEKLY", datetime(2026, 3, 29, 2, 30), AMS)


def test_an_ambiguous_first_start_is_the_first_of_the_two() -> None:
    recurrence = parse_recurrence("FREQ=WEEKLY", datetime(2026, 10, 25, 2, 30), AMS)
    assert recurrence.first_occurrence() == utc(2026, 10, 25, 0, 30)  # 02:30 summer time


def test_an_occurrence_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    recurrence = parse_recurrence("FREQ=WEEKLY", datetime(2026, 3, 22, 2, 30), AMS)
    assert recurrence.occurrences_between(utc(2026, 3, 21), utc(2026, 4, 1)) == [
        utc(2026, 3, 22, 1, 30),  # 02:30 winter time
        utc(2026, 3, 29, 1, 30),  # 03:30 summer time
    ]


def test_every_expansion_is_bounded_in_count() -> None:
    recurrence = parse_recurrence("FREQ=DAILY", WEDNESDAY, AMS)
    assert len(recurrence.occurrences_between(utc(2026, 3, 1), utc(2026, 3, 31))) == 27
    with pytest.raises(RecurrenceError, match="more than 10 occurrences"):
        recurrence.occurrences_between(utc(2026, 3, 1), utc(2026, 3, 31), limit=10)


def test_a_time_with_an_offset_is_converted_to_the_ritual_zone() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(AMS)
    given = datetime.fromisoformat("2026-05-06T16:00+05:00")
    assert local_time(given, zone) == datetime(2026, 5, 6, 13, 0)
    assert local_time(datetime(2026, 5, 6, 16, 0), zone) == datetime(2026, 5, 6, 16, 0)
    with pytest.raises(RecurrenceError, match="second time"):
        local_time(datetime.fromisoformat("2026-10-25T02:30+01:00"), zone)


def test_a_first_start_more_than_a_year_ago_is_stale() -> None:
    now = utc(2026, 3, 4)
    assert stale_first_start_refusal(now - timedelta(days=300), now) is None
    assert "more than a year before now" in (
        stale_first_start_refusal(now - timedelta(days=400), now) or ""
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"rrule": "FREQ=DAILY;INTERVAL=0"},
        {"rrule": "FREQ=MINUTELY"},
        {"rrule": "every friday"},
        {"first_start": datetime(2026, 3, 29, 2, 30)},
    ],
)
def test_the_event_schema_refuses_what_a_ritual_may_not_be(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        sample_payload(RitualScheduled, **overrides)


def test_a_record_with_a_rule_a_ritual_may_not_have_is_refused_when_decoded() -> None:
    good = event(sample_payload(RitualScheduled))
    raw = encode_event(good).replace(b"FREQ=WEEKLY;BYDAY=FR", b"FREQ=DAILY;INTERVAL=0")
    with pytest.raises(RejectedEvent) as refused:
        decode_event(raw)
    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD
    assert "INTERVAL=0" in str(refused.value)


@pytest.mark.parametrize(
    "first_start",
    [datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=1))), datetime(1, 1, 1, 0, 30)],
)
def test_a_first_start_no_zone_can_convert_is_refused_with_the_reason(
    first_start: datetime,
) -> None:
    with pytest.raises(RecurrenceError, match="outside the dates a time zone can convert"):
        parse_recurrence("FREQ=YEARLY", first_start, "Asia/Tokyo")
