"""Events in, domain calls, events out: the matcher's processor."""

from services.common.domain.projection import DirectoryProcessor


class MatcherProcessor(DirectoryProcessor):
    """Keeps the member directory up to date."""
