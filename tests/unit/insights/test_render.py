"""The report as text, JSON and HTML."""

from __future__ import annotations

import json

from services.demo.script import DemoShape
from services.insights.domain import Insights, project
from services.insights.page import html_page
from services.insights.render import Format, render, text_report
from tests.factories import ORG
from tests.unit.insights.support import generated_history, joined, tick
from tests.unit.insights.test_projection import office


def test_json_is_the_model_and_reads_back() -> None:
    report = project(office(), ORG, team="A")
    text = render(report, Format.JSON)
    assert Insights.model_validate_json(text) == report
    assert json.loads(text)["coffee"]["happened_share"] == 0.5


def test_text_report_of_the_organisation_has_figures_and_no_names() -> None:
    text = text_report(project(office(), ORG))
    assert "participation 66.7% (member-rounds)" in text
    assert "coffees that happened 50.0% (1 of 2 groups with feedback; 3 groups)" in text
    assert "cross-team 50.0%" in text
    assert "A - B" in text
    assert "Member " not in text
    assert "@" not in text


def test_text_report_of_a_team_names_its_members_and_watchlist() -> None:
    text = text_report(project(office(), ORG, team="B", quiet_weeks=1))
    assert "Member b1" in text
    assert "Member b2: quiet" in text
    assert "Member a2" not in text  # a1 is named: the connector who alone links A and B


def test_html_escapes_every_text_and_loads_nothing_from_outside() -> None:
    events = [
        joined("x1", "<A&B>", display_name="<script>alert(1)</script>"),
        tick(joined("x1", "A").time),
    ]
    page = html_page(project(events, ORG, team="<A&B>"))
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;A&amp;B&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "src=" not in page


def test_html_of_a_generated_organisation_is_the_same_every_time() -> None:
    events = generated_history(DemoShape(members=40, teams=4, weeks=3, new_hires=2))
    first = html_page(project(events, "demo-org"))
    assert first == html_page(project(list(reversed(events)), "demo-org"))
    assert first.count("<svg") == 4  # participation, cross-team, ritual attendance, graph
    assert first.count("<circle") > 40
