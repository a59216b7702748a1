"""The runtime against hostile records, crashes and load, on a real broker: no record stops a
partition, a decision cut short is finished, a rebuild ends under load and never leaves an
instance deciding on partial state."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, encode_event, new_event
from schemas.clock import ClockTicked
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.common.processing import Emit, Ledger
from services.common.records import dead_letter_notes, decision_records, event_record
from services.common.runtime import ServiceDefinition
from tests.integration.support import running
from tests.integration.test_runtime import (
    DEFINITION,
    T0,
    AnsweringProcessor,
    joined,
    publish,
    wait_for_answers,
)
from tests.kafka_io import read_all, wait_for_records

pytestmark = pytest.mark.broker
KAFKA_DEFAULT_LARGEST = 1_000_000
"""A record value Apache Kafka takes with its default limits, still above the dead-letter bound."""


async def _produce_raw(
    kafka: KafkaSettings, records: Sequence[tuple[str, bytes | None, bytes]]
) -> list[bytes]:
    """Records as an outside producer writes them, up to 2 MB each; the values written. A
    broker that refuses a record above its ``message.max.bytes`` (Apache Kafka: about 1 MB by
    default; the embedded broker takes it) gets the largest it takes instead."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, max_request_size=2_000_000
    )
    await producer.start()
    written = []
    try:
        for topic, key, value in records:
            try:
                await producer.send_and_wait(topic, value, key=key)
            except MessageSizeTooLargeError:
                value = value[: KAFKA_DEFAULT_LARGEST - 2] + b'"}'
                await producer.send_and_wait(topic, value, key=key)
            written.append(value)
    finally:
        await producer.stop()
    return written


async def test_hostile_records_on_a_partition_are_dead_lettered_and_valid_work_goes_on(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    members = topics.name(Topic.MEMBERS)
    tick = new_event(ClockTicked(now=T0, sequence=1), source="/tests", orgid="acme", time=T0)
    oversized = b'{"specversion": "1.0", "pad": "' + b"x" * 1_100_000 + b'"}'
    hostile: dict[str, tuple[str, bytes | None, bytes]] = {
        "oversized": (members, b"acme", oversized),
        "deeply nested": (members, b"acme", b"[" * 100_000 + b"]" * 100_000),
        "not utf-8": (members, b"acme", b"\xff\xfe\x00\x01"),
        "type of another topic": (members, b"acme", encode_event(tick)),
        "year 9999": (
            members,
            b"acme",
            encode_event(joined("old").model_copy(update={"time": T0.replace(year=9999)})),
        ),
    }
    async with running(DEFINITION, kafka, topics) as runtime:
        oversized, *_ = await _produce_raw(kafka, list(hostile.values()))
        await publish(kafka, topics, joined("ada"))

        assert await wait_for_answers(kafka, topics, 1) == ["ada"]
        letters = await wait_for_records(
            kafka.bootstrap_servers,
            topics.dead_letter(Topic.MEMBERS),
            lambda found: len(found) >= len(hostile),
        )
        assert runtime.metrics.dead_letters_lost.labels("answering")._value.get() == 0

    reasons = [dead_letter_notes(letter.headers)["reason"] for letter in letters]
    assert reasons == [
        "not_a_cloudevent",
        "invalid_json",
        "invalid_json",
        "wrong_topic",
        "out_of_bounds",
    ]
    notes = dead_letter_notes(letters[0].headers)
    assert notes["truncated"] == "true"
    assert notes["size"] == str(len(oversized))
    assert oversized.startswith(letters[0].value or b"")


async def test_history_with_undecodable_records_still_rebuilds_every_organisation(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A deeply nested record in another organisation's history once made the rebuild fail and
    left the instance deciding on an empty state."""
    await publish(kafka, topics, joined("ada"))
    await publish(kafka, topics, joined("grace"))
    await _produce_raw(
        kafka, [(topics.name(Topic.MEMBERS), b"globex", b"[" * 100_000 + b"]" * 100_000)]
    )

    async with running(DEFINITION, kafka, topics) as runtime:
        assert runtime.ledgers.measures()["members_active"] == 2


async def test_a_record_only_a_rebuild_meets_is_dead_lettered_once_with_its_own_headers(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A refused record written before any instance committed is met first by the rebuild,
    which reads records as aiokafka makes them: it dead-letters it with the headers it came
    with, and the live consumer, starting where the rebuild ended, does not again."""
    await publish(kafka, topics, joined("ada"))
    producer = AIOKafkaProducer(**kafka.aiokafka_params())
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.name(Topic.MEMBERS),
            b"{not json",
            key=b"acme",
            headers=[("origin", b"hr-export"), ("batch", b"7")],
        )
    finally:
        await producer.stop()
    await publish(kafka, topics, joined("grace"))

    async with running(DEFINITION, kafka, topics) as runtime:
        assert runtime.ledgers.measures()["members_active"] == 2
        await wait_for_records(
            kafka.bootstrap_servers, topics.dead_letter(Topic.MEMBERS), lambda found: bool(found)
        )
        await publish(kafka, topics, joined("linus"))  # the live consumer reads on past it
        assert await wait_for_answers(kafka, topics, 3) == ["ada", "grace", "linus"]

    letters = read_all(kafka.bootstrap_servers, topics.dead_letter(Topic.MEMBERS))
    assert len(letters) == 1
    assert letters[0].value == b"{not json"
    assert [h for h in letters[0].headers if not h[0].startswith("rituals-dlq-")] == [
        ("origin", b"hr-export"),
        ("batch", b"7"),
    ]
    assert dead_letter_notes(letters[0].headers)["reason"] == "invalid_json"


class FiveAnswers(AnsweringProcessor):
    """Answers every join with five outputs: one decision, many records."""

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if not isinstance(event.data, MemberJoined):
            return ()
        member = event.data.member_id
        return [
            Emit(BuddyUnavailable(new_hire_id=f"{member}-{n}", reason="test")) for n in range(5)
        ]


FIVE = ServiceDefinition(
    name="answering", topics=(Topic.MEMBERS, Topic.ONBOARDING), new_processor=FiveAnswers
)


@pytest.mark.parametrize("written", [0, 2, 4])
async def test_a_decision_cut_short_before_a_restart_is_finished_whole(
    kafka: KafkaSettings, topics: TopicSettings, written: int
) -> None:
    """What a kill -9 leaves: the cause and the first ``written`` of its five outputs."""
    cause = joined("ada")
    outputs = Ledger(FiveAnswers(), FIVE.source).handle(cause)
    await publish(kafka, topics, cause)
    await _write_first(kafka, topics, outputs, written)

    async with running(FIVE, kafka, topics):
        answers = await wait_for_records(
            kafka.bootstrap_servers,
            topics.name(Topic.ONBOARDING),
            lambda found: (
                {json.loads(r.value or b"{}")["id"] for r in found} >= {str(o.id) for o in outputs}
            ),
        )

    distinct = {json.loads(record.value or b"{}")["id"] for record in answers}
    assert distinct == {str(output.id) for output in outputs}


class FoldingBreaksOnBomb(AnsweringProcessor):
    """A bug in folding its own output in: applying the answer to ``bomb`` raises (live, when
    the output is folded in at publish time; on rebuild, when it is read)."""

    def apply(self, event: CloudEvent[Any]) -> None:
        if isinstance(event.data, BuddyUnavailable) and event.data.new_hire_id == "bomb":
            raise RuntimeError("folding this output in fails")
        super().apply(event)


BOMB = ServiceDefinition(
    name="answering", topics=(Topic.MEMBERS, Topic.ONBOARDING), new_processor=FoldingBreaksOnBomb
)


async def test_a_batch_failing_where_nothing_was_foreseen_does_not_stall_the_partition(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """Such a failure used to end the consumer loop: the instance stayed ready and read
    nothing more. Now the assignment is rebuilt from the last commit and consumption goes on;
    what fails is dead-lettered."""
    async with running(BOMB, kafka, topics) as runtime:
        await publish(kafka, topics, joined("before"))
        await wait_for_answers(kafka, topics, 1)
        await publish(kafka, topics, joined("bomb"))
        await publish(kafka, topics, joined("after"))
        found = await wait_for_answers(kafka, topics, 3)
        assert {"before", "bomb", "after"} <= set(found)
        letters = await wait_for_records(
            kafka.bootstrap_servers, f"{topics.name(Topic.ONBOARDING)}.dlq", lambda got: bool(got)
        )
        for _ in range(200):  # ready again once the rebuild is done
            if runtime.ready:
                break
            await asyncio.sleep(0.1)
        assert runtime.ready
    reasons = {dict(letter.headers or ())["rituals-dlq-reason"] for letter in letters}
    assert reasons == {b"handler_failed"}


async def _write_first(
    kafka: KafkaSettings, topics: TopicSettings, outputs: list[CloudEvent[Any]], written: int
) -> None:
    """The first ``written`` outputs of a decision, marked as the runtime marks them."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        for record in decision_records(outputs, topics)[:written]:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


async def test_a_rebuild_ends_while_records_keep_arriving(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """Fifty organisations write about 40 events/s while an instance starts: its rebuild reads
    up to where the log ended when it began and goes live; every event is answered once."""
    organisations = [f"org{n}" for n in range(50)]
    sent: list[str] = []
    stop = asyncio.Event()

    async def keep_writing() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            n = 0
            while not stop.is_set():
                org = organisations[n % len(organisations)]
                event = joined(f"m{n}", org=org)
                record = event_record(event, topics)
                await producer.send_and_wait(record.topic, record.value, key=record.key)
                sent.append(f"m{n}")
                n += 1
                await asyncio.sleep(0.025)
        finally:
            await producer.stop()

    writer = asyncio.create_task(keep_writing())
    try:
        await asyncio.sleep(3)  # a history, still growing
        async with running(DEFINITION, kafka, topics):
            await asyncio.sleep(2)  # live while the writes go on
            stop.set()
            await writer
            answered = await wait_for_answers(kafka, topics, len(sent))
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await writer

    assert sorted(answered) == sorted(sent)
    assert len(read_all(kafka.bootstrap_servers, topics.dead_letter(Topic.MEMBERS))) == 0
