"""An erasure deletes the local outbox's e-mails that mention the person, however the name is
encoded in the file, and keeps the others."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

from services.cli.erasure import purge_outbox


def write_email(folder: Path, name: str, to: tuple[str, str], body: str, cte: str) -> Path:
    message = EmailMessage()
    message["From"] = "rituals@localhost"
    message["To"] = formataddr(to)
    message["Subject"] = "Your coffee match"
    message.set_content(body, cte=cte)
    path = folder / f"{name}.eml"
    path.write_bytes(bytes(message))
    return path


def test_emails_naming_the_person_anywhere_are_deleted_others_kept(tmp_path: Path) -> None:
    to_them = write_email(
        tmp_path, "a", ("Zoë Brandt", "zoe@acme.example"), "Hello Zoë", "quoted-printable"
    )
    naming_them = write_email(
        tmp_path,
        "b",
        ("Ada Jansen", "ada@acme.example"),
        "You meet ZOË BRANDT on Tuesday",
        "base64",
    )
    unrelated = write_email(
        tmp_path, "c", ("Ada Jansen", "ada@acme.example"), "You meet Bram on Tuesday", "base64"
    )
    assert b"Zo\xc3\xab Brandt" not in to_them.read_bytes()  # encoded: a byte search misses it

    removed = purge_outbox(tmp_path, ["Zoë Brandt", "zoe@acme.example"])

    assert removed == 2
    assert not to_them.exists()
    assert not naming_them.exists()
    assert unrelated.exists()


def test_nothing_to_search_for_or_no_outbox_deletes_nothing(tmp_path: Path) -> None:
    kept = write_email(tmp_path, "a", ("Ada Jansen", "ada@acme.example"), "Hi", "7bit")

    assert purge_outbox(tmp_path, ["", "  "]) == 0
    assert purge_outbox(tmp_path / "missing", ["Ada Jansen"]) == 0
    assert kept.exists()
