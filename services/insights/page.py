"""The report as ONE self-contained HTML page: inline CSS and SVG charts drawn here, no script,
no external URL. Every text is escaped. The graph layout is deterministic (a seeded spring
layout), so the same history always draws the same page."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import networkx as nx

from services.insights.domain.model import Graph, Insights
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

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
LAYOUT_SEED = 7
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:left}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.figures{display:flex;flex-wrap:wrap;gap:1rem}.figure{border:1px solid #ddd;border-radius:6px;
padding:.6rem 1rem;min-width:10rem}.figure b{display:block;font-size:1.4rem}
.note{color:#666;font-size:.9rem}.legend span{margin-right:1rem;white-space:nowrap}
.swatch{display:inline-block;width:.8rem;height:.8rem;border-radius:50%;margin-right:.3rem}
svg{background:#fff;border:1px solid #eee}
"""


def _colours(insights: Insights) -> dict[str, str]:
    return {team: PALETTE[n % len(PALETTE)] for n, team in enumerate(insights.teams)}


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(label: str, value: str) -> str:
    return f'<div class="figure"><b>{escape(value)}</b>{escape(label)}</div>'


def line_chart(title: str, labels: Sequence[str], values: Sequence[float | None]) -> str:
    """A share (0..1) over time as an SVG polyline with points; gaps where there is no value."""
    width, height, left, bottom, top = 640, 220, 44, 36, 12
    plot_w, plot_h = width - left - 40, height - bottom - top
    step = plot_w / max(len(values) - 1, 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return left + index * step, top + plot_h * (1 - value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        _, y = xy(0, tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 12}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{tick:.0%}</text>"
        )
    points = [xy(n, v) for n, v in enumerate(values) if v is not None]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#4e79a7" stroke-width="2"/>')
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#4e79a7"/>' for x, y in points]
    every = max(1, -(-len(labels) // 6))  # at most six dates: they must not overlap
    for n, label in enumerate(labels):
        if n % every == 0:
            x, _ = xy(n, 0)
            parts.append(
                f'<text x="{x:.1f}" y="{height - 14}" font-size="11" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """Positions in [0, 1]², the same for the same graph (seeded spring layout)."""
    g = nx.Graph()
    g.add_nodes_from(node.key for node in graph.nodes)
    g.add_edges_from((edge.a, edge.b) for edge in graph.edges)
    if not g:
        return {}
    positions = nx.spring_layout(g, seed=LAYOUT_SEED, iterations=100)
    xs = [float(p[0]) for p in positions.values()]
    ys = [float(p[1]) for p in positions.values()]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {
        key: ((float(p[0]) - min(xs)) / span_x, (float(p[1]) - min(ys)) / span_y)
        for key, p in positions.items()
    }


def graph_svg(insights: Insights) -> str:
    """Who met whom: members as circles coloured by team, connections as lines (cross-team
    ones darker); names only in the team view, for the team's members."""
    size, margin = 720, 30
    colours = _colours(insights)
    positions = layout(insights.graph)

    def at(key: str) -> tuple[float, float]:
        x, y = positions[key]
        return margin + x * (size - 2 * margin), margin + y * (size - 2 * margin)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
        'aria-label="Connection graph"><title>Connection graph</title>'
    ]
    for edge in insights.graph.edges:
        (x1, y1), (x2, y2) = at(edge.a), at(edge.b)
        stroke = (
            'stroke="#555" stroke-opacity="0.5"'
            if edge.cross_team
            else ('stroke="#bbb" stroke-opacity="0.35"')
        )
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {stroke}/>')
    for node in insights.graph.nodes:
        x, y = at(node.key)
        tip = escape(node.team if node.label is None else f"{node.label} ({node.team})")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colours.get(node.team, "#999")}" '
            f'stroke="#fff"><title>{tip}</title></circle>'
        )
        if node.label is not None:
            parts.append(
                f'<text x="{x + 7:.1f}" y="{y + 4:.1f}" font-size="10">{escape(node.label)}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="swatch" style="background:{colour}"></i>{escape(team)}</span>'
        for team, colour in colours.items()
    )
    return f'{"".join(parts)}<p class="legend">{legend}</p>'


def _pulse_section(insights: Insights) -> list[str]:
    """The pulse per week and group: the scope's trend as a chart (the 1-5 mean as a share of
    the scale), every group's figure in a table; no figure below 5 answers."""
    weeks = sorted({p.week_starting for p in insights.pulse})
    found = {(p.week_starting, p.team): p for p in insights.pulse}
    scope = [found.get((w, None)) for w in weeks]
    label = "all" if insights.team is None else insights.team
    return [
        "<h2>Pulse</h2>",
        f'<p class="note">{escape(PULSE_QUESTION)} Mean score (answers); a group shows a '
        "figure only from 5 answers, so no answer can be traced to a person.</p>",
        line_chart(
            "Pulse per week (1 at the bottom, 5 at the top)",
            [w.isoformat() for w in weeks],
            [None if p is None or p.mean is None else (p.mean - 1) / 4 for p in scope],
        )
        if weeks
        else '<p class="note">No answers yet.</p>',
        _table(
            ("group", *(w.isoformat() for w in weeks)),
            [
                (
                    label if team is None else team,
                    *(pulse_cell(found.get((w, team))) for w in weeks),
                )
                for team in pulse_groups(insights)
            ]
            if weeks
            else [],
        ),
    ]


def html_page(insights: Insights) -> str:
    title = f"Connection insights: {insights.organisation}" + (
        f", team {insights.team}" if insights.team else ""
    )
    when = report_time(insights)
    coffee, c, w = insights.coffee, insights.connections, insights.watchlist
    weeks = [r.week_starting.isoformat() for r in insights.rounds]
    sections = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Domain time {escape(when)}; {insights.events} events. '
        + (
            "Team view: names are shown, for the team's lead acting as connector."
            if insights.view == "team"
            else "Organisation view: aggregate numbers only, no names."
        )
        + "</p>",
        '<div class="figures">',
        _figure("participation (member-rounds)", percent(coffee.participation)),
        _figure("coffees that happened", percent(coffee.happened_share)),
        _figure("colleagues met, median", f"{c.colleagues_met_median or 0:.0f}"),
        _figure("cross-team connections", percent(c.cross_team_share)),
        _figure("ritual attendance", percent(insights.ritual_attendance)),
        _figure("connected components", str(c.components)),
        "</div>",
        "<h2>Participation per round</h2>",
        line_chart("Participation per round", weeks, [r.participation for r in insights.rounds]),
        "<h2>Cross-team share of coffee pairs per round</h2>",
        line_chart(
            "Cross-team share per round", weeks, [r.cross_team_share for r in insights.rounds]
        ),
        _table(
            ("week", "active", "matched", "participation", "pairs", "cross-team"),
            [
                (
                    r.week_starting.isoformat(),
                    r.active,
                    r.participants,
                    percent(r.participation),
                    r.pairs,
                    percent(r.cross_team_share),
                )
                for r in insights.rounds
            ],
        ),
        "<h2>Who met whom</h2>",
        f'<p class="note">{c.connections} connections ('
        + escape(", ".join(f"{n} {k}" for k, n in c.by_kind.items()))
        + f"); {c.members} members in {c.components} component(s); {c.isolated} without any "
        "connection.</p>",
        graph_svg(insights),
        "<h2>Between teams</h2>",
        f'<p class="note">{escape(team_pairs_summary(insights))}.</p>',
        _table(
            ("teams", "connections", "linked", "bridges", "connectors"),
            [
                (team_pair(p), p.connections, "yes" if p.linked else "no", p.bridges, p.connectors)
                for p in insights.team_pairs
            ],
        ),
    ]
    if insights.connectors:
        sections.append(
            _table(
                ("connector", "team", "alone links"),
                [(k.name, k.team, linked_pairs(k)) for k in insights.connectors],
            )
        )
    sections += [
        "<h2>Rituals</h2>",
        _table(
            ("team", "ritual", "held", "attendance"),
            [(r.team, r.title, r.occurrences, percent(r.attendance)) for r in insights.rituals],
        ),
        "<h2>Ritual attendance per week</h2>",
        line_chart(
            "Ritual attendance per week",
            [a.week_starting.isoformat() for a in insights.attendance_weeks],
            [a.attendance for a in insights.attendance_weeks],
        ),
        *_pulse_section(insights),
        "<h2>Watchlist</h2>",
        f'<p class="note">Active members without a social touchpoint in {w.quiet_weeks} weeks; '
        f"new hires with fewer than {w.min_new_hire_connections} connections after "
        f"{w.new_hire_days} days.</p>",
        _table(
            ("team", "active", "quiet", "new hires"),
            [(t.team, t.active, t.quiet, t.new_hires_few_connections) for t in w.counts],
        ),
    ]
    if w.people:
        sections.append(
            _table(("name", "why", "detail"), [(e.name, e.reason, e.detail) for e in w.people])
        )
    if insights.members:
        sections += [
            "<h2>Members</h2>",
            _table(
                ("name", "status", "connections", "cross-team", "last touchpoint", "upcoming"),
                [
                    (
                        m.name,
                        m.status.replace("_", " "),
                        m.connections,
                        m.cross_team,
                        last_touchpoint(m),
                        next_touchpoint(m),
                    )
                    for m in insights.members
                ],
            ),
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
