"""The pulse in the insights: per week, of the scope and of each team, aggregates only, and a
figure only for groups of at least 5 answers; ritual attendance per week."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from schemas import CloudEvent
from schemas.pulse import PulseAnswered
from services.insights.domain import project
from services.insights.page import html_page
from services.insights.render import text_report
from tests.factories import ORG, T0
from tests.unit.insights.support import at, held, joined, scheduled, tick

MONDAY = date(2025, 3, 3)
FRIDAY = datetime(2025, 3, 7, 15, 0, tzinfo=T0.tzinfo)


def answered(member_id: str, score: int, time: datetime = FRIDAY) -> CloudEvent[Any]:
    return at(PulseAnswered(week_starting=MONDAY, member_id=member_id, score=score), time)


def history(payments: int, sales: int) -> list[CloudEvent[Any]]:
    events = [joined(f"p{n}", "Payments") for n in range(payments)]
    events += [joined(f"s{n}", "Sales") for n in range(sales)]
    events += [answered(f"p{n}", 4) for n in range(payments)]
    events += [answered(f"s{n}", 2) for n in range(sales)]
    return [*events, tick(FRIDAY + timedelta(days=1))]


def figures(events: list[CloudEvent[Any]], team: str | None = None) -> dict[Any, Any]:
    report = project(events, ORG, team=team)
    return {(p.week_starting, p.team): (p.answers, p.mean) for p in report.pulse}


def test_four_answers_show_no_figure_five_do() -> None:
    found = figures(history(payments=5, sales=4))
    assert found[(MONDAY, "Payments")] == (5, 4.0)
    assert found[(MONDAY, "Sales")] == (4, None)


def test_the_whole_is_withheld_when_it_would_give_a_small_team_away() -> None:
    # Payments' mean and the organisation's would reveal the one Sales answer.
    assert figures(history(payments=5, sales=1))[(MONDAY, None)] == (6, None)
    # With every team shown, or the teams without a figure holding 5 or more, it is shown.
    assert figures(history(payments=5, sales=5))[(MONDAY, None)] == (10, 3.0)
    three_small = [*history(payments=5, sales=4), joined("d0", "Data"), answered("d0", 5)]
    assert figures(three_small)[(MONDAY, None)] == (10, 3.3)  # (5 * 4 + 4 * 2 + 5) / 10


def test_the_latest_answer_of_a_week_counts() -> None:
    events = history(payments=5, sales=0)
    events += [answered("p0", 1, FRIDAY + timedelta(hours=1))]
    assert figures(events)[(MONDAY, "Payments")] == (5, round((4 * 4 + 1) / 5, 2))


def test_the_team_view_shows_its_own_team_only() -> None:
    found = figures(history(payments=5, sales=5), team="Sales")
    assert found == {(MONDAY, None): (5, 2.0)}


def test_the_report_page_and_json_say_so() -> None:
    report = project(history(payments=5, sales=4), ORG)
    text = text_report(report)
    assert "Pulse:" in text
    assert "fewer than 5 answers" in text
    assert "4.00 (5)" in text
    page = html_page(report)
    assert "fewer than 5 answers" in page
    assert '"pulse"' in report.model_dump_json()
    assert "p0" not in text  # aggregates only
    assert "p0" not in page


def test_ritual_attendance_per_week() -> None:
    start = datetime(2025, 3, 7, 16, 0, tzinfo=T0.tzinfo)
    events = [
        joined("p0", "Payments"),
        joined("p1", "Payments"),
        scheduled("drinks", "Payments"),
        held("drinks", start, ("p0", "p1")),
        held("drinks", start + timedelta(weeks=1), ("p0",)),
        tick(start + timedelta(weeks=2)),
    ]
    weeks = project(events, ORG).attendance_weeks
    assert [(w.week_starting, w.attended, w.expected) for w in weeks] == [
        (MONDAY, 2, 2),
        (MONDAY + timedelta(weeks=1), 1, 2),
    ]
