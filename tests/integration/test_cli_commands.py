"""The command line publishing and reading events through a real broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import decode_event
from schemas.notifications import NotificationFailed
from schemas.recurrence import parse_recurrence
from services.cli.main import app
from services.common.adapters.publisher import EventPublisher
from tests.factories import T0, event
from tests.kafka_io import read_all
from tests.unit.insights.support import matched

pytestmark = pytest.mark.broker
EXAMPLE = Path(__file__).parents[2] / "examples" / "acme-members.csv"


def member_event_types(kafka: KafkaSettings, topics: TopicSettings) -> list[str]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.MEMBERS))
    return [decode_event(r.value or b"").type for r in records]


def coffee_event_types(kafka: KafkaSettings, topics: TopicSettings) -> list[str]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))
    return [decode_event(r.value or b"").type for r in records]


def publish_group(kafka: KafkaSettings, topics: TopicSettings, *members: str) -> None:
    """What the matcher would publish: group g1 of round coffee-2026-03-02."""
    group = matched("coffee-2026-03-02", "g1", members, T0)
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([group])


def test_importing_a_good_file_then_the_same_file_again(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    first = cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    assert first.exit_code == 0, first.output
    assert "published 5 joined" in first.output
    assert member_event_types(kafka, topics) == ["rituals.member.joined"] * 5

    second = cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    assert second.exit_code == 0, second.output
    assert "no changes" in second.output
    assert len(member_event_types(kafka, topics)) == 5


def test_a_file_with_errors_publishes_nothing(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(EXAMPLE.read_text().replace("2023-09-01", "2023-13-45"))
    result = cli.invoke(app, ["members", "import", str(broken), "--org", "acme"])
    assert result.exit_code == 2
    assert "line 3, start_date" in result.output
    assert "nothing was published" in result.output
    assert "Traceback" not in result.output
    assert member_event_types(kafka, topics) == []


def test_an_updated_file_publishes_only_the_differences(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    lines = EXAMPLE.read_text().splitlines()
    lines[2] = lines[2].replace(",Platform,", ",Payments,")
    updated = tmp_path / "updated.csv"
    updated.write_text("\n".join(lines[:-1]) + "\n")  # emma is gone
    result = cli.invoke(app, ["members", "import", str(updated), "--org", "acme"])
    assert result.exit_code == 0, result.output
    assert member_event_types(kafka, topics)[5:] == [
        "rituals.member.profile_updated",
        "rituals.member.left",
    ]


def test_member_round_ritual_and_feedback_commands_publish_their_events(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    publish_group(kafka, topics, "ada", "bram")
    commands = [
        ["members", "pause", "bram", "--org", "acme", "--until", "2026-04-01"],
        ["members", "resume", "bram", "--org", "acme"],
        ["members", "leave", "dev", "--org", "acme", "--last-day", "2026-05-31"],
        ["round", "request", "--org", "acme", "--week", "2026-03-04"],
        [
            "ritual",
            "schedule",
            "--org",
            "acme",
            "--ritual-id",
            "fri-drinks",
            "--team",
            "Platform",
            "--title",
            "Friday drinks",
            "--rrule",
            "FREQ=WEEKLY;BYDAY=FR",
            "--kind",
            "drinks",
            "--first-start",
            "2026-03-06T16:00:00",
            "--timezone",
            "Europe/Amsterdam",
            "--at",
            "2026-03-02T09:00Z",
        ],
        [
            "ritual",
            "held",
            "--org",
            "acme",
            "--ritual-id",
            "fri-drinks",
            "--occurrence",
            "2026-03-06T15:00:00+00:00",
            "--attendees",
            "ada,bram",
            "--at",
            "2026-03-07T09:00Z",
        ],
        [
            "feedback",
            "--org",
            "acme",
            "--round",
            "coffee-2026-03-02",
            "--group",
            "g1",
            "--member",
            "ada",
            "--met",
            "--rating",
            "5",
        ],
    ]
    for command in commands:
        result = cli.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)

    assert member_event_types(kafka, topics)[5:] == [
        "rituals.member.paused",
        "rituals.member.resumed",
        "rituals.member.left",
    ]
    coffee = [
        decode_event(r.value or b"")
        for r in read_all(kafka.bootstrap_servers, topics.name(Topic.COFFEE))
    ]
    assert [e.type for e in coffee] == [
        "rituals.coffee.matched",
        "rituals.coffee.round_requested",
        "rituals.coffee.feedback_given",
    ]
    assert coffee[1].data.round_id == "coffee-2026-03-02"
    rituals = [
        decode_event(r.value or b"")
        for r in read_all(kafka.bootstrap_servers, topics.name(Topic.RITUALS))
    ]
    assert [e.data.ritual_id for e in rituals] == ["fri-drinks", "fri-drinks"]
    assert rituals[1].data.attendee_ids == ("ada", "bram")

    unknown = cli.invoke(app, ["members", "pause", "nobody", "--org", "acme"])
    assert unknown.exit_code == 2
    assert "no member 'nobody'" in unknown.output
    bad_rule = cli.invoke(
        app,
        [
            "ritual",
            "schedule",
            "--org",
            "acme",
            "--ritual-id",
            "x",
            "--team",
            "T",
            "--title",
            "X",
            "--rrule",
            "FREQ=WEEKLY",
            "--first-start",
            "2026-03-06T16:00:00",
            "--timezone",
            "Nowhere",
        ],
    )
    assert bad_rule.exit_code == 2
    assert "timezone" in bad_rule.output

    out = tmp_path / "history.jsonl"
    exported = cli.invoke(app, ["events", "export", "--out", str(out), "--org", "acme"])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 5 + 3 + 3 + 2
    assert {line["specversion"] for line in lines} == {"1.0"}
    assert len({line["id"] for line in lines}) == len(lines)

    tail = cli.invoke(app, ["events", "tail", "--type", "rituals.ritual.", "--last", "5"])
    assert tail.exit_code == 0, tail.output
    assert tail.output.count("rituals.ritual.") == 2
    assert "Ada" not in tail.output  # ids and types only, no names


def ritual_events(kafka: KafkaSettings, topics: TopicSettings) -> list[Any]:
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.RITUALS))
    return [decode_event(r.value or b"") for r in records]


def schedule(rule: str, first_start: str = "2026-03-06T16:00", *extra: str) -> list[str]:
    return [
        *("ritual", "schedule", "--org", "acme", "--ritual-id", "fri-drinks"),
        *("--team", "Platform", "--title", "Friday drinks", "--rrule", rule),
        *("--first-start", first_start, "--timezone", "Europe/Amsterdam"),
        *("--at", "2026-03-02T09:00Z", *extra),
    ]


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (schedule("FREQ=DAILY;INTERVAL=0"), "INTERVAL=0"),
        (schedule("FREQ=MINUTELY"), "at most once a day"),
        (schedule("FREQ=HOURLY"), "at most once a day"),
        (schedule("FREQ=DAILY;COUNT=0"), "never fires"),
        (schedule("FREQ=WEEKLY;UNTIL=20260301T000000Z"), "never fires"),
        (schedule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "never fires"),
        (schedule("FREQ=WEEKLY;BYDAY=XX"), "invalid 'BYDAY': XX"),
        (schedule("every friday"), "cannot read the rule 'every friday'"),
        (schedule("FREQ=WEEKLY", "2026-03-29T02:30"), "does not exist in Europe/Amsterdam"),
        (schedule("FREQ=WEEKLY", "2023-03-03T16:00"), "more than a year before now"),
        (schedule("FREQ=WEEKLY", "2026-03-06T16:00", "--team", "Nobody"), "team 'Nobody'"),
    ],
)
def test_ritual_schedule_refuses_what_a_ritual_may_not_be(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, command: list[str], why: str
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    result = cli.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert why in result.output
    assert "nothing was published" in result.output
    assert "Traceback" not in result.output
    assert ritual_events(kafka, topics) == []


def test_ritual_schedule_reads_until_in_utc_and_a_first_start_with_an_offset(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    until = cli.invoke(app, schedule("FREQ=WEEKLY;BYDAY=FR;UNTIL=20260319T000000Z"))
    assert until.exit_code == 0, until.output
    offset = cli.invoke(app, schedule("FREQ=WEEKLY;BYDAY=WE", "2026-05-06T16:00+05:00"))
    assert offset.exit_code == 0, offset.output
    assert "first start 2026-05-06T13:00 Europe/Amsterdam" in offset.output
    scheduled = ritual_events(kafka, topics)
    assert scheduled[0].data.rrule == "FREQ=WEEKLY;BYDAY=FR;UNTIL=20260319T000000Z"
    assert scheduled[1].data.first_start == datetime(2026, 5, 6, 13, 0)


def test_ritual_held_is_checked_against_the_ritual_and_its_team(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    assert cli.invoke(app, schedule("FREQ=WEEKLY;BYDAY=FR")).exit_code == 0

    def held(occurrence: str, attendees: str = "ada", ritual: str = "fri-drinks") -> Any:
        return cli.invoke(
            app,
            [
                *("ritual", "held", "--org", "acme", "--ritual-id", ritual),
                *("--occurrence", occurrence, "--attendees", attendees),
                *("--at", "2026-03-21T12:00Z"),
            ],
        )

    refused = {
        "no ritual 'sat-lunch'": held("2026-03-13T16:00", ritual="sat-lunch"),
        "is not an occurrence": held("2026-03-13T16:00Z"),
        "after now": held("2026-03-27T16:00"),
        "no member 'nobody'": held("2026-03-13T16:00", "ada,nobody"),
    }
    for why, result in refused.items():
        assert result.exit_code == 2, (why, result.output)
        assert why in result.output
        assert "nothing was published" in result.output
    first = held("2026-03-13T16:00", "ada,bram")  # local to Amsterdam: 15:00 UTC
    assert first.exit_code == 0, first.output
    again = held("2026-03-13T15:00Z", "ada")
    assert again.exit_code == 2
    assert "already recorded as held" in again.output
    recorded = ritual_events(kafka, topics)[1:]
    assert [e.data.occurrence_start for e in recorded] == [datetime(2026, 3, 13, 15, 0, tzinfo=UTC)]


def test_ritual_cancel_one_coming_occurrence_then_the_series(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    assert cli.invoke(app, schedule("FREQ=WEEKLY;BYDAY=FR")).exit_code == 0

    def cancel(*options: str, ritual: str = "fri-drinks") -> Any:
        base = ["ritual", "cancel", "--org", "acme", "--ritual-id", ritual]
        return cli.invoke(app, [*base, *options, "--at", "2026-03-21T12:00Z"])

    refused = {
        "no ritual 'sat-lunch'": cancel(ritual="sat-lunch"),
        "is not an occurrence": cancel("--occurrence", "2026-03-27T15:00"),
        "has started already": cancel("--occurrence", "2026-03-13T16:00"),
    }
    for why, result in refused.items():
        assert result.exit_code == 2, (why, result.output)
        assert why in result.output
        assert "nothing was published" in result.output
    one = cancel("--occurrence", "2026-03-27T16:00", "--reason", "office closed")
    assert one.exit_code == 0, one.output
    twice = cancel("--occurrence", "2026-03-27T15:00Z")
    assert twice.exit_code == 2
    assert "was cancelled" in twice.output
    series = cancel()
    assert series.exit_code == 0, series.output
    assert "the whole series" in series.output
    assert cancel().exit_code == 2  # cancelled already

    cancellations = ritual_events(kafka, topics)[1:]
    assert [(e.data.occurrence_start, e.data.reason) for e in cancellations] == [
        (datetime(2026, 3, 27, 15, 0, tzinfo=UTC), "office closed"),
        (None, ""),
    ]


def test_ritual_end_ends_the_series_after_a_local_day_and_keeps_the_rest(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    scheduled = schedule("FREQ=WEEKLY;BYDAY=FR;COUNT=50", "2026-03-06T16:00", "--duration", "45")
    assert cli.invoke(app, scheduled).exit_code == 0

    def end(last_day: str, ritual: str = "fri-drinks") -> Any:
        base = ["ritual", "end", "--org", "acme", "--ritual-id", ritual]
        return cli.invoke(app, [*base, "--last-day", last_day, "--at", "2026-03-21T12:00Z"])

    refused = {
        "no ritual 'sat-lunch'": end("2026-06-30", ritual="sat-lunch"),
        "is past": end("2026-03-20"),
        "Invalid value for '--last-day'": end("June"),
    }
    for why, result in refused.items():
        assert result.exit_code == 2, (why, result.output)
        assert why in result.output
    ended = end("2026-06-26")
    assert ended.exit_code == 0, ended.output
    latest = ritual_events(kafka, topics)[-1].data
    assert latest.rrule == "FREQ=WEEKLY;BYDAY=FR;UNTIL=20260626"
    assert latest.duration_minutes == 45  # everything else as it was
    recurrence = parse_recurrence(latest.rrule, latest.first_start, latest.timezone)
    last = recurrence.last_before(datetime(2027, 1, 1, tzinfo=UTC))
    assert last == datetime(2026, 6, 26, 14, 0, tzinfo=UTC)  # 16:00 in Amsterdam, summer time

    assert (
        cli.invoke(
            app,
            [
                "ritual",
                "cancel",
                "--org",
                "acme",
                "--ritual-id",
                "fri-drinks",
                "--at",
                "2026-03-21T12:00Z",
            ],
        ).exit_code
        == 0
    )
    after_cancel = end("2026-07-31")
    assert after_cancel.exit_code == 2
    assert "cancelled already" in after_cancel.output
    assert len(ritual_events(kafka, topics)) == 3


def test_feedback_only_from_the_group_s_participants(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    publish_group(kafka, topics, "ada", "bram")
    base = ["feedback", "--org", "acme", "--round", "coffee-2026-03-02"]

    outsider = cli.invoke(app, [*base, "--group", "g1", "--member", "chloe", "--met"])
    assert outsider.exit_code == 2, outsider.output
    assert "'chloe' was not in group 'g1'" in outsider.output
    assert "only its participants can answer for it" in outsider.output
    assert "nothing was published" in outsider.output
    unknown = cli.invoke(app, [*base, "--group", "g9", "--member", "ada", "--met"])
    assert unknown.exit_code == 2, unknown.output
    assert "no group 'g9'" in unknown.output
    assert "Traceback" not in outsider.output + unknown.output
    assert coffee_event_types(kafka, topics) == ["rituals.coffee.matched"]

    member = cli.invoke(app, [*base, "--group", "g1", "--member", "bram", "--did-not-meet"])
    assert member.exit_code == 0, member.output
    assert coffee_event_types(kafka, topics) == [
        "rituals.coffee.matched",
        "rituals.coffee.feedback_given",
    ]


def test_redeliver_asks_for_what_failed_and_refuses_when_nothing_did(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    nothing = cli.invoke(app, ["notifications", "redeliver", "--org", "acme"])
    assert nothing.exit_code == 2
    assert "nothing was published" in nothing.output

    failed = {
        "notification_id": "evt-1/m-1/email",
        "source_event_id": "evt-1",
        "recipient_id": "m-1",
        "channel": "email",
        "reason": "smtp unreachable",
        "permanent": False,
        "attempts": 8,
    }
    with EventPublisher(kafka, topics) as publisher:
        publisher.publish([event(NotificationFailed(**failed), org="acme", time=T0)])
    since = (T0 - timedelta(hours=1)).isoformat()
    asked = cli.invoke(
        app, ["notifications", "redeliver", "--org", "acme", "--since", since, "--channel", "email"]
    )
    assert asked.exit_code == 0, asked.output
    assert "redelivery requested for 1 notifications (1 by email)" in asked.output
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.NOTIFICATIONS))
    request = decode_event(records[-1].value or b"")
    assert request.type == "rituals.notification.redelivery_requested"
    assert (request.orgid, request.data.channel) == ("acme", "email")
    assert request.data.failed_since == T0 - timedelta(hours=1)


def test_clock_tick_advances_an_organisations_time_by_hand(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings
) -> None:
    one = cli.invoke(app, ["clock", "tick", "--org", "acme", "--at", "2026-03-02T08:00"])
    assert one.exit_code == 0, one.output
    assert "1 tick published for acme, 2026-03-02T08:00Z\n" in one.output
    day = cli.invoke(
        app,
        [
            *("clock", "tick", "--org", "acme", "--at", "2026-03-02T09:00+01:00"),
            *("--until", "2026-03-03T08:00Z", "--step-minutes", "60"),
        ],
    )
    assert day.exit_code == 0, day.output
    assert "25 ticks published for acme, 2026-03-02T08:00Z to 2026-03-03T08:00Z" in day.output
    backwards = cli.invoke(
        app,
        ["clock", "tick", "--org", "acme", "--at", "2026-03-03T08:00", "--until", "2026-03-02"],
    )
    assert backwards.exit_code == 2

    records = read_all(kafka.bootstrap_servers, topics.name(Topic.CLOCK))
    ticks = sorted((decode_event(r.value or b"") for r in records), key=lambda e: e.data.now)
    assert len(ticks) == 26
    assert {tick.orgid for tick in ticks} == {"acme"}
    assert [tick.time for tick in ticks] == [tick.data.now for tick in ticks]
    sequences = [tick.data.sequence for tick in ticks]
    assert sequences == sorted(sequences)


def test_export_data_writes_what_is_held_about_one_member(
    cli: CliRunner, kafka: KafkaSettings, topics: TopicSettings, tmp_path: Path
) -> None:
    cli.invoke(app, ["members", "import", str(EXAMPLE), "--org", "acme"])
    cli.invoke(app, ["members", "pause", "bram", "--org", "acme"])
    out = tmp_path / "bram.json"
    result = cli.invoke(app, ["members", "export-data", "bram", "--org", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["profile"]["display_name"] == "Bram de Vries"
    assert [e["type"] for e in document["membership"]] == [
        "rituals.member.joined",
        "rituals.member.paused",
    ]
    refused = cli.invoke(
        app, ["members", "export-data", "nobody", "--org", "acme", "--out", str(tmp_path / "x")]
    )
    assert refused.exit_code == 2
    assert "no member 'nobody'" in refused.output
    assert not (tmp_path / "x").exists()
