"""SCIM Users as member profiles: the mapping both ways, what SCIM does not manage is kept, and
a User that cannot be a member is refused naming the attribute, not its value."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from schemas.members import MemberPaused, MemberProfile, MemberResumed
from services.common.domain.directory import Member, MemberStatus
from services.gateway.domain.scim_users import (
    CORE_USER,
    ENTERPRISE_USER,
    RITUALS_MEMBER,
    ScimInputError,
    activation_changes,
    document_of,
    is_active,
    profile_of,
    scim_provider,
    user_model,
)
from tests.factories import member_profile

TODAY = date(2026, 3, 2)
MOMENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def user(**changes: Any) -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE_USER, RITUALS_MEMBER],
        "userName": "ada@example.com",
        "displayName": "Ada Lovelace",
        "emails": [
            {"value": "ada.private@example.org", "type": "home"},
            {"value": "ada@example.com", "type": "work", "primary": True},
        ],
        "timezone": "Europe/London",
        "preferredLanguage": "en-GB",
        ENTERPRISE_USER: {"department": "Engineering", "manager": {"value": "grace"}},
        RITUALS_MEMBER: {"team": "Engines"},
        **changes,
    }


def test_a_new_user_becomes_a_member_starting_today_with_default_hours() -> None:
    profile = profile_of(user(), None, TODAY)
    assert profile.member_id == "ada@example.com"
    assert profile.display_name == "Ada Lovelace"
    assert profile.email == "ada@example.com"  # the primary address
    assert (profile.team, profile.department) == ("Engines", "Engineering")
    assert profile.manager_id == "grace"
    assert profile.timezone == "Europe/London"
    assert profile.languages == ("en-GB",)
    assert profile.start_date == TODAY
    assert profile.working_hours.days == ("mon", "tue", "wed", "thu", "fri")


def test_a_replacement_keeps_what_scim_does_not_manage() -> None:
    fields = member_profile("ada@example.com", email="ada@example.com", languages=("nl", "en"))
    current = MemberProfile.model_validate(fields)
    profile = profile_of(user(preferredLanguage="en"), current, TODAY)
    assert profile.languages == ("en", "nl")
    assert profile.interests == current.interests
    assert profile.office_days == current.office_days
    assert profile.start_date == current.start_date


def test_without_the_rituals_extension_the_team_is_the_department() -> None:
    document = user()
    del document[RITUALS_MEMBER]
    profile = profile_of(document, None, TODAY)
    assert profile.team == "Engineering"
    shown = document_of(profile, MOMENT, MOMENT)
    assert RITUALS_MEMBER not in shown
    assert RITUALS_MEMBER not in shown["schemas"]


def test_a_member_reads_back_as_the_user_it_came_from() -> None:
    profile = profile_of(user(), None, TODAY)
    shown = document_of(profile, MOMENT, MOMENT)
    model = user_model(scim_provider())(scim_provider().resource_types[0])
    parsed = model.model_validate(shown).model_dump(mode="json")
    assert profile_of(parsed, profile, TODAY) == profile
    assert shown["id"] == shown["userName"] == "ada@example.com"
    assert shown[ENTERPRISE_USER]["manager"] == {"value": "grace", "$ref": "Users/grace"}
    assert (
        shown["meta"]["version"]
        != document_of(profile.model_copy(update={"team": "Wheels"}), MOMENT, MOMENT)["meta"][
            "version"
        ]
    )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"preferredLanguage": "English please"}, "preferredLanguage"),
        ({"userName": "ada lovelace"}, "userName"),
        ({"emails": [{"value": "not an address"}]}, "emails"),
        ({"emails": []}, "emails"),
        ({"displayName": "   "}, "displayName"),
        ({ENTERPRISE_USER: {}}, "department"),
    ],
)
def test_a_user_that_cannot_be_a_member_is_refused_naming_the_attribute(
    changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(ScimInputError) as refused:
        profile_of(user(**changes), None, TODAY)
    assert named in str(refused.value.detail)
    for value in changes.values():
        if isinstance(value, str) and value.strip():
            assert value not in str(refused.value.detail)


def a_member(status: MemberStatus, paused_until: date | None = None) -> Member:
    profile = MemberProfile.model_validate(member_profile("m-1"))
    return Member(profile, status, MOMENT, paused_until=paused_until)


OPEN_PAUSE = MemberPaused(member_id="m-1", until=None)


@pytest.mark.parametrize(
    ("current", "active", "events"),
    [
        (None, False, [OPEN_PAUSE]),  # created deactivated
        (None, True, []),
        (a_member(MemberStatus.ACTIVE), False, [OPEN_PAUSE]),
        (a_member(MemberStatus.ACTIVE), True, []),
        (a_member(MemberStatus.ACTIVE), None, []),
        (a_member(MemberStatus.ACTIVE), "false", []),  # only a boolean asks
        (a_member(MemberStatus.PAUSED, date(2026, 4, 1)), False, [OPEN_PAUSE]),
        (a_member(MemberStatus.PAUSED, date(2026, 4, 1)), True, []),  # their own pause stays
        (a_member(MemberStatus.PAUSED), False, []),  # deactivated already
        (a_member(MemberStatus.PAUSED), True, [MemberResumed(member_id="m-1")]),
        (a_member(MemberStatus.OPTED_OUT), False, []),  # takes part in nothing already
        (a_member(MemberStatus.OPTED_OUT), True, []),  # their own opt-out stays
    ],
)
def test_scim_active_pauses_and_resumes_only_what_it_paused(
    current: Member | None, active: object, events: list[Any]
) -> None:
    assert activation_changes("m-1", current, active) == events


@pytest.mark.parametrize(
    ("member", "shown"),
    [
        (a_member(MemberStatus.ACTIVE), True),
        (a_member(MemberStatus.PAUSED, date(2026, 4, 1)), True),
        (a_member(MemberStatus.OPTED_OUT), True),
        (a_member(MemberStatus.PAUSED), False),
    ],
)
def test_only_a_pause_without_end_reads_as_inactive(member: Member, shown: bool) -> None:
    assert is_active(member) is shown
