"""Events in, domain calls, events out: the notifier's processor.

The processor only folds events into the ``NotificationBook``; it decides nothing in the consumer
(``decide`` emits nothing). Deliveries are made by the delivery worker (``worker.py``), outside the
consumer, which publishes ``notification.sent`` / ``failed``; those come back here and mark the
notification done. So the consumer never waits on an SMTP server or a webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas import CloudEvent
from services.common.domain.projection import DirectoryProcessor
from services.notifier.domain.book import NotificationBook
from services.notifier.domain.policy import PolicyLookup, default_policy


class NotifierProcessor(DirectoryProcessor):
    """Keeps the member directory and the notification book up to date."""

    def __init__(self, policy: PolicyLookup = default_policy) -> None:
        super().__init__()
        self.book = NotificationBook(self.directory, policy)

    def apply(self, event: CloudEvent[Any]) -> None:
        super().apply(event)
        self.book.apply(event)

    def measures(self) -> Mapping[str, float]:
        return {**super().measures(), **self.book.measures()}
