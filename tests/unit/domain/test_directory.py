"""The member directory: the projection of ``rituals.members`` every service builds."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from schemas.base import EventPayload
from schemas.coffee import CoffeeUnmatched
from schemas.members import (
    MemberLeft,
    MemberOptedOut,
    MemberPaused,
    MemberProfileUpdated,
    MemberResumed,
)
from services.common.domain.directory import (
    Member,
    MemberDirectory,
    MemberStatus,
    directory_measures,
)
from tests.factories import ORG, OTHER_ORG, T0, event, member_joined_event, member_profile

MONDAY = T0.date()
NEXT_MONDAY = MONDAY + timedelta(days=7)


def _apply(directory: MemberDirectory, payload: EventPayload, *, org: str = ORG) -> None:
    directory.apply(event(payload, org=org))


def _join(
    directory: MemberDirectory, member_id: str = "m-1", *, org: str = ORG, at: datetime = T0
) -> None:
    directory.apply(member_joined_event(org, member_id, at))


def _apply_at(directory: MemberDirectory, payload: EventPayload, at: datetime) -> None:
    directory.apply(event(payload, time=at))


def _status_of(member: Member | None) -> MemberStatus | None:
    return None if member is None else member.status


def _status(directory: MemberDirectory, member_id: str = "m-1", org: str = ORG) -> MemberStatus:
    member = directory.member(org, member_id)
    assert member is not None, f"{member_id} should be in the directory"
    return member.status


def _taking_part(
    directory: MemberDirectory, on: date = MONDAY, as_of: datetime | None = None
) -> list[str]:
    return [member.member_id for member in directory.taking_part(ORG, on, as_of)]


@pytest.fixture
def directory() -> MemberDirectory:
    return MemberDirectory()


def test_a_joined_member_is_active_from_the_moment_of_joining(directory: MemberDirectory) -> None:
    _join(directory, at=T0)

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.status is MemberStatus.ACTIVE
    assert member.joined_at == T0
    assert member.profile.email == "m-1@example.com"
    assert _taking_part(directory) == ["m-1"]


def test_profile_update_replaces_the_profile_and_keeps_the_status(
    directory: MemberDirectory,
) -> None:
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1"))
    _apply(directory, MemberProfileUpdated.model_validate(member_profile("m-1", team="Data")))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.profile.team == "Data"
    assert member.status is MemberStatus.PAUSED


def test_pause_until_a_day_ends_on_that_day(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1", until=NEXT_MONDAY))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.status is MemberStatus.PAUSED
    assert not member.takes_part_on(NEXT_MONDAY - timedelta(days=1))
    assert member.takes_part_on(NEXT_MONDAY)
    assert member.takes_part_on(NEXT_MONDAY + timedelta(days=30))
    assert _taking_part(directory, MONDAY) == []
    assert _taking_part(directory, NEXT_MONDAY) == ["m-1"]


def test_pause_without_an_end_lasts_until_resumed(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1"))

    assert _taking_part(directory, date(2030, 1, 1)) == []

    _apply(directory, MemberResumed(member_id="m-1"))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.status is MemberStatus.ACTIVE
    assert member.paused_until is None
    assert _taking_part(directory) == ["m-1"]


def test_resume_ends_a_dated_pause_early(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1", until=NEXT_MONDAY))
    _apply(directory, MemberResumed(member_id="m-1"))

    assert _taking_part(directory, MONDAY) == ["m-1"]


def test_opted_out_member_stays_but_takes_no_part_until_resumed(
    directory: MemberDirectory,
) -> None:
    _join(directory)
    _apply(directory, MemberOptedOut(member_id="m-1"))

    assert _status(directory) is MemberStatus.OPTED_OUT
    assert _taking_part(directory) == []

    _apply(directory, MemberPaused(member_id="m-1", until=MONDAY))
    assert _status(directory) is MemberStatus.OPTED_OUT, "a pause does not undo an opt-out"

    _apply(directory, MemberResumed(member_id="m-1"))
    assert _status(directory) is MemberStatus.ACTIVE


def test_a_member_who_left_ignores_everything_but_a_new_join(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, MemberLeft(member_id="m-1", last_day=MONDAY))

    for payload in (
        MemberResumed(member_id="m-1"),
        MemberPaused(member_id="m-1"),
        MemberOptedOut(member_id="m-1"),
    ):
        _apply(directory, payload)
        assert _status(directory) is MemberStatus.LEFT
    assert _taking_part(directory) == []


def test_rejoining_after_leaving_makes_an_active_member_with_a_new_join_time(
    directory: MemberDirectory,
) -> None:
    rejoined_at = T0 + timedelta(days=90)
    _join(directory, at=T0)
    _apply(directory, MemberLeft(member_id="m-1"))
    _join(directory, at=rejoined_at)

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.status is MemberStatus.ACTIVE
    assert member.joined_at == rejoined_at


def test_joining_again_while_a_member_updates_the_profile_only(
    directory: MemberDirectory,
) -> None:
    _join(directory, at=T0)
    _apply(directory, MemberPaused(member_id="m-1", until=NEXT_MONDAY))
    directory.apply(member_joined_event(ORG, "m-1", T0 + timedelta(days=1), team="Data"))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.profile.team == "Data"
    assert (member.status, member.joined_at, member.paused_until) == (
        MemberStatus.PAUSED,
        T0,
        NEXT_MONDAY,
    )


@pytest.mark.parametrize(
    "payload",
    [
        MemberPaused(member_id="ghost"),
        MemberResumed(member_id="ghost"),
        MemberOptedOut(member_id="ghost"),
        MemberLeft(member_id="ghost"),
        MemberProfileUpdated.model_validate(member_profile("ghost")),
    ],
    ids=lambda payload: payload.event_type,
)
def test_events_about_unknown_members_are_ignored(
    directory: MemberDirectory, payload: EventPayload
) -> None:
    _join(directory, "m-1")
    _apply(directory, payload)

    assert directory.member(ORG, "ghost") is None
    assert [member.member_id for member in directory.members(ORG)] == ["m-1"]


def test_other_events_naming_a_member_change_nothing(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, CoffeeUnmatched(round_id="r-1", member_id="m-1", reason="odd count"))

    assert _status(directory) is MemberStatus.ACTIVE


def test_taking_part_can_leave_out_members_who_joined_later(directory: MemberDirectory) -> None:
    _join(directory, "early", at=T0)
    _join(directory, "late", at=T0 + timedelta(hours=2))

    assert _taking_part(directory, as_of=T0 + timedelta(hours=1)) == ["early"]
    assert _taking_part(directory, as_of=T0 + timedelta(hours=2)) == ["early", "late"]
    assert _taking_part(directory) == ["early", "late"]


def test_taking_part_as_of_a_moment_undoes_changes_of_status_dated_later(
    directory: MemberDirectory,
) -> None:
    for member_id in ("paused", "opted-out", "left", "resumed"):
        _join(directory, member_id, at=T0)
    _apply_at(directory, MemberPaused(member_id="resumed"), T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=3)
    _apply_at(directory, MemberPaused(member_id="paused", until=NEXT_MONDAY), later)
    _apply_at(directory, MemberOptedOut(member_id="opted-out"), later)
    _apply_at(directory, MemberLeft(member_id="left"), later)
    _apply_at(directory, MemberResumed(member_id="resumed"), later)

    before = T0 + timedelta(hours=2)
    assert _taking_part(directory, as_of=before) == ["paused", "opted-out", "left"]
    assert _taking_part(directory, as_of=later) == ["resumed"]
    assert _taking_part(directory) == ["resumed"]


def test_as_of_a_moment_before_a_rejoin_finds_the_member_who_left(
    directory: MemberDirectory,
) -> None:
    _join(directory, at=T0)
    _apply_at(directory, MemberLeft(member_id="m-1"), T0 + timedelta(days=1))
    _join(directory, at=T0 + timedelta(days=3))
    member = directory.member(ORG, "m-1")
    assert member is not None

    assert _status_of(member.as_of(T0 + timedelta(hours=1))) is MemberStatus.ACTIVE
    assert _status_of(member.as_of(T0 + timedelta(days=2))) is MemberStatus.LEFT
    assert member.as_of(T0 - timedelta(hours=1)) is None
    assert _taking_part(directory, as_of=T0 + timedelta(days=2)) == []


def test_a_profile_update_is_not_a_change_of_status(directory: MemberDirectory) -> None:
    _join(directory, at=T0)
    _apply_at(
        directory,
        MemberProfileUpdated(**member_profile("m-1", team="Data")),
        T0 + timedelta(hours=5),
    )
    member = directory.member(ORG, "m-1")
    assert member is not None

    assert member.changed_at is None
    assert member.before is None


def test_taking_part_filters_by_status(directory: MemberDirectory) -> None:
    for member_id in ("active", "paused", "opted-out", "left"):
        _join(directory, member_id)
    _apply(directory, MemberPaused(member_id="paused", until=NEXT_MONDAY))
    _apply(directory, MemberOptedOut(member_id="opted-out"))
    _apply(directory, MemberLeft(member_id="left"))

    assert _taking_part(directory, MONDAY) == ["active"]
    assert _taking_part(directory, NEXT_MONDAY) == ["active", "paused"]


def test_members_are_listed_in_order_of_first_join(directory: MemberDirectory) -> None:
    for member_id in ("b", "a", "c"):
        _join(directory, member_id)
    _apply(directory, MemberLeft(member_id="b"))
    _join(directory, "b", at=T0 + timedelta(days=1))

    assert [member.member_id for member in directory.members(ORG)] == ["b", "a", "c"]


def test_organisations_are_isolated(directory: MemberDirectory) -> None:
    _join(directory, "m-1", org=ORG)
    _join(directory, "m-1", org=OTHER_ORG)
    _apply(directory, MemberLeft(member_id="m-1"), org=OTHER_ORG)

    assert _status(directory, "m-1", ORG) is MemberStatus.ACTIVE
    assert _status(directory, "m-1", OTHER_ORG) is MemberStatus.LEFT
    assert directory.member("initech", "m-1") is None
    assert list(directory.members("initech")) == []
    assert set(directory.organisations()) == {ORG, OTHER_ORG}


def test_status_counts_cover_every_organisation(directory: MemberDirectory) -> None:
    for member_id in ("a", "b", "c"):
        _join(directory, member_id)
    _join(directory, "x", org=OTHER_ORG)
    _apply(directory, MemberPaused(member_id="a"))
    _apply(directory, MemberLeft(member_id="x"), org=OTHER_ORG)

    counts = directory.status_counts()

    assert counts == {MemberStatus.ACTIVE: 2, MemberStatus.PAUSED: 1, MemberStatus.LEFT: 1}
    assert directory_measures(directory) == {
        "members_active": 2.0,
        "members_paused": 1.0,
        "members_opted_out": 0.0,
        "members_left": 1.0,
    }


def test_pause_resume_pause_ends_paused_with_the_last_end_date(
    directory: MemberDirectory,
) -> None:
    later = NEXT_MONDAY + timedelta(days=14)
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1", until=NEXT_MONDAY))
    _apply(directory, MemberResumed(member_id="m-1"))
    _apply(directory, MemberPaused(member_id="m-1", until=later))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert (member.status, member.paused_until) == (MemberStatus.PAUSED, later)
    assert not member.takes_part_on(NEXT_MONDAY)
    assert member.takes_part_on(later)


def test_a_second_pause_replaces_the_first_end_date(directory: MemberDirectory) -> None:
    _join(directory)
    _apply(directory, MemberPaused(member_id="m-1", until=NEXT_MONDAY))
    _apply(directory, MemberPaused(member_id="m-1"))

    assert _taking_part(directory, NEXT_MONDAY + timedelta(days=365)) == []


def test_resume_of_an_active_member_changes_nothing(directory: MemberDirectory) -> None:
    _join(directory)
    before = directory.member(ORG, "m-1")
    _apply(directory, MemberResumed(member_id="m-1"))

    assert directory.member(ORG, "m-1") == before
