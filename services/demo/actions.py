"""What the platform did about the organisation's problems, read from the event history: the
demo's closing summary (aggregates only, no names)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas import CloudEvent
from schemas.coffee import CoffeeMatched, CoffeeTeamDigestCompiled
from schemas.onboarding import BuddyReassigned
from services.insights.domain.model import Insights

QUIET_FIRST = "matched first: one of you has had no coffee"
NEW_HIRE_FIRST = "matched first: a new colleague"
NEW_LINK = "coffees together: a new link"


def platform_actions(events: Sequence[CloudEvent[Any]], insights: Insights) -> list[str]:
    groups = [e.data for e in events if isinstance(e.data, CoffeeMatched)]
    digests = [e.data for e in events if isinstance(e.data, CoffeeTeamDigestCompiled)]
    reassigned = [e.data for e in events if isinstance(e.data, BuddyReassigned)]
    suggestions = sum(len(d.suggestions) for d in digests)
    unlinked = [p.teams for p in insights.team_pairs if p.connections == 0]
    lines = [
        f"{_with(groups, QUIET_FIRST)} coffees matched first someone without a coffee "
        "for 4 rounds or more (skipped coffees count as none)",
        f"{_with(groups, NEW_HIRE_FIRST)} coffees matched first a new hire who had met "
        "fewer than 5 people",
        f"{_with(groups, NEW_LINK)} coffees joined two teams with fewer than 3 links",
        f"{len(reassigned)} new hire(s) got a new buddy when theirs paused or left",
        f"{len(digests)} weekly digests to {len({d.lead_id for d in digests})} team leads, "
        f"with {suggestions} concrete pairing(s) for the quiet, new hires and people who met "
        "nobody outside their team",
    ]
    lines += [
        f"{a} and {b} have no direct connection: their working hours barely meet (or not at "
        "all), so no coffee can link them; a shared ritual across their zones could"
        for a, b in unlinked
    ]
    return lines


def _with(groups: Sequence[CoffeeMatched], reason: str) -> int:
    return sum(1 for g in groups if any(reason in r for r in g.reasons))
