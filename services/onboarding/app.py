"""Composition root of the onboarding service."""

from __future__ import annotations

from functools import partial

from infra.topics import Topic
from services.common.runtime import ServiceDefinition
from services.onboarding.handlers import OnboardingProcessor
from services.onboarding.settings import OnboardingSettings


def build_definition(settings: OnboardingSettings | None = None) -> ServiceDefinition:
    """The service with its policies bound: read once, so every rebuild of the state decides
    by the same rules."""
    policies = (settings or OnboardingSettings()).policy_book()
    return ServiceDefinition(
        name="onboarding",
        topics=(Topic.MEMBERS, Topic.ONBOARDING, Topic.CLOCK),
        new_processor=partial(OnboardingProcessor, policies),
    )


DEFINITION = build_definition()
