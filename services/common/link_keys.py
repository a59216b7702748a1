"""One-click links from settings: the key that signs them, shared by the notifier (which signs)
and the gateway (which verifies), and the gateway's public address the links point at. No key
configured: messages carry no links and the gateway answers every link with 404."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.domain.links import MIN_KEY_BYTES
from services.common.secret_files import blank_is_unset, configured_key, ensure_random_key_file

LINK_SIGNING_KEY_FILE_NAME = "link-signing.key"
"""The link signing key ``rituals up`` and the demo generate into the data folder."""


class LinkKeyError(ValueError):
    pass


class LinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_", extra="ignore")

    link_signing_key: SecretStr | None = Field(
        default=None,
        description="The key that signs one-click links: at least 32 random bytes, base64. A "
        "secret; the notifier and the gateway must have the same one.",
    )
    link_signing_key_file: Path | None = Field(
        default=None, description="A file holding the link signing key (base64), instead."
    )
    gateway_public_url: str | None = Field(
        default=None,
        description="The gateway's address as people's browsers reach it, e.g. "
        "https://rituals.example.com: the base of the links in messages (none: no links).",
        pattern=r"^https?://[^\s]+$",
    )
    data_dir: Path = Field(
        default=Path("var/rituals"),
        description="When neither setting above is given, a "
        f"{LINK_SIGNING_KEY_FILE_NAME} found in the data folder is used.",
    )

    _blank_is_unset = field_validator("link_signing_key", "gateway_public_url", mode="before")(
        blank_is_unset
    )

    def signing_key(self) -> bytes | None:
        """The configured key (None when there is none); LinkKeyError when it is unusable."""
        return configured_key(
            self.link_signing_key,
            self.link_signing_key_file,
            self.data_dir / LINK_SIGNING_KEY_FILE_NAME,
            range(MIN_KEY_BYTES, 1 << 20),
            LinkKeyError,
            "link signing key",
        )


def link_signing(settings: LinkSettings | None = None) -> tuple[str, bytes] | None:
    """The gateway's public base URL and the signing key, when both are configured."""
    settings = settings or LinkSettings()
    key = settings.signing_key()
    if settings.gateway_public_url is None or key is None:
        return None
    return settings.gateway_public_url, key


def ensure_link_signing_key(data_dir: Path) -> tuple[Path, bool]:
    """The data folder's link signing key file, created (mode 0600) when missing; and whether it
    was created now. For a local platform: production gives the key as a secret."""
    return ensure_random_key_file(data_dir / LINK_SIGNING_KEY_FILE_NAME, MIN_KEY_BYTES)
