"""The part of state every service keeps: the member directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas import CloudEvent
from services.common.domain.directory import MemberDirectory, directory_measures
from services.common.processing import Emit


class DirectoryProcessor:
    """A processor that only keeps the member directory; services extend it with their logic."""

    def __init__(self) -> None:
        self.directory = MemberDirectory()

    def apply(self, event: CloudEvent[Any]) -> None:
        if event.type.startswith("rituals.member."):
            self.directory.apply(event)

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        return ()

    def measures(self) -> Mapping[str, float]:
        return directory_measures(self.directory)
