"""Reading the history: ``events tail`` and ``events export`` (integrations and audits)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.kafka import KafkaSettings
from infra.topics import TopicSettings
from schemas import CloudEvent, encode_event
from services.cli.context import history, kafka_errors_explained
from services.common.adapters.history import domain_topics, read_latest, read_records

events_app = typer.Typer(help="The event history.", no_args_is_help=True)


def describe(event: CloudEvent[Any]) -> str:
    """One line per event: when, organisation, type, subject, id (no personal data)."""
    subject = f" {event.subject}" if event.subject else ""
    return f"{event.time.isoformat()} {event.orgid} {event.type}{subject} [{event.id}]"


@events_app.command("tail")
def tail(
    event_type: Annotated[
        str | None,
        typer.Option("--type", help="Only types starting with this, e.g. rituals.coffee."),
    ] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    last: Annotated[int, typer.Option(help="How many past events to show.")] = 20,
    follow: Annotated[bool, typer.Option(help="Keep printing new events.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the CloudEvents as JSON.")] = False,
) -> None:
    """The latest events, one line each; with --follow, new ones as they come."""

    def wanted(event: CloudEvent[Any]) -> bool:
        return (event_type is None or event.type.startswith(event_type)) and (
            org is None or event.orgid == org
        )

    def show(event: CloudEvent[Any]) -> None:
        typer.echo(encode_event(event).decode() if as_json else describe(event))

    with kafka_errors_explained():
        key = org.encode() if org is not None else None
        topics = domain_topics(TopicSettings())
        past, ends = read_latest(KafkaSettings(), topics, last, wanted, key=key)
        for event in past:
            show(event)
        if not follow:
            return
        shown = {e.id for e in past}
        try:
            for record in read_records(KafkaSettings(), topics, follow=True, key=key, starts=ends):
                new = record.event()
                if new is not None and new.id not in shown and wanted(new):
                    shown.add(new.id)
                    show(new)
        except KeyboardInterrupt:
            return


@events_app.command("export")
def export(
    out: Annotated[
        Path,
        typer.Option(help="JSON Lines file to write (CloudEvents).", dir_okay=False, writable=True),
    ],
    org: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
) -> None:
    """Every event, once each, in domain-time order, as CloudEvents JSON lines."""
    events = history(org)
    with out.open("w", encoding="utf-8") as file:
        for event in events:
            file.write(json.dumps(json.loads(encode_event(event)), sort_keys=True) + "\n")
    typer.echo(f"exported {len(events)} events to {out}")
