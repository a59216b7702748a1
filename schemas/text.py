"""Human text as it enters an event: one line, no control characters, no bidi overrides.

HR exports hold line breaks inside cells, NULs and Unicode bidi overrides; a name carrying them
breaks mail headers (a line break there is a header injection, and the e-mail library refuses it)
and can disguise what a message says. Every human text field of the schemas is cleaned when an
event is built or read, the same way (old records in the log included, so a replay reads them
without turning history into dead letters):

- control characters (Unicode category Cc: C0, DEL, C1) and the bidi controls (embeddings,
  overrides, isolates, marks) are removed; a line break or tab becomes a space;
- runs of white space become one space, and the ends are trimmed;
- a name or label with nothing readable left becomes U+FFFD, so a record that was valid stays so.

Other format characters stay (the zero-width joiner that builds an emoji, soft hyphens).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import BeforeValidator, StringConstraints

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_WHITE = re.compile(r"\s+")


def one_line(value: object) -> object:
    """The text cleaned as above (anything not a string is left to the type's own check)."""
    if not isinstance(value, str):
        return value
    if value.isprintable() and "  " not in value and value == value.strip():
        # Printable: no control, bidi or line-break character, and no white space but the
        # ASCII space (Python's definition), so nothing to remove: most text, read for free.
        return value
    return cleaned_line(value)


def cleaned_line(value: str) -> str:
    """``one_line`` the whole way, character by character."""
    kept = "".join(
        " " if character in "\t\n\r\v\f\x85\u2028\u2029" else character
        for character in value
        if character not in BIDI_CONTROLS
        and (unicodedata.category(character) != "Cc" or character in "\t\n\r\v\f\x85")
    )
    return _WHITE.sub(" ", kept).strip()


def one_line_or_mark(value: object) -> object:
    """``one_line``; a non-empty text with nothing readable left becomes U+FFFD (the replacement
    character) rather than empty: a record valid when written stays valid when read."""
    cleaned = one_line(value)
    if cleaned == "" and isinstance(value, str) and value.strip():
        return "\ufffd"
    return cleaned


def has_control_characters(value: str) -> bool:
    """Whether cleaning would change more than white space (the importer refuses such cells)."""
    return any(
        character in BIDI_CONTROLS
        or unicodedata.category(character) == "Cc"
        or character in "\u2028\u2029"
        for character in value
    )


Label = Annotated[
    str, StringConstraints(min_length=1, max_length=200), BeforeValidator(one_line_or_mark)
]
"""A short human-readable text (team name, reason, title), one line. The constraints come
first so that pydantic checks them on the string itself (in Rust); written after the cleaning,
they were checked by a Python function wrapped around it, at three times the cost. The cleaning
runs first either way."""

PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), BeforeValidator(one_line_or_mark)
]
"""A person's name as others see it (personal data: never logged), one line."""

ShortText = Annotated[str, BeforeValidator(one_line)]
"""A sentence a person typed (a reason), one line, possibly empty (the envelope bounds its size)."""
