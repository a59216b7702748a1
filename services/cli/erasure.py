"""What an erasure clears outside the log: copies of e-mails in the local outbox.

With no mail server (``rituals up`` on a laptop, the demo), the notifier writes each e-mail as an
``.eml`` file to an outbox folder instead of sending it. Those files name their recipient and,
in a coffee match or an invitation, other people: an erasure deletes every one that mentions the
person. Headers and bodies are searched decoded (RFC 2047 names, quoted-printable and base64
parts), not as raw bytes. E-mails a real mail server already delivered are out of the platform's
reach (docs/privacy.md).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path


def purge_outbox(folder: Path, personal_texts: Iterable[str]) -> int:
    """Delete the outbox's e-mails that mention any of ``personal_texts`` (case-insensitive);
    returns how many."""
    wanted = [text.casefold() for text in personal_texts if text.strip()]
    if not wanted or not folder.is_dir():
        return 0
    removed = 0
    for path in sorted(folder.glob("*.eml")):
        if any(text in _readable_text(path).casefold() for text in wanted):
            path.unlink()
            removed += 1
    return removed


def _readable_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        parts.append(content if isinstance(content, str) else content.decode("utf-8", "replace"))
    return "\n".join(parts)
