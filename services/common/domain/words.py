"""Small phrases every service's reasons use, in English (the notifier translates the message
around them)."""

from __future__ import annotations

from collections.abc import Sequence

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""In the order of ``working_hours.WEEKDAYS``."""


def listing(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def describe_minutes(minutes: int) -> str:
    """'45 min', '2 h', '2 h 30 min'."""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"
