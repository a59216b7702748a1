"""Member changes, whichever door they come in by: the diff against the directory and the
envelopes the member events are published in."""

from __future__ import annotations

from schemas.members import MemberJoined, MemberProfile, MemberProfileUpdated
from services.common.domain.directory import MemberDirectory
from services.common.member_changes import changes, member_events, profile_changes
from tests.factories import ORG, T0, member_joined_event, member_profile


def directory_with(*member_ids: str) -> MemberDirectory:
    directory = MemberDirectory()
    for member_id in member_ids:
        directory.apply(member_joined_event(ORG, member_id))
    return directory


def test_profile_changes_leave_unnamed_members_alone_where_a_roster_lets_them_go() -> None:
    directory = directory_with("m-1", "m-2")
    moved = MemberProfile.model_validate(member_profile("m-1", team="Data"))
    new = MemberProfile.model_validate(member_profile("m-3"))
    named = profile_changes(directory, ORG, [moved, new])
    assert [type(p) for p in named] == [MemberProfileUpdated, MemberJoined]
    whole = changes(directory, ORG, [moved, new])
    assert [p.event_type for p in whole][-1] == "rituals.member.left"


def test_the_same_profile_again_changes_nothing() -> None:
    directory = directory_with("m-1")
    same = MemberProfile.model_validate(member_profile("m-1"))
    assert profile_changes(directory, ORG, [same]) == []


def test_member_events_carry_the_member_as_subject_from_the_given_source() -> None:
    payload = MemberJoined.model_validate(member_profile("m-9"))
    (event,) = member_events([payload], ORG, T0, "/rituals/gateway")
    assert (event.subject, event.orgid, event.source, event.time) == (
        "m-9",
        ORG,
        "/rituals/gateway",
        T0,
    )
