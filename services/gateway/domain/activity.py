"""What the read API shows beyond the directory: coffee rounds and their groups, and the
notifications each member was sent (or could not be sent). Folded event by event; pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas import CloudEvent
from schemas.coffee import (
    CoffeeFeedbackGiven,
    CoffeeMatched,
    CoffeeRoundCompleted,
    CoffeeRoundRequested,
    CoffeeUnmatched,
)
from schemas.notifications import NotificationFailed, NotificationSent

NOTIFICATIONS_KEPT_PER_MEMBER = 200
"""The latest notifications a member's list keeps: enough for a dashboard, bounded in memory."""


@dataclass
class Round:
    round_id: str
    requested_at: datetime
    week_starting: date
    groups: dict[str, CoffeeMatched] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    completed: CoffeeRoundCompleted | None = None
    feedback: dict[tuple[str, str], CoffeeFeedbackGiven] = field(default_factory=dict)
    """(group id, member id) -> the latest feedback."""


@dataclass(frozen=True)
class Notification:
    notification_id: str
    source_event_id: str
    channel: str
    template: str | None
    delivered: bool
    time: datetime
    reason: str | None = None


class Activity:
    """Rounds and notifications per organisation."""

    def __init__(self) -> None:
        self._rounds: dict[str, dict[str, Round]] = {}
        self._notifications: dict[tuple[str, str], dict[str, Notification]] = {}

    def apply(self, event: CloudEvent[Any]) -> None:
        payload = event.data
        rounds = self._rounds.setdefault(event.orgid, {})
        match payload:
            case CoffeeRoundRequested():
                rounds.setdefault(
                    payload.round_id,
                    Round(payload.round_id, event.time, payload.week_starting),
                )
            case CoffeeMatched() if payload.round_id in rounds:
                rounds[payload.round_id].groups[payload.group_id] = payload
            case CoffeeUnmatched() if payload.round_id in rounds:
                rounds[payload.round_id].unmatched.append(payload.member_id)
            case CoffeeRoundCompleted() if payload.round_id in rounds:
                rounds[payload.round_id].completed = payload
            case CoffeeFeedbackGiven() if payload.round_id in rounds:
                key = (payload.group_id, payload.member_id)
                rounds[payload.round_id].feedback[key] = payload
            case NotificationSent() | NotificationFailed():
                self._note(event, payload)

    def _note(self, event: CloudEvent[Any], payload: NotificationSent | NotificationFailed) -> None:
        kept = self._notifications.setdefault((event.orgid, payload.recipient_id), {})
        sent = isinstance(payload, NotificationSent)
        kept.pop(payload.notification_id, None)  # a later outcome replaces an earlier one
        kept[payload.notification_id] = Notification(
            notification_id=payload.notification_id,
            source_event_id=payload.source_event_id,
            channel=payload.channel,
            template=payload.template if isinstance(payload, NotificationSent) else None,
            delivered=sent,
            time=event.time,
            reason=None if isinstance(payload, NotificationSent) else payload.reason,
        )
        while len(kept) > NOTIFICATIONS_KEPT_PER_MEMBER:
            del kept[next(iter(kept))]

    def rounds(self, org_id: str) -> list[Round]:
        """The organisation's rounds, latest request first."""
        return sorted(
            self._rounds.get(org_id, {}).values(),
            key=lambda r: (r.requested_at, r.round_id),
            reverse=True,
        )

    def round(self, org_id: str, round_id: str) -> Round | None:
        return self._rounds.get(org_id, {}).get(round_id)

    def notifications(self, org_id: str, member_id: str) -> list[Notification]:
        """The member's notifications, latest first."""
        kept = self._notifications.get((org_id, member_id), {})
        return sorted(kept.values(), key=lambda n: n.time, reverse=True)

    def round_count(self) -> int:
        return sum(len(rounds) for rounds in self._rounds.values())
