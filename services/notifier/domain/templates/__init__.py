"""The notifier's templates, one module per language.

To add a language: copy ``en.py`` to ``<tag>.py`` (``de.py``), translate every text (keep the
``{placeholders}``), and add the phrasebook to ``PHRASEBOOKS`` below. The tests check that every
registered language formats every text with the known placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.notifier.domain.templates.en import ENGLISH
from services.notifier.domain.templates.nl import DUTCH
from services.notifier.domain.templates.phrasebook import Phrasebook, Texts

PHRASEBOOKS: Mapping[str, Phrasebook] = {book.language: book for book in (ENGLISH, DUTCH)}
"""Every language the notifier writes, by BCP 47 tag."""

FALLBACK_LANGUAGE = ENGLISH.language


def _supported(tag: str) -> str | None:
    """The registered language a tag asks for: itself, or its primary language (en-GB -> en)."""
    if tag in PHRASEBOOKS:
        return tag
    primary = tag.split("-", 1)[0].lower()
    return primary if primary in PHRASEBOOKS else None


def language_for(preferred: Sequence[str], organisation_default: str) -> str:
    """The first of the member's languages the notifier writes, else the organisation's
    default, else English."""
    for tag in (*preferred, organisation_default):
        supported = _supported(tag)
        if supported is not None:
            return supported
    return FALLBACK_LANGUAGE


__all__ = ["FALLBACK_LANGUAGE", "PHRASEBOOKS", "Phrasebook", "Texts", "language_for"]
