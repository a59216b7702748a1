"""What is held about one person (Art. 15): their events by section, others by id only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import CloudEvent
from schemas.coffee import CoffeeFeedbackGiven, CoffeeMatched
from schemas.members import MemberJoined, MemberPaused
from schemas.notifications import NotificationSent
from schemas.onboarding import BuddyAssigned
from schemas.rituals import RitualHeld, RitualScheduled
from services.cli.member_data import UnknownMemberError, member_data
from tests.factories import event, member_profile, sample_payload

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def history() -> list[CloudEvent[Any]]:
    return [
        event(MemberJoined.model_validate(member_profile("m-1", team="Platform"))),
        event(MemberJoined.model_validate(member_profile("m-2", team="Data"))),
        event(MemberPaused(member_id="m-1")),
        event(sample_payload(CoffeeMatched)),  # m-1 with m-2
        event(sample_payload(CoffeeFeedbackGiven)),  # from m-1
        event(sample_payload(BuddyAssigned)),  # m-1 is the buddy of m-9
        event(sample_payload(RitualScheduled, team="Platform")),
        event(sample_payload(RitualScheduled, ritual_id="data-lunch", team="Data")),
        event(sample_payload(RitualHeld, attendee_ids=("m-1",))),
        event(sample_payload(NotificationSent)),  # to m-1
        event(sample_payload(NotificationSent, recipient_id="m-2", notification_id="e/m-2/x")),
        event(MemberJoined.model_validate(member_profile("m-1", team="Platform")), org="globex"),
    ]


def test_everything_about_the_member_is_in_its_section_and_nothing_else() -> None:
    document = member_data(history(), "acme", "m-1", NOW)
    assert document["profile"]["member_id"] == "m-1"
    types = {
        section: [e["type"] for e in document[section]]
        for section in document
        if isinstance(document[section], list)
    }
    assert types == {
        "membership": ["rituals.member.joined", "rituals.member.paused"],
        "coffee": ["rituals.coffee.matched", "rituals.coffee.feedback_given"],
        "onboarding": ["rituals.onboarding.buddy_assigned"],
        "rituals": ["rituals.ritual.scheduled", "rituals.ritual.held"],
        "notifications": ["rituals.notification.sent"],
    }
    (group,) = document["coffee"][:1]
    own, other = group["data"]["participants"]
    assert own["timezone"] == "Europe/Amsterdam"
    assert other == {"member_id": "m-2"}  # the other person by id only


def test_a_member_the_organisation_never_had_is_refused() -> None:
    with pytest.raises(UnknownMemberError, match="no member 'm-7'"):
        member_data(history(), "acme", "m-7", NOW)
