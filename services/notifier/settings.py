"""Settings of the notifier, read from the environment (prefix ``RITUALS_NOTIFIER_``).

Secrets (the SMTP password, incoming-webhook URLs, which carry their token in the path, and the
signing secret of the generic webhook) are ``SecretStr``: they print as ``**********`` and are
never logged. Per-organisation values (``RITUALS_NOTIFIER_ORGANISATIONS``, a JSON object keyed by
organisation id) override the global ones.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.base import Channel, LanguageCode
from services.notifier.domain.backoff import STANDARD_SCHEDULE

WEBHOOK_SECRET_PREFIX = "whsec_"


def _check_signing_secret(secret: SecretStr | None) -> SecretStr | None:
    """A Standard Webhooks secret: ``whsec_`` and base64 of at least 24 bytes. The value is
    never repeated in the error (it is a secret)."""
    if secret is None:
        return None
    text = secret.get_secret_value()
    if not text.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError("a signing secret starts with 'whsec_'")
    try:
        key = base64.b64decode(text.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signing secret is 'whsec_' followed by base64") from None
    if len(key) < 24:
        raise ValueError("a signing secret holds at least 24 random bytes")
    return secret


def signing_key(secret: SecretStr) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for."""
    return base64.b64decode(secret.get_secret_value().removeprefix(WEBHOOK_SECRET_PREFIX))


class OrganisationSettings(BaseModel):
    """What one organisation overrides; anything unset falls back to the global setting."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    default_channel: Channel | None = Field(
        default=None, description="Channel for members who chose none."
    )
    default_language: LanguageCode | None = Field(
        default=None, description="Language for members whose languages have no templates."
    )
    slack_webhook_url: SecretStr | None = Field(default=None, description="Slack incoming webhook.")
    teams_webhook_url: SecretStr | None = Field(default=None, description="Teams incoming webhook.")
    webhook_url: SecretStr | None = Field(default=None, description="Generic outgoing webhook.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret (whsec_...)."
    )

    @field_validator("webhook_secret")
    @classmethod
    def _valid_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        return _check_signing_secret(secret)


class NotifierSettings(BaseSettings):
    """Everything the notifier needs to reach people, and how hard it tries."""

    model_config = SettingsConfigDict(
        env_prefix="RITUALS_NOTIFIER_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,  # a refused value may be a secret (a webhook URL, a key)
    )

    default_channel: Channel = Field(
        default="console", description="Organisation default channel (console for local runs)."
    )
    default_language: LanguageCode = Field(
        default="en", description="Organisation default language when a member's has no templates."
    )
    organisations: dict[str, OrganisationSettings] = Field(
        default_factory=dict, description="Per-organisation overrides, keyed by organisation id."
    )

    smtp_host: str = Field(default="localhost", description="SMTP server.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password (secret).")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="Plain, STARTTLS upgrade, or implicit TLS (port 465)."
    )
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, description="Per SMTP session.")
    mail_from: str = Field(
        default="rituals@localhost",
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Sender address; also the organiser of calendar invitations.",
    )
    mail_from_name: str = Field(default="Rituals", description="Sender display name.")
    email_outbox_dir: Path | None = Field(
        default=None,
        description="Write each e-mail as an .eml file here instead of sending it over SMTP.",
    )

    slack_webhook_url: SecretStr | None = Field(default=None, description="Slack incoming webhook.")
    teams_webhook_url: SecretStr | None = Field(default=None, description="Teams incoming webhook.")
    webhook_url: SecretStr | None = Field(default=None, description="Generic outgoing webhook.")
    webhook_secret: SecretStr | None = Field(
        default=None, description="Standard Webhooks signing secret (whsec_ + base64)."
    )
    http_timeout_seconds: float = Field(default=10.0, gt=0, description="Per HTTP request.")

    retry_schedule_seconds: tuple[float, ...] = Field(
        default=STANDARD_SCHEDULE,
        max_length=20,
        description="The wait before each retry of a transient failure (5 s, 5 min, 30 min, "
        "2 h, 5 h, 10 h, 10 h by default); attempts in all: one more than its length.",
    )
    breaker_failures: int = Field(
        default=5, ge=1, description="Transient failures in a row that open a channel's breaker."
    )
    breaker_cool_down_seconds: float = Field(
        default=30.0, gt=0, description="How long an open channel rests before a probe."
    )
    breaker_longest_cool_down_seconds: float = Field(
        default=300.0, gt=0, description="The cool-down doubles after a failed probe, to this."
    )
    concurrency: int = Field(default=16, ge=1, le=1024, description="Sends at the same time.")
    max_in_flight: int = Field(
        default=1000, ge=1, description="Deliveries started (sending or waiting to retry) at once."
    )
    poll_interval_seconds: float = Field(
        default=0.5, gt=0, description="How often the delivery loop looks for ready deliveries."
    )

    @field_validator("webhook_secret")
    @classmethod
    def _valid_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        return _check_signing_secret(secret)

    def organisation(self, org_id: str) -> OrganisationSettings:
        return self.organisations.get(org_id, OrganisationSettings())

    def slack_url(self, org_id: str) -> SecretStr | None:
        return self.organisation(org_id).slack_webhook_url or self.slack_webhook_url

    def teams_url(self, org_id: str) -> SecretStr | None:
        return self.organisation(org_id).teams_webhook_url or self.teams_webhook_url

    def webhook_target(self, org_id: str) -> tuple[SecretStr, SecretStr] | None:
        """URL and signing secret of the generic webhook; both are needed (never unsigned)."""
        own = self.organisation(org_id)
        url = own.webhook_url or self.webhook_url
        secret = own.webhook_secret or self.webhook_secret
        return (url, secret) if url is not None and secret is not None else None

    def available_channels(self, org_id: str) -> frozenset[Channel]:
        """Channels that can reach someone in this organisation with this configuration."""
        channels: set[Channel] = {"email", "console"}
        if self.slack_url(org_id) is not None:
            channels.add("slack")
        if self.teams_url(org_id) is not None:
            channels.add("teams")
        if self.webhook_target(org_id) is not None:
            channels.add("webhook")
        return frozenset(channels)
