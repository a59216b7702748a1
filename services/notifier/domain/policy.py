"""Which channels reach a member, from their preference and their organisation's defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from schemas.base import Channel
from schemas.members import MemberProfile


@dataclass(frozen=True)
class OrganisationPolicy:
    default_channel: Channel = "console"
    default_language: str = "en"
    available_channels: frozenset[Channel] = frozenset({"email", "console"})
    """Channels configured for the organisation (a Slack channel needs a webhook URL, ...)."""


PolicyLookup = Callable[[str], OrganisationPolicy]
"""The policy of an organisation, by its id."""


def default_policy(_org_id: str) -> OrganisationPolicy:
    return OrganisationPolicy()


def channels_for(profile: MemberProfile, policy: OrganisationPolicy) -> tuple[Channel, ...]:
    """Every channel the member chose that is configured, in their order; the organisation's
    default when they chose none (or none of theirs is configured)."""
    chosen = tuple(
        dict.fromkeys(c for c in profile.notification_channels if c in policy.available_channels)
    )
    return chosen or (policy.default_channel,)
