"""E-mail: multipart text + HTML, with a calendar invitation for meetings
(METHOD:REQUEST; CANCEL for a team ritual that no longer takes place).

Sent over SMTP with aiosmtplib, or written as an ``.eml`` file to an outbox folder (local runs
and demos). The Message-ID derives from the notification id, so a copy sent again after a crash
carries the same Message-ID and mail systems can drop it.
"""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path

import aiosmtplib
from pydantic import SecretStr

from schemas.text import one_line
from services.notifier.adapters.base import DeliveryResult, Outgoing
from services.notifier.domain.calendar import invitation_ics
from services.notifier.domain.formats import as_html, as_text
from services.notifier.domain.message import Attendee


def header_text(text: str) -> str:
    cleaned = one_line(text)
    return cleaned if isinstance(cleaned, str) else ""


class EmailComposer:
    """Builds the MIME message of a notification."""

    def __init__(self, sender: str, sender_name: str) -> None:
        self.sender = sender
        self.sender_name = sender_name

    @property
    def domain(self) -> str:
        return self.sender.rsplit("@", 1)[-1]

    def compose(self, outgoing: Outgoing) -> EmailMessage:
        message = outgoing.message
        recipient = outgoing.delivery.recipient
        email = EmailMessage()
        # Names and subjects are one line already (schemas.text); cleaned again here, as a
        # header with a line break is refused by the mail library, and would be an injection.
        email["From"] = formataddr((header_text(self.sender_name), self.sender))
        email["To"] = formataddr((header_text(recipient.display_name), recipient.email))
        email["Subject"] = header_text(message.subject)
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = f"<{outgoing.key}@{self.domain}>"
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
        if message.unsubscribe is not None:  # RFC 8058: the mail client's one-click opt-out
            email["List-Unsubscribe"] = f"<{message.unsubscribe}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(as_text(message))
        email.add_alternative(as_html(message), subtype="html")
        if message.invitation is not None:
            organiser = Attendee(self.sender_name, self.sender)
            ics = invitation_ics(message.invitation, organiser).decode()
            email.add_alternative(
                ics, subtype="calendar", params={"method": message.invitation.method}
            )
        # After the body: set_content() and add_alternative() drop or move Content-* headers.
        email["Content-Language"] = message.language
        return email


class SmtpChannel:
    def __init__(
        self,
        composer: EmailComposer,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: SecretStr | None = None,
        security: str = "none",
        timeout: float = 15.0,
    ) -> None:
        self.composer = composer
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.security = security
        self.timeout = timeout

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        email = self.composer.compose(outgoing)
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password.get_secret_value() if self.password else None,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = sorted({r.code for r in refused.recipients})
            return _by_smtp_code(min(codes) if codes else 550, "recipient refused")
        except aiosmtplib.SMTPResponseException as error:
            return _by_smtp_code(error.code, "smtp error")
        except (aiosmtplib.SMTPException, OSError) as error:
            # Timeouts, refused connections, dropped sessions: the server may be back soon.
            return DeliveryResult.transient(f"smtp {type(error).__name__}")
        return DeliveryResult.delivered()

    async def close(self) -> None:
        return None


def _by_smtp_code(code: int, what: str) -> DeliveryResult:
    """SMTP replies: 4xx means try again later, 5xx means it will never work."""
    reason = f"{what} {code}"
    if 400 <= code < 500:
        return DeliveryResult.transient(reason)
    return DeliveryResult.permanent(reason)


class OutboxChannel:
    """Writes each e-mail to ``<folder>/<idempotency key>.eml`` instead of sending it; writing the
    same notification again replaces the file with the same content (idempotent)."""

    def __init__(self, composer: EmailComposer, folder: Path) -> None:
        self.composer = composer
        self.folder = folder

    async def send(self, outgoing: Outgoing) -> DeliveryResult:
        data = bytes(self.composer.compose(outgoing))
        try:
            await asyncio.to_thread(self._write, f"{outgoing.key}.eml", data)
        except OSError as error:
            return DeliveryResult.transient(f"outbox {type(error).__name__}")
        return DeliveryResult.delivered()

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{name}.partial"
        partial.write_bytes(data)
        os.replace(partial, self.folder / name)  # atomic: a reader never sees half a message

    async def close(self) -> None:
        return None
