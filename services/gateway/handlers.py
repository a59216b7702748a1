"""Events in, read state out: the gateway's processor. It decides nothing (``decide`` is the
directory's empty answer); it only keeps what the HTTP surface reads."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import CloudEvent
from schemas.members import MemberJoined, MemberProfileUpdated
from services.common.domain.projection import DirectoryProcessor
from services.gateway.domain.activity import Activity
from services.gateway.domain.insights_feed import InsightsFeed


class GatewayProcessor(DirectoryProcessor):
    """The member directory, coffee rounds and groups, every member's notifications, and what
    the insights report is computed from."""

    def __init__(self) -> None:
        super().__init__()
        self.activity = Activity()
        self.insights = InsightsFeed()
        self.profile_changed_at: dict[tuple[str, str], datetime] = {}
        """(organisation, member id) -> domain time of the member's latest joined or
        profile_updated: a SCIM User's lastModified."""

    def apply(self, event: CloudEvent[Any]) -> None:
        super().apply(event)
        if isinstance(event.data, MemberJoined | MemberProfileUpdated):
            self.profile_changed_at[(event.orgid, event.data.member_id)] = event.time
        self.activity.apply(event)
        self.insights.apply(event)

    def measures(self) -> Mapping[str, float]:
        return {**super().measures(), "coffee_rounds": float(self.activity.round_count())}
