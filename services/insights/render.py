"""The report as text (a readable console report) or JSON (the model, for integrations); the
HTML page is in ``page``. The organisation view holds no names: only the team view shows them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from services.insights.domain.model import Insights
from services.insights.page import html_page
from services.insights.phrases import (
    PULSE_QUESTION,
    last_touchpoint,
    linked_pairs,
    next_touchpoint,
    percent,
    pulse_cell,
    pulse_groups,
    report_time,
    team_pair,
    team_pairs_summary,
)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"


WEAKEST_PAIRS = 10
"""Pairs of teams the text report lists."""


def render(insights: Insights, output: Format) -> str:
    if output is Format.JSON:
        return insights.model_dump_json(indent=2) + "\n"
    if output is Format.HTML:
        return html_page(insights)
    return text_report(insights)


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        ("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
        for row in (header, *rows)
    ]


def text_report(insights: Insights) -> str:
    scope = f"team {insights.team}" if insights.team else "organisation view, aggregates only"
    now = report_time(insights)
    status = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in insights.members_by_status.items())
    lines = [
        f"Connection insights: {insights.organisation} ({scope}), at {now}",
        f"Members: {status}; {len(insights.teams)} teams; {insights.events} events",
        "",
        *_coffee(insights),
        "",
        *_rituals(insights),
        "",
        *_pulse(insights),
        "",
        *_connections(insights),
        "",
        *_watchlist(insights),
    ]
    if insights.view == "team":
        lines += ["", *_members(insights)]
    return "\n".join(lines).rstrip() + "\n"


def _coffee(insights: Insights) -> list[str]:
    coffee = insights.coffee
    lines = [
        "Coffee",
        f"  rounds {coffee.rounds}; participation {percent(coffee.participation)} "
        f"(member-rounds); reach {percent(coffee.reach)} of active members",
        f"  coffees that happened {percent(coffee.happened_share)} "
        f"({coffee.groups_met} of {coffee.groups_with_feedback} groups with feedback; "
        f"{coffee.groups} groups)",
    ]
    if insights.rounds:
        lines += _table(
            ("week", "active", "matched", "participation", "cross-team"),
            (
                (
                    r.week_starting.isoformat(),
                    str(r.active),
                    str(r.participants),
                    percent(r.participation),
                    percent(r.cross_team_share),
                )
                for r in insights.rounds
            ),
        )
    return lines


def _rituals(insights: Insights) -> list[str]:
    lines = [f"Rituals: attendance {percent(insights.ritual_attendance)}"]
    if insights.rituals:
        lines += _table(
            ("team", "ritual", "held", "attendance"),
            (
                (r.team, r.title, str(r.occurrences), percent(r.attendance))
                for r in insights.rituals
            ),
        )
    if insights.attendance_weeks:
        weekly = ", ".join(
            f"{w.week_starting.isoformat()} {percent(w.attendance)}"
            for w in insights.attendance_weeks
        )
        lines.append(f"  per week: {weekly}")
    return lines


PULSE_WEEKS = 4
"""Weeks of pulse the text report shows (the latest; JSON and the page have every week)."""


def _pulse(insights: Insights) -> list[str]:
    lines = [f"Pulse: {PULSE_QUESTION}; mean (answers), a figure only from 5 answers"]
    if not insights.pulse:
        return [*lines, "  no answers yet"]
    weeks = sorted({p.week_starting for p in insights.pulse})[-PULSE_WEEKS:]
    found = {(p.week_starting, p.team): p for p in insights.pulse}
    scope = "all" if insights.team is None else insights.team
    lines += _table(
        ("group", *(w.isoformat() for w in weeks)),
        (
            (scope if team is None else team, *(pulse_cell(found.get((w, team))) for w in weeks))
            for team in pulse_groups(insights)
        ),
    )
    return lines


def _connections(insights: Insights) -> list[str]:
    c = insights.connections
    kinds = ", ".join(f"{n} {kind}" for kind, n in c.by_kind.items())
    sizes = ", ".join(map(str, c.component_sizes[:8])) + (
        ", ..." if len(c.component_sizes) > 8 else ""
    )
    lines = [
        "Connections",
        f"  {c.connections} connections ({kinds}); cross-team {percent(c.cross_team_share)}",
        f"  colleagues met per active member: mean {number(c.colleagues_met_mean)}, "
        f"median {number(c.colleagues_met_median)}",
        f"  {c.components} connected component(s) of {c.members} members"
        + (f" (sizes {sizes})" if sizes else "")
        + f"; {c.isolated} without any connection",
    ]
    lines.append(f"  {team_pairs_summary(insights)}")
    # The weakest pairs first: those not linked at all, the fragile ones, the fewest connections.
    weakest = sorted(
        insights.team_pairs,
        key=lambda p: (p.linked, -(p.bridges + p.connectors), p.connections, p.teams),
    )
    if weakest:
        lines.append(
            f"  the {min(len(weakest), WEAKEST_PAIRS)} least connected pairs of teams"
            + (
                f" (of {len(weakest)}; all in --format json or html)"
                if len(weakest) > WEAKEST_PAIRS
                else ""
            )
        )
        lines += _table(
            ("teams", "connections", "linked", "bridges", "connectors"),
            (
                (
                    team_pair(p),
                    str(p.connections),
                    "yes" if p.linked else "no",
                    str(p.bridges),
                    str(p.connectors),
                )
                for p in weakest[:WEAKEST_PAIRS]
            ),
        )
    for connector in insights.connectors:
        lines.append(
            f"  connector: {connector.name} ({connector.team}) alone links "
            f"{linked_pairs(connector)}"
        )
    return lines


def _watchlist(insights: Insights) -> list[str]:
    w = insights.watchlist
    lines = [
        f"Watchlist: active members without a social touchpoint in {w.quiet_weeks} weeks; "
        f"new hires with fewer than {w.min_new_hire_connections} connections after "
        f"{w.new_hire_days} days",
        *_table(
            ("team", "active", "quiet", "new hires"),
            (
                (c.team, str(c.active), str(c.quiet), str(c.new_hires_few_connections))
                for c in w.counts
            ),
        ),
    ]
    for entry in w.people:
        reason = "quiet" if entry.reason == "quiet" else "new hire"
        lines.append(f"  - {entry.name}: {reason}, {entry.detail}")
    return lines


def _members(insights: Insights) -> list[str]:
    return [
        "Members",
        *_table(
            ("name", "status", "connections", "cross-team", "last touchpoint", "upcoming"),
            (
                (
                    m.name + (" (new hire)" if m.new_hire else ""),
                    m.status.replace("_", " "),
                    str(m.connections),
                    str(m.cross_team),
                    last_touchpoint(m),
                    next_touchpoint(m),
                )
                for m in insights.members
            ),
        ),
    ]
