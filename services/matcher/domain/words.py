"""Reasons and conversation starters, in words a person understands (English; the notifier
translates the message around them)."""

from __future__ import annotations

from collections.abc import Sequence

LANGUAGE_NAMES = {
    "en": "English",
    "nl": "Dutch",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "hi": "Hindi",
    "ja": "Japanese",
    "zh": "Chinese",
}

STARTERS = (
    "What is something you learned recently that surprised you?",
    "What does a good working day look like for you?",
    "Which project are you proudest of, and why?",
    "What would you explain to a new colleague about your team?",
    "What is the best piece of advice you have been given at work?",
    "If you could swap jobs with anyone here for a day, who would it be?",
    "What do you do to switch off after work?",
    "Which tool or habit makes your week easier?",
    "What is a place you would love to work from for a week?",
    "What are you looking forward to this month?",
    "What did you want to be when you were a child?",
    "Which book, podcast or show would you recommend right now?",
)


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0], code)


def both_or_all(count: int) -> str:
    return "both" if count == 2 else "all"


def starter(choice: int, shared_interests: Sequence[str]) -> str:
    if shared_interests:
        interest = shared_interests[choice % len(shared_interests)]
        return f"You {both_or_all(2)} like {interest}: how did you get into it?"
    return STARTERS[choice % len(STARTERS)]
