"""``rituals insights``: reads the whole history, projects it and prints (or writes) the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli.context import fail, history
from services.insights.domain import project
from services.insights.render import Format, render


def insights(
    org: Annotated[str, typer.Option("--org", help="Organisation id.")],
    team: Annotated[
        str | None,
        typer.Option(help="One team's view, with names (for its lead); default: aggregates."),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="text, json or html (one self-contained page).")
    ] = Format.TEXT,
    out: Annotated[
        Path | None,
        typer.Option(help="Write to this file instead of the console.", dir_okay=False),
    ] = None,
    quiet_weeks: Annotated[
        int, typer.Option(min=1, help="Watchlist: weeks without a social touchpoint.")
    ] = 4,
    min_connections: Annotated[
        int, typer.Option(min=1, help="Watchlist: fewest connections of a new hire at 30 days.")
    ] = 3,
) -> None:
    """Is this team connected? Participation, coffees that happened, who met whom, bridges
    between teams, ritual attendance and a watchlist, from the whole event history."""
    events = history(org)
    if not events:
        fail(f"no events for organisation {org!r}")
    report = project(
        events,
        org,
        team=team,
        quiet_weeks=quiet_weeks,
        min_new_hire_connections=min_connections,
    )
    if team is not None and team not in report.teams:
        fail(f"no team {team!r} in organisation {org!r} (teams: {', '.join(report.teams)})")
    text = render(report, output_format)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote the {output_format.value} report to {out}")
