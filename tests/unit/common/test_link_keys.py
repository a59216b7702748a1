"""The link signing key from settings: given, in a file, or generated into the data folder by
``rituals up``; links are signed only when the gateway's public address is known too."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.cli.platform import local_links
from services.common.link_keys import (
    LinkKeyError,
    LinkSettings,
    ensure_link_signing_key,
    link_signing,
)

KEY = base64.b64encode(b"k" * 32).decode()


def test_a_generated_key_is_private_kept_and_read(tmp_path: Path) -> None:
    path, created = ensure_link_signing_key(tmp_path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_link_signing_key(tmp_path) == (path, False)
    key = LinkSettings(data_dir=tmp_path).signing_key()
    assert key is not None
    assert len(key) == 32


def test_no_key_no_links(tmp_path: Path) -> None:
    assert LinkSettings(data_dir=tmp_path).signing_key() is None
    given = LinkSettings(data_dir=tmp_path, link_signing_key=SecretStr(KEY))
    assert link_signing(given) is None  # no public address: nothing to link to
    both = given.model_copy(update={"gateway_public_url": "https://rituals.example.com"})
    assert link_signing(both) == ("https://rituals.example.com", b"k" * 32)


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_an_unusable_key_is_refused_without_repeating_it(text: str, tmp_path: Path) -> None:
    settings = LinkSettings(data_dir=tmp_path, link_signing_key=SecretStr(text))
    with pytest.raises(LinkKeyError) as refused:
        settings.signing_key()
    assert text not in str(refused.value) or not text


def test_rituals_up_generates_a_key_and_names_its_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RITUALS_LINK_SIGNING_KEY", "RITUALS_LINK_SIGNING_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RITUALS_GATEWAY_PORT", "8123")
    settings = local_links(tmp_path)
    assert settings["RITUALS_GATEWAY_PUBLIC_URL"] == "http://127.0.0.1:8123"
    assert Path(settings["RITUALS_LINK_SIGNING_KEY_FILE"]).exists()
    monkeypatch.setenv("RITUALS_LINK_SIGNING_KEY", KEY)
    assert "RITUALS_LINK_SIGNING_KEY_FILE" not in local_links(tmp_path / "other")
