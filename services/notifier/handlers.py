"""Events in, domain calls, events out: the notifier's processor."""

from services.common.domain.projection import DirectoryProcessor


class NotifierProcessor(DirectoryProcessor):
    """Keeps the member directory up to date."""
