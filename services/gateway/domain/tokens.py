"""Bearer tokens of the gateway: each is scoped to one organisation, with a role, and only its
SHA-256 is stored (tokens are 256 random bits, so a plain hash is as good as a slow one; the
comparison is constant-time all the same).

The token list is lines of ``ORG ROLE SHA256HEX`` (blank lines and ``#`` comments ignored) or a
JSON list of ``{"org": ..., "role": ..., "sha256": ...}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TOKEN_PREFIX = "rit_"
"""Marks a Rituals gateway token (so that secret scanners and people recognise it)."""


ORGANISATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
"""An organisation id (as the events' ``orgid``)."""


class Role(StrEnum):
    ADMIN = "admin"
    """Reads, and provisions members (SCIM)."""
    READ = "read"
    """Reads only."""


class TokenEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    org: str = Field(pattern=ORGANISATION.pattern)
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Grant:
    """Who a valid token speaks for."""

    org: str
    role: Role

    @property
    def may_write(self) -> bool:
        return self.role is Role.ADMIN


class TokenListError(ValueError):
    """The token list cannot be read; the message names the line, never a hash."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_line(org: str, role: Role, token: str) -> str:
    """The line that grants ``token`` to the token list."""
    return f"{org} {role.value} {token_hash(token)}"


class TokenBook:
    def __init__(self, entries: Iterable[TokenEntry] = ()) -> None:
        self.entries = tuple(entries)

    def grant(self, token: str) -> Grant | None:
        """The grant of a presented token, None when no entry matches. Every entry is compared,
        in constant time, so the answer's timing does not tell how close a guess came."""
        presented = token_hash(token)
        found: Grant | None = None
        for entry in self.entries:
            if hmac.compare_digest(presented, entry.sha256):
                found = Grant(entry.org, entry.role)
        return found

    def __len__(self) -> int:
        return len(self.entries)


def read_token_list(text: str) -> TokenBook:
    """Parse a token list (JSON or lines); TokenListError on a mistake."""
    stripped = text.strip()
    try:
        if stripped.startswith("["):
            return TokenBook(TokenEntry.model_validate(item) for item in json.loads(stripped))
        return TokenBook(_entries_of_lines(stripped.splitlines()))
    except json.JSONDecodeError as error:
        raise TokenListError(f"token list: not JSON ({error.msg})") from None
    except ValidationError as error:
        fields = sorted({str(item["loc"][-1]) for item in error.errors() if item["loc"]})
        raise TokenListError(f"token list: invalid {', '.join(fields) or 'entry'}") from None


def _entries_of_lines(lines: Iterable[str]) -> Iterable[TokenEntry]:
    entries = []
    for number, line in enumerate(lines, start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 3:
            raise TokenListError(f"token list line {number}: expected ORG ROLE SHA256")
        org, role, digest = words
        try:
            entries.append(TokenEntry(org=org, role=Role(role), sha256=digest.lower()))
        except ValueError:
            raise TokenListError(
                f"token list line {number}: role must be admin or read, the hash 64 hex digits"
            ) from None
    return entries


BEARER = re.compile(r"^Bearer[ \t]+(\S+)[ \t]*$", re.IGNORECASE)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, None when absent or malformed."""
    if not authorization:
        return None
    matched = BEARER.match(authorization)
    return matched.group(1) if matched else None
