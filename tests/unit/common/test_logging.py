"""Log lines carry event identifiers and never personal data."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from services.common.logging import configure_logging, event_log_context, redact_url
from tests.factories import member_joined_event


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Each test points the root logger at its captured stderr: put it back afterwards, or later
    tests log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_json_line_has_the_event_identifiers_and_no_personal_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("matcher", log_format="json", level="DEBUG")
    event = member_joined_event(member_id="ada")
    with event_log_context(event.to_logging_context):
        structlog.get_logger("test").info(
            "member seen", display_name=event.data.display_name, email=event.data.email
        )
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])

    assert line["event_id"] == str(event.id)
    assert line["event_type"] == "rituals.member.joined"
    assert line["org_id"] == event.orgid
    assert line["correlation_id"] == event.correlationid
    assert line["service"] == "matcher"
    assert line["display_name"] == line["email"] == "[redacted]"
    assert event.data.email not in json.dumps(line)


def test_standard_library_loggers_go_through_the_same_pipeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("notifier", log_format="json", level="INFO")
    logging.getLogger("rituals.notifier.kafka").info("consumer started")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "consumer started"
    assert line["service"] == "notifier"
    assert line["level"] == "info"


def test_context_is_unbound_after_the_block(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("matcher", log_format="json", level="INFO")
    with event_log_context(lambda: {"event_id": "e-1"}):
        pass
    structlog.get_logger("test").info("after")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "event_id" not in line


def test_the_innermost_event_names_a_line_and_what_the_line_says_wins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("notifier", log_format="json", level="INFO")
    made: list[str] = []

    def context(event_id: str, org_id: str) -> Callable[[], dict[str, str]]:
        def identifiers() -> dict[str, str]:
            made.append(event_id)
            return {"event_id": event_id, "org_id": org_id, "event_type": "t"}

        return identifiers

    with event_log_context(context("outer", "acme")):
        with event_log_context(context("inner", "acme")):
            assert made == []  # nothing is made while nothing is logged
            structlog.get_logger("test").info("delivered", event_type="explicit")
        structlog.get_logger("test").info("back outside")
    inner, outer = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (inner["event_id"], inner["org_id"], inner["event_type"]) == (
        "inner",
        "acme",
        "explicit",
    )
    assert outer["event_id"] == "outer"


def test_errors_the_kafka_client_retries_itself_are_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("onboarding", log_format="json", level="INFO")
    client = logging.getLogger("aiokafka.consumer.group_coordinator")
    client.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")
    client.error("Unexpected error in coordinator routine")
    retried, unexpected = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert retried["level"] == "warning"
    assert unexpected["level"] == "error"


def test_the_kafka_clients_timing_warnings_are_left_out_and_its_errors_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("demo", log_format="json", level="INFO")
    selector = logging.getLogger("kafka.net.selector")
    selector.warning("Task ran for 0.179s (>0.100s threshold). It is blocking the event loop")
    selector.error("the selector failed")
    (line,) = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (line["event"], line["level"]) == ("the selector failed", "error")


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        ("Uvicorn running on http://127.0.0.1:8080", "Uvicorn running on http://127.0.0.1:8080"),
        ("at https://rituals.example.com/ now", "at https://rituals.example.com/ now"),
        (
            "posting to https://hooks.slack.com/services/T0/B0/secret",
            "posting to https://hooks.slack.com/[redacted]",
        ),
        ("https://user:pw@example.com", "https://example.com/[redacted]"),
        ("http://gateway:8080/links/abc.def?x=1", "http://gateway:8080/[redacted]"),
        ("http://gateway:8080?token=abc", "http://gateway:8080/[redacted]"),
    ],
)
def test_a_url_keeps_its_host_and_loses_what_may_be_a_secret(text: str, logged: str) -> None:
    assert redact_url(text) == logged
