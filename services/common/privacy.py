"""Which vault a process uses, from its settings: the one composition of the key-encryption key
and the key store (docs/privacy.md).

No key-encryption key configured means no vault: member events are written in clear (version 1
shape) and sealed ones read as placeholders, as before encryption existed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.adapters.key_files import FileKeyStore
from services.common.secret_files import blank_is_unset, configured_key, ensure_random_key_file
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

    _blank_is_unset = field_validator("key_encryption_key", mode="before")(blank_is_unset)

    def store_folder(self) -> Path:
        return self.key_store_dir or self.data_dir / "keys"


def configured_vault(settings: PrivacySettings | None = None) -> Vault | None:
    """The vault the settings describe (None without a key-encryption key). KeyStoreError for
    a key-encryption key that is not 32 bytes of base64 or cannot be read."""
    settings = settings or PrivacySettings()
    key = configured_key(
        settings.key_encryption_key,
        settings.key_encryption_key_file,
        settings.data_dir / KEY_ENCRYPTION_KEY_FILE_NAME,
        range(KEY_BYTES, KEY_BYTES + 1),
        KeyStoreError,
        "key-encryption key",
    )
    return None if key is None else _vault(key, settings.store_folder().resolve())


@lru_cache(maxsize=8)
def _vault(key: bytes, store_folder: Path) -> Vault:
    return Vault(key, FileKeyStore(store_folder))


def ensure_key_encryption_key(data_dir: Path) -> tuple[Path, bool]:
    """The data folder's key-encryption key file, created (mode 0600) when missing; and whether
    it was created now. For a local platform only: production gives the key as a secret."""
    return ensure_random_key_file(data_dir / KEY_ENCRYPTION_KEY_FILE_NAME, KEY_BYTES)
