"""How each channel lays a message out: plain text, HTML, Slack Block Kit, Teams Adaptive Card.

Every piece of text comes from people or from templates filled with people's input (names,
reasons, titles), so each format escapes it the way its renderer needs: HTML entities for e-mail,
``&``, ``<`` and ``>`` for Slack mrkdwn, nothing to interpret for Adaptive Cards (plain
``TextBlock``s with markdown characters escaped).
"""

from __future__ import annotations

import html
import re
from typing import Any

from services.notifier.domain.message import AnswerLink, Message

_SLACK_TEXT_LIMIT = 3000
_SLACK_HEADER_LIMIT = 150
_SLACK_FIELDS_LIMIT = 10
_SLACK_BUTTON_LIMIT = 75


def as_text(message: Message) -> str:
    """The plain-text body (e-mail text part, console)."""
    lines = [message.greeting, "", message.lead, ""]
    lines += [f"{fact.label}: {fact.value}" for fact in message.facts]
    if message.link:
        lines.append(f"{message.link_label}: {message.link}")
    if message.reasons:
        lines += ["", f"{message.reasons_heading}:"]
        lines += [f"- {reason}" for reason in message.reasons]
    if message.closing:
        lines += ["", message.closing]
    if message.answers:
        lines.append("")
        lines += [f"{answer.label}: {answer.url}" for answer in message.answers]
    lines += ["", message.sign_off]
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def as_html(message: Message) -> str:
    """The HTML body of an e-mail; every value escaped."""
    e = html.escape
    parts = [
        f'<!DOCTYPE html>\n<html lang="{e(message.language)}"><head><meta charset="utf-8">',
        f"<title>{e(message.subject)}</title></head>",
        '<body style="font-family: sans-serif; line-height: 1.5">',
        f"<p>{e(message.greeting)}</p>",
        f"<p><strong>{e(message.lead)}</strong></p>",
    ]
    if message.facts:
        rows = "".join(
            f'<tr><th align="left" style="padding-right: 1em">{e(f.label)}</th>'
            f"<td>{e(f.value)}</td></tr>"
            for f in message.facts
        )
        parts.append(f"<table>{rows}</table>")
    if message.link:
        parts.append(f'<p><a href="{e(message.link)}">{e(message.link_label)}</a></p>')
    if message.reasons:
        items = "".join(f"<li>{e(reason)}</li>" for reason in message.reasons)
        parts.append(f"<p>{e(message.reasons_heading)}:</p><ul>{items}</ul>")
    if message.closing:
        parts.append(f"<p><em>{e(message.closing)}</em></p>")
    if message.answers:
        links = " | ".join(f'<a href="{e(a.url)}">{e(a.label)}</a>' for a in message.answers)
        parts.append(f"<p>{links}</p>")
    parts.append(f"<p>{e(message.sign_off)}</p></body></html>")
    return "\n".join(parts) + "\n"


def slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping: only these three characters are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_slack(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook payload (Block Kit), with ``text`` as the notification fallback."""
    s = slack_escape
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(message.subject, _SLACK_HEADER_LIMIT)},
        },
        _slack_section(f"{s(message.greeting)}\n{s(message.lead)}"),
    ]
    if message.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _clip(f"*{s(f.label)}*\n{s(f.value)}", 2000)}
                    for f in message.facts[:_SLACK_FIELDS_LIMIT]
                ],
            }
        )
    if message.link:
        blocks.append(_slack_section(f"<{s(message.link)}|{s(message.link_label)}>"))
    if message.reasons:
        bullets = "\n".join(f"• {s(reason)}" for reason in message.reasons)
        blocks.append(_slack_section(f"*{s(message.reasons_heading)}*\n{bullets}"))
    if message.closing:
        blocks.append(_slack_section(f"_{s(message.closing)}_"))
    if message.answers:
        blocks.append({"type": "actions", "elements": [_slack_button(a) for a in message.answers]})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": s(message.sign_off)}]}
    )
    return {"text": _clip(message.subject, _SLACK_TEXT_LIMIT), "blocks": blocks}


def _slack_button(answer: AnswerLink) -> dict[str, Any]:
    """A URL button: Slack opens the gateway's confirmation page; with the app's
    interactivity pointed at the gateway, the click (signed by Slack) answers at once."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": _clip(answer.label, _SLACK_BUTTON_LIMIT)},
        "url": answer.url,
        "value": answer.token,
    }


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _SLACK_TEXT_LIMIT)}}


_TEAMS_MARKDOWN = re.compile(r"([\\*_\[\]()#>~`-])")


def teams_escape(text: str) -> str:
    """Adaptive Card ``TextBlock``s render a markdown subset: escape its characters."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


def as_teams(message: Message) -> dict[str, Any]:
    """A Teams incoming-webhook payload: a message carrying one Adaptive Card (schema 1.4)."""
    t = teams_escape
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": t(message.subject),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": t(message.greeting), "wrap": True},
        {"type": "TextBlock", "text": t(message.lead), "wrap": True},
    ]
    if message.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": t(f.label), "value": t(f.value)} for f in message.facts],
            }
        )
    if message.reasons:
        body.append(
            {
                "type": "TextBlock",
                "text": t(message.reasons_heading),
                "weight": "Bolder",
                "wrap": True,
            }
        )
        body += [{"type": "TextBlock", "text": f"• {t(r)}", "wrap": True} for r in message.reasons]
    if message.closing:
        body.append(
            {"type": "TextBlock", "text": t(message.closing), "isSubtle": True, "wrap": True}
        )
    body.append({"type": "TextBlock", "text": t(message.sign_off), "isSubtle": True, "wrap": True})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "lang": message.language,
        "body": body,
    }
    actions = [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in (
            *([(message.link_label, message.link)] if message.link else []),
            *((answer.label, answer.url) for answer in message.answers),
        )
    ]
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
