"""Rosters: every row validated, and only the differences published."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import new_event
from schemas.members import MemberJoined, MemberLeft, MemberProfileUpdated
from services.cli.roster import parse_roster
from services.common.domain.directory import MemberDirectory
from services.common.member_changes import changes
from tests.factories import T0

EXAMPLE = Path(__file__).parents[3] / "examples" / "acme-members.csv"


def directory_after(*payloads: object) -> MemberDirectory:
    directory = MemberDirectory()
    for payload in payloads:
        directory.apply(new_event(payload, source="/tests", orgid="acme", time=T0))  # type: ignore[arg-type]
    return directory


def test_the_example_file_is_valid() -> None:
    roster = parse_roster(EXAMPLE.read_text())
    assert roster.errors == ()
    assert [p.member_id for p in roster.profiles] == ["ada", "bram", "chloe", "dev", "emma"]
    dev = roster.profiles[3]
    assert dev.timezone == "Asia/Kolkata"
    assert dev.working_hours.start.hour == 10
    assert dev.languages == ("en", "hi")
    assert dev.office is None
    assert roster.profiles[4].new_hire is True


def test_errors_name_the_line_and_the_field() -> None:
    text = EXAMPLE.read_text().splitlines()
    text[2] = text[2].replace("Europe/Amsterdam", "Mars/Base")
    text[3] = text[3].replace("chloe@acme.example", "not-an-address")
    text[4] = text[4].replace(",false,false,teams", ",maybe,false,teams")
    roster = parse_roster("\n".join(text))
    found = {(e.row, e.field) for e in roster.errors}
    assert found == {(3, "timezone"), (4, "email"), (5, "new_hire")}
    assert all("Mars" not in e.message for e in roster.errors)  # input values stay out
    assert "not-an-address" not in " ".join(e.message for e in roster.errors)


def test_missing_and_unknown_columns_are_reported_on_line_one() -> None:
    roster = parse_roster("member_id,nickname\nada,A\n")
    assert (1, "email") in {(e.row, e.field) for e in roster.errors}
    assert (1, "nickname") in {(e.row, e.field) for e in roster.errors}
    assert roster.profiles == ()


def test_a_repeated_member_id_is_an_error() -> None:
    lines = EXAMPLE.read_text().splitlines()
    roster = parse_roster("\n".join([*lines, lines[1]]))
    assert [(e.row, e.field) for e in roster.errors] == [(7, "member_id")]


def test_changes_are_joins_updates_and_departures_only() -> None:
    profiles = parse_roster(EXAMPLE.read_text()).profiles
    first = changes(MemberDirectory(), "acme", profiles)
    assert [type(p) for p in first] == [MemberJoined] * 5

    directory = directory_after(*first)
    assert changes(directory, "acme", profiles) == []

    moved = profiles[1].model_copy(update={"team": "Payments"})
    later = changes(directory, "acme", [profiles[0], moved, *profiles[2:4]])
    assert [(type(p), getattr(p, "member_id", None)) for p in later] == [
        (MemberProfileUpdated, "bram"),
        (MemberLeft, "emma"),
    ]


def test_a_departed_member_in_the_file_joins_again() -> None:
    profiles = parse_roster(EXAMPLE.read_text()).profiles
    directory = directory_after(
        *changes(MemberDirectory(), "acme", profiles), MemberLeft(member_id="ada")
    )
    assert [
        (type(p), getattr(p, "member_id", None)) for p in changes(directory, "acme", profiles)
    ] == [(MemberJoined, "ada")]


@pytest.mark.parametrize(
    "hostile",
    ['"Ada\nLovelace"', '"Ada\r\nBcc: evil@example.org"', "Ada\x00", "Ada \u202eecalevol\u202c"],
)
def test_a_cell_with_a_line_break_nul_or_bidi_override_is_refused_without_echoing_it(
    hostile: str,
) -> None:
    lines = EXAMPLE.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("display_name")] = hostile
    roster = parse_roster("\n".join([lines[0], ",".join(cells)]))
    assert [(e.row, e.field) for e in roster.errors] == [(2, "display_name")]
    assert "control character" in roster.errors[0].message
    assert "Ada" not in roster.errors[0].message
    assert roster.profiles == ()
