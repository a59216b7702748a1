"""Settings of the gateway, from the environment (prefix ``RITUALS_GATEWAY_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.gateway.domain.tokens import TokenBook, read_token_list


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_GATEWAY_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port of the HTTP server.")
    tokens_file: Path | None = Field(
        default=None,
        description="The token list: lines of 'ORG ROLE SHA256' (role admin or read) or JSON "
        '[{"org", "role", "sha256"}]; `rituals gateway token` makes entries.',
    )
    tokens: str = Field(
        default="",
        description="Token list entries in the environment, same format (added to the file's).",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="The largest request body accepted (413 above)."
    )
    visible_within_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a write waits for the gateway's projection to show it before "
        "answering (read-your-writes); it is published either way.",
    )

    slack_signing_secret: SecretStr | None = Field(
        default=None,
        description="The Slack app's signing secret: /slack/commands and /slack/interactivity "
        "answer only when it is set, and only to requests it signed.",
    )
    slack_bot_token: SecretStr | None = Field(
        default=None,
        description="A bot token with users:read.email: how a Slack user's e-mail address, "
        "and so their member, is found.",
    )
    slack_workspaces: dict[str, str] = Field(
        default_factory=dict,
        description='Slack team id -> organisation, as JSON: {"T0123": "acme"}.',
    )

    def token_book(self) -> TokenBook:
        """Every granted token (TokenListError on a malformed list: the gateway does not start)."""
        listed = self.tokens_file.read_text("utf-8") if self.tokens_file else ""
        from_file, from_environment = read_token_list(listed), read_token_list(self.tokens)
        return TokenBook((*from_file.entries, *from_environment.entries))
