"""The insights projection: pure (no I/O, no wall clock), deterministic for a history."""

from services.insights.domain.model import Insights
from services.insights.domain.projection import project

__all__ = ["Insights", "project"]
