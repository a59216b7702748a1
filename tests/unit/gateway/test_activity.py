"""The read model of rounds and notifications: folded event by event, one entry per
notification (its latest outcome), bounded per member."""

from __future__ import annotations

from datetime import timedelta

from schemas.coffee import CoffeeMatched, CoffeeRoundRequested, CoffeeUnmatched
from schemas.notifications import NotificationFailed, NotificationSent
from services.gateway.domain.activity import NOTIFICATIONS_KEPT_PER_MEMBER, Activity
from tests.factories import ORG, OTHER_ORG, T0, event, sample_payload


def test_a_round_gathers_its_groups_and_unmatched_and_stays_in_its_organisation() -> None:
    activity = Activity()
    for payload in (
        sample_payload(CoffeeRoundRequested),
        sample_payload(CoffeeMatched),
        sample_payload(CoffeeUnmatched),
    ):
        activity.apply(event(payload))
    (found,) = activity.rounds(ORG)
    assert list(found.groups) == ["g-1"]
    assert found.unmatched == ["m-3"]
    assert activity.rounds(OTHER_ORG) == []
    assert activity.round(OTHER_ORG, found.round_id) is None


def test_groups_of_an_unknown_round_are_left_out() -> None:
    activity = Activity()
    activity.apply(event(sample_payload(CoffeeMatched)))
    assert activity.rounds(ORG) == []


def test_a_notification_shows_its_latest_outcome_once() -> None:
    activity = Activity()
    failed = sample_payload(NotificationFailed, notification_id="n-1", recipient_id="m-1")
    sent = sample_payload(NotificationSent, notification_id="n-1", recipient_id="m-1")
    activity.apply(event(failed))
    activity.apply(event(sent, time=T0 + timedelta(minutes=5)))
    (notification,) = activity.notifications(ORG, "m-1")
    assert notification.delivered is True
    assert notification.reason is None


def test_a_member_keeps_the_latest_notifications_only() -> None:
    activity = Activity()
    for number in range(NOTIFICATIONS_KEPT_PER_MEMBER + 5):
        sent = sample_payload(NotificationSent, notification_id=f"n-{number}")
        activity.apply(event(sent, time=T0 + timedelta(minutes=number)))
    kept = activity.notifications(ORG, "m-1")
    assert len(kept) == NOTIFICATIONS_KEPT_PER_MEMBER
    assert kept[0].notification_id == f"n-{NOTIFICATIONS_KEPT_PER_MEMBER + 4}"
    assert "n-0" not in {n.notification_id for n in kept}
