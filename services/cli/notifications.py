"""``rituals notifications``: deliver again what failed, after an outage longer than the retries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

import typer

from infra.topics import Topic
from schemas import CloudEvent
from schemas.base import Channel
from schemas.notifications import (
    NotificationFailed,
    NotificationRedeliveryRequested,
    NotificationSent,
)
from services.cli.commands import At, Org
from services.cli.context import envelope, fail, history, now_or, publish

notifications_app = typer.Typer(help="Notifications the platform sent or could not send.")


@notifications_app.command("redeliver")
def redeliver(
    org: Org,
    since: Annotated[
        datetime | None,
        typer.Option(help="Only what failed at or after this moment (UTC unless an offset)."),
    ] = None,
    channel: Annotated[Channel | None, typer.Option(help="Only this channel.")] = None,
    at: At = None,
) -> None:
    """Ask the notifier to deliver again every notification of the organisation that failed for
    good (since a moment, on a channel): each gets a fresh series of attempts. Notices no longer
    useful (a reminder for a ritual that has started) fail again at once, saying so."""
    failed_since = None if since is None else now_or(since)
    waiting = still_failed(history(org, (Topic.NOTIFICATIONS,)), failed_since, channel)
    if not waiting:
        fail("nothing failed for good there: nothing was published")
    request = NotificationRedeliveryRequested(failed_since=failed_since, channel=channel)
    publish([envelope(request, org, now_or(at))])
    by_channel = ", ".join(f"{n} by {c}" for c, n in sorted(Counter(waiting.values()).items()))
    typer.echo(f"redelivery requested for {len(waiting)} notifications ({by_channel})")


def still_failed(
    events: Iterable[CloudEvent[Any]], since: datetime | None, channel: Channel | None
) -> dict[str, str]:
    """Notification id -> channel of what failed for good and was not delivered since."""
    failed: dict[str, str] = {}
    for event in events:
        outcome = event.data
        if isinstance(outcome, NotificationSent):
            failed.pop(outcome.notification_id, None)
        elif (
            isinstance(outcome, NotificationFailed)
            and (since is None or event.time >= since)
            and (channel is None or outcome.channel == channel)
        ):
            failed[outcome.notification_id] = outcome.channel
    return failed
