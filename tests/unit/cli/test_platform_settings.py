"""What `rituals up` tells its parts on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.platform import _local_mail


def test_e_mails_go_to_the_data_folder_unless_a_mail_server_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RITUALS_NOTIFIER_SMTP_HOST", raising=False)
    assert _local_mail(Path("data")) == {"RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR": "data/outbox"}
    assert _local_mail(None) == {"RITUALS_NOTIFIER_EMAIL_OUTBOX_DIR": "var/rituals/outbox"}
    monkeypatch.setenv("RITUALS_NOTIFIER_SMTP_HOST", "mail.example.org")
    assert _local_mail(Path("data")) == {}
