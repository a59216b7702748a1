"""Console output for local runs: the message is printed to standard output.

This is a channel, not a log: it prints the message body on purpose, and is meant for a
developer's own machine (the organisation default channel of a local run).
"""

from __future__ import annotations

import sys
from typing import TextIO

from services.notifier.adapters.base import DeliveryResult, Outgoing
from services.notifier.domain.formats import as_text


class ConsoleChannel:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        stream = self.stream or sys.stdout
        header = (
            f"--- notification {outgoing.key} to member {outgoing.delivery.recipient.member_id} "
            f"({outgoing.message.language}) ---"
        )
        stream.write(f"{header}\n{outgoing.message.subject}\n\n{as_text(outgoing.message)}\n")
        stream.flush()
        return DeliveryResult.delivered()

    async def close(self) -> None:
        return None
