"""Composition root of the notifier: settings -> policy, adapters, worker -> service definition."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from functools import cache, partial
from typing import Any

from pydantic import SecretStr

from infra.topics import Topic
from schemas.base import Channel
from services.common.link_keys import link_signing
from services.common.runtime import ServiceDefinition, ServiceRuntime
from services.notifier.adapters.base import ChannelAdapter
from services.notifier.adapters.console import ConsoleChannel
from services.notifier.adapters.smtp import EmailComposer, OutboxChannel, SmtpChannel
from services.notifier.adapters.webhooks import (
    HttpPoster,
    SignedWebhookChannel,
    SlackChannel,
    TeamsChannel,
)
from services.notifier.domain.answer_links import LinkSigning
from services.notifier.domain.backoff import RetryPolicy
from services.notifier.domain.breaker import ChannelBreakers
from services.notifier.domain.policy import OrganisationPolicy, PolicyLookup
from services.notifier.handlers import NotifierProcessor
from services.notifier.settings import NotifierSettings, signing_key
from services.notifier.worker import DeliveryWorker

NAME = "notifier"
TOPICS = (
    Topic.MEMBERS,
    Topic.COFFEE,
    Topic.ONBOARDING,
    Topic.RITUALS,
    Topic.NOTIFICATIONS,
    Topic.PULSE,
    Topic.CLOCK,
)


def policy_from(settings: NotifierSettings) -> PolicyLookup:
    """Each organisation's policy, worked out once (settings are frozen)."""

    @cache
    def policy(org_id: str) -> OrganisationPolicy:
        own = settings.organisation(org_id)
        return OrganisationPolicy(
            default_channel=own.default_channel or settings.default_channel,
            default_language=own.default_language or settings.default_language,
            available_channels=settings.available_channels(org_id),
        )

    return policy


def retry_policy_from(settings: NotifierSettings) -> RetryPolicy:
    return RetryPolicy(settings.retry_schedule_seconds)


def channels_from(settings: NotifierSettings, poster: HttpPoster) -> dict[Channel, ChannelAdapter]:
    composer = EmailComposer(settings.mail_from, settings.mail_from_name)
    email: ChannelAdapter
    if settings.email_outbox_dir is not None:
        email = OutboxChannel(composer, settings.email_outbox_dir)
    else:
        email = SmtpChannel(
            composer,
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
            timeout=settings.smtp_timeout_seconds,
        )

    targets: dict[str, tuple[SecretStr, bytes] | None] = {}

    def webhook_target(org_id: str) -> tuple[SecretStr, bytes] | None:
        """Settings do not change while the service runs: each organisation's key is decoded
        once, not per send."""
        if org_id not in targets:
            target = settings.webhook_target(org_id)
            targets[org_id] = None if target is None else (target[0], signing_key(target[1]))
        return targets[org_id]

    return {
        "email": email,
        "slack": SlackChannel(poster, settings.slack_url),
        "teams": TeamsChannel(poster, settings.teams_url),
        "webhook": SignedWebhookChannel(poster, webhook_target),
        "console": ConsoleChannel(),
    }


def delivery_worker_from(settings: NotifierSettings, poster: HttpPoster) -> DeliveryWorker:
    signing = link_signing()
    return DeliveryWorker(
        channels_from(settings, poster),
        retry_policy_from(settings),
        concurrency=settings.concurrency,
        max_in_flight=settings.max_in_flight,
        poll_interval=settings.poll_interval_seconds,
        breakers=ChannelBreakers(
            failures_to_open=settings.breaker_failures,
            first_cool_down=timedelta(seconds=settings.breaker_cool_down_seconds),
            longest_cool_down=timedelta(seconds=settings.breaker_longest_cool_down_seconds),
        ),
        links=LinkSigning(*signing) if signing is not None else None,
    )


WorkerStarted = Callable[[DeliveryWorker], None]


def deliveries(
    settings: NotifierSettings, started: WorkerStarted | None = None
) -> Callable[[ServiceRuntime], Coroutine[Any, Any, None]]:
    """The runtime worker: one delivery loop per service instance, its connections closed with
    it. ``started`` sees each loop's worker (tests observe it)."""

    async def deliver_notifications(runtime: ServiceRuntime) -> None:
        poster = HttpPoster(settings.http_timeout_seconds, settings.concurrency)
        worker = delivery_worker_from(settings, poster)
        if started is not None:
            started(worker)
        try:
            await worker.run(runtime)
        finally:
            await worker.close()
            await poster.close()

    return deliver_notifications


def notifier_definition(
    settings: NotifierSettings | None = None, *, worker_started: WorkerStarted | None = None
) -> ServiceDefinition:
    settings = settings or NotifierSettings()
    return ServiceDefinition(
        name=NAME,
        topics=TOPICS,
        new_processor=partial(NotifierProcessor, policy_from(settings)),
        workers=(deliveries(settings, worker_started),),
    )


DEFINITION = notifier_definition()
