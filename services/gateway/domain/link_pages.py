"""The small pages a one-click link shows, in the member's language: a question with a confirm
button (GET: a mail scanner that fetches the link changes nothing), a thank-you (after the
POST), or why the link does not work. Pure: text in, HTML out; every value is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from services.common.domain.links import LinkAction

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class PageTexts:
    questions: dict[LinkAction, str]
    confirm: str
    done: str
    refused: dict[str, str]


PAGES: dict[str, PageTexts] = {
    "en": PageTexts(
        questions={
            LinkAction.MET: "Did your coffee meeting take place?",
            LinkAction.NOT_MET: "Your coffee meeting did not take place?",
            LinkAction.RATE: "Rate your coffee meeting: {rating} out of 5?",
            LinkAction.RSVP: "Will you be there?",
            LinkAction.ATTENDED: "Did you attend?",
            LinkAction.PAUSE: "Pause for two weeks? You take part again afterwards.",
            LinkAction.OPT_OUT: "Opt out of Rituals? You receive no more invitations.",
            LinkAction.PULSE: "How connected did you feel to your colleagues this week? "
            "Your answer: {rating} out of 5.",
        },
        confirm="Confirm",
        done="Thank you, your answer is recorded.",
        refused={
            "malformed": "This link is not valid. Please use the link from your message.",
            "tampered": "This link is not valid. Please use the link from your message.",
            "expired": "This link has expired.",
            "unknown_member": "This link no longer works for you.",
            "not_configured": "Links are not enabled on this platform.",
        },
    ),
    "nl": PageTexts(
        questions={
            LinkAction.MET: "Heeft jullie koffieafspraak plaatsgevonden?",
            LinkAction.NOT_MET: "Heeft jullie koffieafspraak niet plaatsgevonden?",
            LinkAction.RATE: "Je koffieafspraak beoordelen met {rating} van de 5?",
            LinkAction.RSVP: "Ben je erbij?",
            LinkAction.ATTENDED: "Was je erbij?",
            LinkAction.PAUSE: "Twee weken pauzeren? Daarna doe je weer mee.",
            LinkAction.OPT_OUT: "Afmelden voor Rituals? Je krijgt geen uitnodigingen meer.",
            LinkAction.PULSE: "Hoe verbonden voelde je je deze week met je collega's? "
            "Je antwoord: {rating} van de 5.",
        },
        confirm="Bevestigen",
        done="Dank je, je antwoord is genoteerd.",
        refused={
            "malformed": "Deze link is niet geldig. Gebruik de link uit je bericht.",
            "tampered": "Deze link is niet geldig. Gebruik de link uit je bericht.",
            "expired": "Deze link is verlopen.",
            "unknown_member": "Deze link werkt niet meer voor jou.",
            "not_configured": "Links zijn op dit platform niet ingeschakeld.",
        },
    ),
}


def page_language(languages: Sequence[str]) -> str:
    """The member's first language the pages are written in (by primary subtag), else English."""
    for tag in languages:
        primary = tag.split("-")[0].lower()
        if primary in PAGES:
            return primary
    return DEFAULT_LANGUAGE


def confirm_page(language: str, action: LinkAction, rating: int | None, action_url: str) -> str:
    texts = PAGES[language]
    question = texts.questions[action].format(rating=rating)
    form = (
        f'<form method="post" action="{escape(action_url)}">'
        f'<button type="submit" id="confirm">{escape(texts.confirm)}</button></form>'
    )
    return _page(language, f"<p>{escape(question)}</p>{form}")


def done_page(language: str) -> str:
    return _page(language, f'<p id="done">{escape(PAGES[language].done)}</p>')


def refused_page(language: str, reason: str) -> str:
    return _page(language, f'<p id="refused">{escape(PAGES[language].refused[reason])}</p>')


def _page(language: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex"><title>Rituals</title></head>'
        f'<body style="font-family: sans-serif; max-width: 32rem; margin: 2rem auto">{body}'
        "</body></html>"
    )
