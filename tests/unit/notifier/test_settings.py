"""The notifier's settings: secrets stay secret, organisations override the defaults."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from infra.kafka import KafkaSettings
from services.notifier.app import policy_from
from services.notifier.settings import NotifierSettings, OrganisationSettings, signing_key

KEY = b"k" * 32
SECRET = "whsec_" + base64.b64encode(KEY).decode()
SLACK = "https://hooks.slack.com/services/T0/B0/token-value"


def test_secrets_never_show_in_a_representation() -> None:
    settings = NotifierSettings(
        smtp_password=SecretStr("hunter2"),
        slack_webhook_url=SecretStr(SLACK),
        webhook_url=SecretStr("https://integrations.example.com/in"),
        webhook_secret=SecretStr(SECRET),
    )
    shown = repr(settings) + str(settings.model_dump())
    for secret in ("hunter2", "token-value", SECRET, "integrations.example.com"):
        assert secret not in shown


@pytest.mark.parametrize(
    "secret",
    ["plain-text", "whsec_!!!notbase64", "whsec_" + base64.b64encode(b"short").decode()],
)
def test_a_signing_secret_that_is_not_a_standard_webhooks_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NotifierSettings(webhook_secret=SecretStr(secret))
    assert secret not in str(refused.value)


def test_the_signing_key_is_the_decoded_secret() -> None:
    assert signing_key(SecretStr(SECRET)) == KEY


def test_settings_come_from_the_environment_with_per_organisation_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RITUALS_NOTIFIER_DEFAULT_CHANNEL", "email")
    monkeypatch.setenv("RITUALS_NOTIFIER_SMTP_PORT", "2525")
    monkeypatch.setenv(
        "RITUALS_NOTIFIER_ORGANISATIONS",
        f'{{"acme": {{"default_language": "nl", "slack_webhook_url": "{SLACK}"}}}}',
    )
    settings = NotifierSettings()
    assert settings.smtp_port == 2525
    assert settings.organisation("acme").default_language == "nl"
    assert settings.available_channels("acme") == {"email", "console", "slack"}
    assert settings.available_channels("globex") == {"email", "console"}

    acme, globex = policy_from(settings)("acme"), policy_from(settings)("globex")
    assert (acme.default_channel, acme.default_language) == ("email", "nl")
    assert (globex.default_channel, globex.default_language) == ("email", "en")


def test_the_generic_webhook_needs_both_a_url_and_a_secret() -> None:
    only_url = NotifierSettings(webhook_url=SecretStr("https://example.com/hook"))
    assert only_url.webhook_target("acme") is None
    assert "webhook" not in only_url.available_channels("acme")
    both = NotifierSettings(
        organisations={
            "acme": OrganisationSettings(
                webhook_url=SecretStr("https://example.com/hook"),
                webhook_secret=SecretStr(SECRET),
            )
        }
    )
    assert "webhook" in both.available_channels("acme")
    assert "webhook" not in both.available_channels("globex")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RITUALS_NOTIFIER_WEBHOOK_SECRET", "not-a-whsec-but-secret-41"),
        ("RITUALS_NOTIFIER_ORGANISATIONS", '{"acme": {"webhook_secret": "secret-42"}}'),
        ("RITUALS_NOTIFIER_SMTP_PORT", "secret-43"),
    ],
)
def test_a_refused_setting_never_shows_its_value(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        NotifierSettings()
    secret = value.split('"')[-2] if '"' in value else value
    assert secret not in str(refused.value)


def test_a_refused_kafka_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RITUALS_KAFKA_SASL_MECHANISM", "NOT-A-MECHANISM-pw-44")
    with pytest.raises(ValidationError) as refused:
        KafkaSettings()
    assert "pw-44" not in str(refused.value)
