"""``rituals clock tick``: advance an organisation's domain time by hand (simulations, scripts,
tests), with the same ticks the wall clock publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from services.cli.commands import Org
from services.cli.context import fail, now_or, publish
from services.clock.ticks import ticks

clock_app = typer.Typer(help="Domain time of an organisation.", no_args_is_help=True)

MOST_TICKS = 100_000
"""More in one command is a mistake (a step in seconds over a year), not a simulation."""


@clock_app.command("tick")
def tick(
    org: Org,
    at: Annotated[
        datetime,
        typer.Option("--at", help="Domain time of the (first) tick (UTC unless an offset)."),
    ],
    until: Annotated[
        datetime | None,
        typer.Option(help="Tick every --step from --at up to this moment (included)."),
    ] = None,
    step_minutes: Annotated[
        int, typer.Option("--step-minutes", min=1, help="Minutes between ticks of a range.")
    ] = 60,
) -> None:
    """Publish clock ticks for the organisation: its services decide as the wall clock would
    have them decide at those moments (rounds on their cadence, reminders, check-ins). Domain
    time only moves forward: a tick not after the organisation's latest one changes nothing."""
    moments = tick_moments(now_or(at), None if until is None else now_or(until), step_minutes)
    published = 0
    for start in range(0, len(moments), 1000):
        batch = moments[start : start + 1000]
        published += publish([event for m in batch for event in ticks([org], m, sequence_of(m))])
    first, last = (f"{m.astimezone(UTC):%Y-%m-%dT%H:%MZ}" for m in (moments[0], moments[-1]))
    span = first if first == last else f"{first} to {last}"
    typer.echo(f"{published} tick{'s' if published != 1 else ''} published for {org}, {span}")


def tick_moments(at: datetime, until: datetime | None, step_minutes: int) -> list[datetime]:
    if until is None:
        return [at]
    if until < at:
        fail("--until is before --at: nothing was published")
    step = timedelta(minutes=step_minutes)
    count = int((until - at) / step) + 1
    if count > MOST_TICKS:
        fail(f"{count:,} ticks asked for (at most {MOST_TICKS:,}): a larger --step-minutes?")
    return [at + n * step for n in range(count)]


def sequence_of(moment: datetime) -> int:
    """Minutes since the Unix epoch: the wall clock's numbering at its default interval."""
    return int(moment.timestamp() // 60)
