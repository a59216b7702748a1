"""The words of an insights report, the same in the text report and on the HTML page."""

from __future__ import annotations

from services.common.domain.pulse import FEWER_THAN_MIN
from services.insights.domain.model import Connector, Insights, MemberRow, PulseWeek, TeamPair

PULSE_QUESTION = "How connected did you feel to your colleagues this week? (1-5)"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def report_time(insights: Insights) -> str:
    return insights.now.strftime("%Y-%m-%d %H:%M UTC") if insights.now else "no events yet"


def team_pair(pair: TeamPair) -> str:
    return f"{pair.teams[0]} - {pair.teams[1]}"


def team_pairs_summary(insights: Insights) -> str:
    """The pairs of teams by both measures: a direct connection between them, and a path of
    connections (through anyone); the fragile ones are among the linked ones."""
    pairs = insights.team_pairs
    direct = sum(p.connections > 0 for p in pairs)
    linked = sum(p.linked for p in pairs)
    fragile = sum(bool(p.bridges or p.connectors) for p in pairs)
    return (
        f"{len(pairs)} pair(s) of teams: {direct} with a direct connection; "
        f"{linked} linked by a path of connections, {fragile} of them through a single link "
        f"or person; {len(pairs) - linked} not linked"
    )


def pulse_cell(figure: PulseWeek | None) -> str:
    """A group's pulse of a week: the mean and its answers, or no figure below 5 answers."""
    if figure is None or figure.answers == 0:
        return "-"
    if figure.mean is None:
        return FEWER_THAN_MIN if figure.answers < 5 else "withheld"
    return f"{figure.mean:.2f} ({figure.answers})"


def pulse_groups(insights: Insights) -> list[str | None]:
    """The scope (None), then each team with answers, in name order."""
    teams = sorted({p.team for p in insights.pulse if p.team is not None})
    return [None, *teams]


def next_touchpoint(member: MemberRow) -> str:
    if member.next_touchpoint is None:
        return "-"
    return f"{member.next_touchpoint.date().isoformat()} ({member.next_kind})"


def linked_pairs(connector: Connector) -> str:
    """The pairs of teams a connector alone links."""
    return ", ".join(f"{a} - {b}" for a, b in connector.links)


def last_touchpoint(member: MemberRow) -> str:
    if member.last_touchpoint is None:
        return "never"
    return f"{member.last_touchpoint.date().isoformat()} ({member.last_kind})"
