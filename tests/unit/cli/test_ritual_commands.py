"""What ``ritual schedule`` and ``ritual held`` refuse before anything is published (end to end
in tests/integration/test_cli_commands.py). The command's now is an input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import CloudEvent
from schemas.members import MemberLeft, MemberProfileUpdated
from schemas.rituals import RitualCancelled, RitualHeld, RitualScheduled
from services.cli.rituals import (
    HeldOccurrence,
    RefusedError,
    held_occurrence,
    local_first_start,
    schedule_refusal,
    schedule_warnings,
)
from tests.factories import ORG, event, member_joined_event, member_profile

AMS = "Europe/Amsterdam"
FIRST = datetime(2026, 3, 6, 16, 0)  # a Friday, 15:00 UTC
NOW = datetime(2026, 3, 21, 12, 0, tzinfo=UTC)  # after the drinks of 6, 13 and 20 March


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def drinks(**overrides: Any) -> RitualScheduled:
    fields: dict[str, Any] = {
        "ritual_id": "fri-drinks",
        "team": "Platform",
        "title": "Friday drinks",
        "rrule": "FREQ=WEEKLY;BYDAY=FR",
        "timezone": AMS,
        "first_start": FIRST,
        **overrides,
    }
    return RitualScheduled(**fields)


def history(*extra: CloudEvent[Any]) -> list[CloudEvent[Any]]:
    joined = utc(1, 5, 9)
    return [
        member_joined_event(member_id="ada", time=joined),
        member_joined_event(member_id="bram", time=joined),
        member_joined_event(member_id="chloe", time=joined, team="Payments"),
        event(drinks(), time=utc(3, 1, 9), subject="fri-drinks"),
        *extra,
    ]


def held(
    occurrence: datetime, *attendees: str, events: list[CloudEvent[Any]] | None = None
) -> HeldOccurrence:
    return held_occurrence(
        history() if events is None else events, ORG, "fri-drinks", occurrence, attendees, NOW
    )


# -- ritual schedule -------------------------------------------------------------------------


def test_a_first_start_with_an_offset_is_converted_to_the_ritual_zone() -> None:
    given = datetime.fromisoformat("2026-05-06T16:00+05:00")
    assert local_first_start(given, AMS) == datetime(2026, 5, 6, 13, 0)  # 11:00 UTC
    assert local_first_start(FIRST, AMS) == FIRST


def test_a_first_start_the_zone_skips_or_an_unknown_zone_is_refused() -> None:
    with pytest.raises(RefusedError, match="does not exist in Europe/Amsterdam"):
        local_first_start(datetime(2026, 3, 29, 2, 30), AMS)
    with pytest.raises(RefusedError, match="unknown time zone 'Nowhere'"):
        local_first_start(FIRST, "Nowhere")


def test_a_team_without_members_is_refused() -> None:
    refusal = schedule_refusal(history(), ORG, drinks(team="Platfrom"), NOW)
    assert refusal == (
        "team 'Platfrom' has no members in organisation 'acme' (teams: Payments, Platform)"
    )
    assert schedule_refusal([], ORG, drinks(), NOW) is not None
    assert schedule_refusal(history(), ORG, drinks(), NOW) is None


def test_a_team_whose_members_all_left_is_refused() -> None:
    gone = [event(MemberLeft(member_id="chloe"), time=utc(2, 1, 9), subject="chloe")]
    assert "'Payments' has no members" in (
        schedule_refusal(history(*gone), ORG, drinks(team="Payments"), NOW) or ""
    )


def test_a_new_series_starting_more_than_a_year_ago_is_refused_a_reschedule_is_not() -> None:
    old = datetime(2025, 1, 3, 16, 0)
    later = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert "more than a year before now" in (
        schedule_refusal(history(), ORG, drinks(first_start=old), later) or ""
    )
    existing = history(event(drinks(first_start=old), time=utc(1, 1, 9)))
    assert schedule_refusal(existing, ORG, drinks(first_start=old, title="Drinks"), later) is None


def test_a_series_with_no_occurrence_after_now_is_accepted_with_a_warning() -> None:
    ended = drinks(rrule="FREQ=WEEKLY;BYDAY=FR;COUNT=2")
    assert schedule_warnings(ended, NOW) == [
        "the rule 'FREQ=WEEKLY;BYDAY=FR;COUNT=2' has no occurrence after now "
        "(2026-03-21T12:00:00+00:00): nobody will be reminded"
    ]
    assert schedule_warnings(drinks(), NOW) == []


# -- ritual held -----------------------------------------------------------------------------


def test_an_occurrence_is_read_local_to_the_ritual_zone_unless_it_has_an_offset() -> None:
    local = held(datetime(2026, 3, 13, 16, 0), "ada", "bram")
    assert local.occurrence_start == utc(3, 13, 15)
    assert local.attendee_ids == ("ada", "bram")
    assert held(datetime(2026, 3, 13, 15, 0, tzinfo=UTC)).occurrence_start == utc(3, 13, 15)


def test_an_unknown_ritual_is_refused() -> None:
    with pytest.raises(RefusedError, match="no ritual 'fri-drinks' was scheduled"):
        held(datetime(2026, 3, 13, 16, 0), events=history()[:3])


def test_a_time_that_is_not_an_occurrence_is_refused() -> None:
    # 16:00 UTC is 17:00 in Amsterdam: read as UTC it would be an hour off.
    with pytest.raises(RefusedError, match="is not an occurrence of 'fri-drinks'"):
        held(datetime(2026, 3, 13, 16, 0, tzinfo=UTC))
    with pytest.raises(RefusedError, match=r"latest by now: 2026-03-20T16:00"):
        held(datetime(2026, 3, 12, 16, 0))


def test_a_future_occurrence_is_refused() -> None:
    with pytest.raises(RefusedError, match="after now"):
        held(datetime(2026, 3, 27, 16, 0))


def test_an_occurrence_recorded_already_or_cancelled_is_refused() -> None:
    recorded = RitualHeld(ritual_id="fri-drinks", occurrence_start=utc(3, 13, 15))
    with pytest.raises(RefusedError, match="already recorded as held"):
        held(datetime(2026, 3, 13, 16, 0), events=history(event(recorded)))
    cancelled = RitualCancelled(ritual_id="fri-drinks", occurrence_start=utc(3, 13, 15))
    with pytest.raises(RefusedError, match="was cancelled"):
        held(datetime(2026, 3, 13, 16, 0), events=history(event(cancelled)))
    series = event(RitualCancelled(ritual_id="fri-drinks"), time=utc(3, 16, 9))
    assert held(datetime(2026, 3, 13, 16, 0), events=history(series))
    with pytest.raises(RefusedError, match="series 'fri-drinks' was cancelled before"):
        held(datetime(2026, 3, 20, 16, 0), events=history(series))


def test_unknown_members_members_of_another_team_and_duplicates_are_refused() -> None:
    with pytest.raises(RefusedError, match="no member 'nobody'"):
        held(datetime(2026, 3, 13, 16, 0), "ada", "nobody")
    with pytest.raises(RefusedError, match="'chloe' is not in team 'Platform'"):
        held(datetime(2026, 3, 13, 16, 0), "chloe")
    with pytest.raises(RefusedError, match="given twice: ada"):
        held(datetime(2026, 3, 13, 16, 0), "ada", "ada")


def test_a_member_who_moved_teams_since_may_still_be_recorded() -> None:
    moved = MemberProfileUpdated.model_validate(member_profile("ada", team="Payments"))
    events = history(event(moved, time=utc(3, 15, 9), subject="ada"))
    assert held(datetime(2026, 3, 13, 16, 0), "ada", events=events).attendee_ids == ("ada",)
