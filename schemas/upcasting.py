"""The one place where payloads written under an older schema version are brought up to date.

A breaking change to a payload gets a new ``version`` on its model and an upcaster here from the
previous version; ``decode_event`` applies the chain, so handlers only ever see current models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event type, version it upgrades from) -> function returning the payload one version later."""


def upcast(event_type: str, version: int, data: Any) -> Any:
    """Apply the registered upcasters from ``version`` on; other payloads pass unchanged."""
    while isinstance(data, dict) and (event_type, version) in UPCASTERS:
        data = UPCASTERS[(event_type, version)](data)
        version += 1
    return data


def _clear_profile(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 member profiles were written in clear: they already are the opened shape of
    version 2 (``schemas.sealing``). They cannot be shredded: docs/privacy.md says what to do."""
    return data


UPCASTERS[("rituals.member.joined", 1)] = _clear_profile
UPCASTERS[("rituals.member.profile_updated", 1)] = _clear_profile
