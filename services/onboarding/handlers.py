"""Events in, domain calls, events out: the onboarding's processor."""

from services.common.domain.projection import DirectoryProcessor


class OnboardingProcessor(DirectoryProcessor):
    """Keeps the member directory up to date."""
