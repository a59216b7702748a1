"""Member rosters from CSV: validated row by row, then turned into the events that bring the
directory in line with the file (so importing the same file twice publishes nothing)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.members import MemberProfile
from schemas.text import has_control_characters

LIST_SEPARATOR = ";"
COLUMNS = (
    "member_id",
    "display_name",
    "email",
    "team",
    "department",
    "manager_id",
    "timezone",
    "working_hours",
    "working_days",
    "office_days",
    "office",
    "languages",
    "interests",
    "start_date",
    "new_hire",
    "buddy_volunteer",
    "notification_channels",
)
REQUIRED_COLUMNS = (
    "member_id",
    "display_name",
    "email",
    "team",
    "department",
    "timezone",
    "languages",
    "start_date",
)
LIST_COLUMNS = ("office_days", "languages", "interests", "notification_channels", "working_days")
TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0", ""}


@dataclass(frozen=True)
class RowError:
    row: int
    """Line number in the file (the header is line 1)."""
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.row}, {self.field}: {self.message}"


@dataclass(frozen=True)
class Roster:
    profiles: tuple[MemberProfile, ...]
    errors: tuple[RowError, ...]


CONTROL_CHARACTERS = (
    "holds a line break, a tab, another control character or a bidi override: clean the cell"
)


def parse_roster(text: str) -> Roster:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    errors = [RowError(1, c, "required column missing") for c in missing]
    errors += [RowError(1, c, f"unknown column (known: {', '.join(COLUMNS)})") for c in unknown]
    if errors:
        return Roster((), tuple(errors))
    profiles: list[MemberProfile] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        profile, row_errors = _profile(line, row)
        errors += row_errors
        if profile is None:
            continue
        if profile.member_id in seen:
            errors.append(RowError(line, "member_id", f"repeats line {seen[profile.member_id]}"))
            continue
        seen[profile.member_id] = line
        profiles.append(profile)
    return Roster(tuple(profiles), tuple(errors))


def _profile(line: int, row: dict[str, Any]) -> tuple[MemberProfile | None, list[RowError]]:
    errors: list[RowError] = []
    document: dict[str, Any] = {}
    for column, raw in row.items():
        if column is None:
            errors.append(RowError(line, "row", "more values than columns"))
            continue
        value = (raw or "").strip()
        if has_control_characters(value):  # the value is not echoed: it may be personal data
            errors.append(RowError(line, column, CONTROL_CHARACTERS))
            continue
        if column in LIST_COLUMNS:
            document[column] = tuple(v.strip() for v in value.split(LIST_SEPARATOR) if v.strip())
        elif column in ("new_hire", "buddy_volunteer"):
            if value.lower() not in TRUE | FALSE:
                errors.append(RowError(line, column, f"expected true or false, got {value!r}"))
            document[column] = value.lower() in TRUE
        elif value:
            document[column] = value
    _working_hours(line, document, errors)
    if errors:
        return None, errors
    try:
        return MemberProfile.model_validate(document), []
    except ValidationError as error:
        return None, [
            RowError(line, ".".join(str(p) for p in item["loc"]), item["msg"])
            for item in error.errors(include_url=False)
        ]


def _working_hours(line: int, document: dict[str, Any], errors: list[RowError]) -> None:
    hours = document.pop("working_hours", "09:00-17:30")
    days = document.pop("working_days", ()) or ("mon", "tue", "wed", "thu", "fri")
    start, separator, end = hours.partition("-")
    if not separator:
        errors.append(RowError(line, "working_hours", "expected start-end, e.g. 09:00-17:30"))
        return
    document["working_hours"] = {"start": start.strip(), "end": end.strip(), "days": days}
