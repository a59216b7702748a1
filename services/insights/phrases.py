"""The words of an insights report, the same in the text report and on the HTML page."""

from __future__ import annotations

from services.insights.domain.model import Connector, Insights, MemberRow, TeamPair


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def report_time(insights: Insights) -> str:
    return insights.now.strftime("%Y-%m-%d %H:%M UTC") if insights.now else "no events yet"


def team_pair(pair: TeamPair) -> str:
    return f"{pair.teams[0]} - {pair.teams[1]}"


def linked_pairs(connector: Connector) -> str:
    """The pairs of teams a connector alone links."""
    return ", ".join(f"{a} - {b}" for a, b in connector.links)


def last_touchpoint(member: MemberRow) -> str:
    if member.last_touchpoint is None:
        return "never"
    return f"{member.last_touchpoint.date().isoformat()} ({member.last_kind})"
