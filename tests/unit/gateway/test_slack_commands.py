"""The slash command's meaning and replies, in the member's first language that has them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.members import MemberPaused, MemberProfile
from services.common.domain.directory import Member, MemberStatus
from services.gateway.domain.slack_commands import REPLIES, run_command
from tests.factories import member_joined

TODAY = date(2026, 3, 4)


def member(languages: tuple[str, ...], status: MemberStatus = MemberStatus.ACTIVE) -> Member:
    profile = MemberProfile.model_validate(member_joined("m-1", languages=languages).model_dump())
    return Member(profile, status, datetime(2026, 1, 5, tzinfo=UTC))


@pytest.mark.parametrize(
    ("languages", "reply"),
    [
        (("nl", "en"), "Gepauzeerd tot 2026-03-18."),
        (("nl-BE",), "Gepauzeerd tot 2026-03-18."),
        (("en", "nl"), "Paused until 2026-03-18."),
        (("de", "nl"), "Gepauzeerd tot 2026-03-18."),
        (("de",), "Paused until 2026-03-18."),
    ],
)
def test_a_pause_is_answered_in_the_members_language(
    languages: tuple[str, ...], reply: str
) -> None:
    outcome = run_command("pause 2w", member(languages), TODAY)
    assert outcome.reply == reply
    assert outcome.events == (MemberPaused(member_id="m-1", until=date(2026, 3, 18)),)


@pytest.mark.parametrize("text", ["status", "resume", "nonsense", "pause 0d", "skip"])
def test_every_reply_exists_in_every_language(text: str) -> None:
    english = run_command(text, member(("en",)), TODAY).reply
    dutch = run_command(text, member(("nl",)), TODAY).reply
    assert english != dutch
    assert set(REPLIES["en"]) == set(REPLIES["nl"])


def test_someone_who_opted_out_is_told_nothing_changed() -> None:
    outcome = run_command("resume", member(("nl",), MemberStatus.OPTED_OUT), TODAY)
    assert outcome == type(outcome)("Je doet niet mee aan Rituals; er is niets veranderd.")
