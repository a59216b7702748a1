"""Which vault a process uses, from its settings: the one composition of the key-encryption key
and the key store (docs/privacy.md).

No key-encryption key configured means no vault: member events are written in clear (version 1
shape) and sealed ones read as placeholders, as before encryption existed.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.adapters.key_files import FileKeyStore
from services.common.secret_files import ensure_random_key_file
from services.common.vault import KEY_BYTES, KeyStoreError, Vault

KEY_ENCRYPTION_KEY_FILE_NAME = "key-encryption.key"
"""The key-encryption key ``rituals up`` and the demo generate into the data folder."""


class PrivacySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RITUALS_", extra="ignore")

    key_encryption_key: SecretStr | None = Field(
        default=None,
        description="The key-encryption key: 32 random bytes, base64. A secret: set it from a "
        "secret store, never in a file under version control.",
    )
    key_encryption_key_file: Path | None = Field(
        default=None, description="A file holding the key-encryption key (base64), instead."
    )
    data_dir: Path = Field(
        default=Path("var/rituals"),
        description="The platform's data folder: when neither setting above is given, a "
        f"{KEY_ENCRYPTION_KEY_FILE_NAME} found there is used (``rituals up`` writes one).",
    )
    key_store_dir: Path | None = Field(
        default=None,
        description="Folder of the members' data keys (default: <data_dir>/keys). Every "
        "process of one platform must use the same one.",
    )

    @field_validator("key_encryption_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty value (a Compose variable or Kubernetes Secret left empty) is no key."""
        return None if isinstance(value, str) and not value.strip() else value

    def key_file(self) -> Path | None:
        if self.key_encryption_key_file is not None:
            return self.key_encryption_key_file
        default = self.data_dir / KEY_ENCRYPTION_KEY_FILE_NAME
        return default if default.exists() else None

    def store_folder(self) -> Path:
        return self.key_store_dir or self.data_dir / "keys"


def configured_vault(settings: PrivacySettings | None = None) -> Vault | None:
    """The vault the settings describe (None without a key-encryption key). KeyStoreError for
    a key-encryption key that is not 32 bytes of base64 or cannot be read."""
    settings = settings or PrivacySettings()
    secret = settings.key_encryption_key
    key_file = settings.key_file() if secret is None else None
    if secret is None and key_file is None:
        return None
    text = secret.get_secret_value() if secret is not None else _read_key_file(key_file)
    return _vault(text, settings.store_folder().resolve())


@lru_cache(maxsize=8)
def _vault(key_text: str, store_folder: Path) -> Vault:
    return Vault(_decoded_key(key_text), FileKeyStore(store_folder))


def _read_key_file(path: Path | None) -> str:
    assert path is not None
    try:
        return path.read_text(encoding="ascii")
    except (OSError, ValueError):
        raise KeyStoreError(f"cannot read the key-encryption key file {path}") from None


def _decoded_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyStoreError(f"the key-encryption key must be {KEY_BYTES} bytes in base64")
    return key


def ensure_key_encryption_key(data_dir: Path) -> tuple[Path, bool]:
    """The data folder's key-encryption key file, created (mode 0600) when missing; and whether
    it was created now. For a local platform only: production gives the key as a secret."""
    return ensure_random_key_file(data_dir / KEY_ENCRYPTION_KEY_FILE_NAME, KEY_BYTES)
