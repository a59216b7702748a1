"""The service runtime against a real broker: dead letters, deduplication, rebuild, sharing."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaPartition

from infra.kafka import KafkaSettings
from infra.topics import Topic, TopicSettings
from schemas import CloudEvent, encode_event, new_event
from schemas.members import MemberJoined
from schemas.onboarding import BuddyUnavailable
from services.common import collector, stream_fold
from services.common import runtime as runtime_module
from services.common.admission import admit
from services.common.domain.projection import DirectoryProcessor
from services.common.processing import Emit, Ledger
from services.common.records import dead_letter_notes, event_record
from services.common.runtime import ServiceDefinition, consumer_group, producer_of
from tests.factories import member_joined
from tests.integration.support import FAST_GROUPS, running
from tests.kafka_io import ReadRecord, produce, produce_events, read_all, wait_for_records

pytestmark = pytest.mark.broker

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class AnsweringProcessor(DirectoryProcessor):
    """Answers every join with one output, and fails on a member called ``explode``: enough to
    observe decisions, their deduplication and the failure path."""

    def decide(self, event: CloudEvent[Any]) -> Sequence[Emit]:
        if not isinstance(event.data, MemberJoined):
            return ()
        if event.data.member_id == "explode":
            raise RuntimeError("the domain refused this member")
        return (Emit(BuddyUnavailable(new_hire_id=event.data.member_id, reason="test")),)


DEFINITION = ServiceDefinition(
    name="answering",
    topics=(Topic.MEMBERS, Topic.ONBOARDING),
    new_processor=AnsweringProcessor,
)


def joined(member_id: str, org: str = "acme") -> CloudEvent[Any]:
    return new_event(member_joined(member_id), source="/tests", orgid=org, time=T0)


async def publish(kafka: KafkaSettings, topics: TopicSettings, event: CloudEvent[Any]) -> None:
    record = event_record(event, topics)
    await produce(
        kafka.bootstrap_servers, record.topic, record.value, key=record.key, headers=record.headers
    )


def answers(records: list[ReadRecord]) -> list[str]:
    return [json.loads(r.value or b"{}")["data"]["new_hire_id"] for r in records]


async def wait_for_answers(kafka: KafkaSettings, topics: TopicSettings, count: int) -> list[str]:
    topic = topics.name(Topic.ONBOARDING)
    records = await wait_for_records(
        kafka.bootstrap_servers, topic, lambda found: len(found) >= count
    )
    await asyncio.sleep(1)  # anything beyond the expected count would show up meanwhile
    return answers(read_all(kafka.bootstrap_servers, topic)) or answers(records)


BAD_RECORDS: Mapping[str, bytes] = {
    "invalid_json": b"{not json",
    "not_a_cloudevent": json.dumps({"hello": "world"}).encode(),
    "unknown_type": encode_event(joined("x")).replace(
        b"rituals.member.joined", b"rituals.member.teleported"
    ),
    "invalid_payload": encode_event(joined("x")).replace(b"Europe/Amsterdam", b"Mars/Olympus"),
}


@pytest.mark.parametrize("reason", list(BAD_RECORDS))
async def test_a_bad_record_is_dead_lettered_with_its_reason_and_the_next_event_is_processed(
    kafka: KafkaSettings, topics: TopicSettings, reason: str
) -> None:
    bad = BAD_RECORDS[reason]
    async with running(DEFINITION, kafka, topics):
        await produce(kafka.bootstrap_servers, topics.name(Topic.MEMBERS), bad, key=b"acme")
        await publish(kafka, topics, joined("ada"))

        assert await wait_for_answers(kafka, topics, 1) == ["ada"]
        letters = await wait_for_records(
            kafka.bootstrap_servers, topics.dead_letter(Topic.MEMBERS), lambda found: bool(found)
        )

    assert len(letters) == 1
    notes = dead_letter_notes(letters[0].headers)
    assert notes["reason"] == reason
    assert notes["service"] == "answering"
    assert notes["topic"] == topics.name(Topic.MEMBERS)
    assert notes["detail"]
    assert letters[0].value == bad  # the original bytes, untouched
    assert letters[0].key == b"acme"


async def test_a_failing_handler_dead_letters_the_event_and_the_service_goes_on(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, joined("explode"))
        await publish(kafka, topics, joined("grace"))
        assert await wait_for_answers(kafka, topics, 1) == ["grace"]
        assert runtime.ledgers.measures()["members_active"] == 2

    letters = read_all(kafka.bootstrap_servers, topics.dead_letter(Topic.MEMBERS))
    assert [dead_letter_notes(r.headers)["reason"] for r in letters] == ["handler_failed"]
    assert "RuntimeError" in dead_letter_notes(letters[0].headers)["detail"]


async def test_a_redelivered_event_has_no_second_effect(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    event = joined("ada")
    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, event)
        await publish(kafka, topics, event)  # the same event id twice, as after a producer retry
        await publish(kafka, topics, joined("grace"))
        assert sorted(await wait_for_answers(kafka, topics, 2)) == ["ada", "grace"]
        assert runtime.metrics.duplicates.labels("answering")._value.get() == 1


async def test_a_restarted_instance_rebuilds_its_state_and_decides_nothing_twice(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    async with running(DEFINITION, kafka, topics):
        await publish(kafka, topics, joined("ada"))
        assert await wait_for_answers(kafka, topics, 1) == ["ada"]

    async with running(DEFINITION, kafka, topics) as restarted:
        assert restarted.ledgers.measures()["members_active"] == 1
        await publish(kafka, topics, joined("grace"))
        assert sorted(await wait_for_answers(kafka, topics, 2)) == ["ada", "grace"]


async def test_a_decision_published_before_a_crash_is_not_made_again(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """The instance died after publishing its answer and before committing the cause: the next
    instance finds the answer in the log and does not answer again."""
    cause = joined("ada")
    ledger = Ledger(AnsweringProcessor(), DEFINITION.source)
    (answer,) = ledger.handle(cause)
    await publish(kafka, topics, cause)
    await publish(kafka, topics, answer)

    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, joined("grace"))
        assert sorted(await wait_for_answers(kafka, topics, 2)) == ["ada", "grace"]
        assert runtime.metrics.published.labels("answering", answer.type)._value.get() == 1


async def test_a_backlog_never_decided_is_decided_once_at_start(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    for member_id in ("ada", "grace", "linus"):
        await publish(kafka, topics, joined(member_id))
    async with running(DEFINITION, kafka, topics):
        assert sorted(await wait_for_answers(kafka, topics, 3)) == ["ada", "grace", "linus"]


async def test_two_instances_share_the_partitions_and_each_event_is_decided_once(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    organisations = [f"org{n}" for n in range(12)]
    async with (
        running(DEFINITION, kafka, topics) as first,
        running(DEFINITION, kafka, topics) as second,
    ):
        await asyncio.sleep(8)  # let the group settle on both members
        for org in organisations:
            await publish(kafka, topics, joined(f"m-{org}", org=org))
        found = await wait_for_answers(kafka, topics, len(organisations))
        shares = [
            runtime.metrics.consumed.labels("answering", "rituals.member.joined")._value.get()
            for runtime in (first, second)
        ]

    assert sorted(found) == sorted(f"m-{org}" for org in organisations)
    assert all(share > 0 for share in shares), shares
    assert sum(shares) == len(organisations)


async def test_lag_per_partition_and_the_rebuild_time_are_metrics(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, joined("ada"))
        await wait_for_answers(kafka, topics, 1)
        registry = runtime.metrics.registry
        members = topics.name(Topic.MEMBERS)

        def lag(partition: int) -> float | None:
            labels = {"service": "answering", "topic": members, "partition": str(partition)}
            return registry.get_sample_value("rituals_consumer_lag", labels)

        for _ in range(100):  # reported after the next fetch of each partition
            if all(lag(p) == 0 for p in range(topics.partitions)):
                break
            await asyncio.sleep(0.1)
        assert [lag(p) for p in range(topics.partitions)] == [0.0] * topics.partitions
        rebuild = registry.get_sample_value("rituals_rebuild_seconds", {"service": "answering"})
        assert rebuild is not None
        assert rebuild > 0


async def test_outputs_go_to_the_producer_faststream_built_with_the_runtimes_settings(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A FastStream release that moves its producer fails here, rather than the runtime
    quietly taking the slower ``publish``."""
    async with running(DEFINITION, kafka, topics) as runtime:
        producer = producer_of(runtime.broker)
        assert producer is not None
        assert producer._sender._acks == -1  # acks="all"
        # Batches of RITUALS_PRODUCER_BATCH_BYTES, not aiokafka's 16 KiB (docs/runtime.md).
        assert producer._message_accumulator._batch_size == runtime.settings.producer_batch_bytes
        await publish(kafka, topics, joined("ada"))
        assert await wait_for_answers(kafka, topics, 1) == ["ada"]
    records = read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING))
    assert [name for name, _ in records[0].headers] == ["content-type", "rituals-decision"]


async def test_while_consuming_full_collections_set_their_survivors_aside_until_the_stop(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """docs/runtime.md, "Garbage collection": a running service's full collections walk only
    what is new; its stop puts everything back, so what it held can be freed."""
    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, joined("ada"))
        assert await wait_for_answers(kafka, topics, 1) == ["ada"]
        gc.collect()
        assert gc.get_freeze_count() > 0
        assert runtime.ready
    assert gc.get_freeze_count() == 0


async def test_a_rebuild_folds_with_the_collector_waiting_then_sets_its_state_aside(
    kafka: KafkaSettings, topics: TopicSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/runtime.md, "Rebuild cost": the collector does not run while a rebuild folds the
    backlog (a fold leaves no cyclic garbage), and what the rebuild built is set aside before
    the collector runs again, so no collection walks it young."""
    backlog = [joined(f"m{n}", org=("acme", "globex")[n % 2]) for n in range(50)]
    await produce_events(kafka.bootstrap_servers, topics, backlog)
    collector_running_when_set_aside: list[bool] = []
    set_aside = collector.set_aside_what_lives_on

    def watched() -> None:
        collector_running_when_set_aside.append(gc.isenabled())
        set_aside()

    monkeypatch.setattr(runtime_module, "set_aside_what_lives_on", watched)
    async with running(DEFINITION, kafka, topics) as runtime:
        await wait_for_answers(kafka, topics, 50)
        assert runtime.metrics.replayed.labels("answering")._value.get() == 50
        assert collector_running_when_set_aside, "a rebuild ran"
        assert not any(collector_running_when_set_aside)
        assert gc.get_freeze_count() > 0


async def test_our_own_outputs_read_back_are_not_decoded_again(
    kafka: KafkaSettings, topics: TopicSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An output the broker acknowledged was folded in when it was published: reading it back
    only moves the partition on (the offsets are committed), it is not admitted again."""
    admitted_from: list[str] = []

    def counting_admit(record: Any, *args: Any) -> CloudEvent[Any]:
        admitted_from.append(record.topic)
        return admit(record, *args)

    monkeypatch.setattr(runtime_module, "admit", counting_admit)
    async with running(DEFINITION, kafka, topics) as runtime:
        for name in ("ada", "grace", "linus"):
            await publish(kafka, topics, joined(name))
        assert sorted(await wait_for_answers(kafka, topics, 3)) == ["ada", "grace", "linus"]
        answers_topic = topics.name(Topic.ONBOARDING)
        registry = runtime.metrics.registry

        def lag(partition: int) -> float | None:
            labels = {"service": "answering", "topic": answers_topic, "partition": str(partition)}
            return registry.get_sample_value("rituals_consumer_lag", labels)

        for _ in range(100):  # the answers were fetched back
            if all(lag(p) == 0 for p in range(topics.partitions)):
                break
            await asyncio.sleep(0.1)
        assert [lag(p) for p in range(topics.partitions)] == [0.0] * topics.partitions
    assert admitted_from.count(topics.name(Topic.MEMBERS)) == 3
    assert admitted_from.count(answers_topic) == 0
    committed = KafkaConsumer(
        bootstrap_servers=kafka.addresses, group_id=consumer_group(topics, "answering")
    )
    try:
        ends = read_all(kafka.bootstrap_servers, answers_topic)
        assert len(ends) == 3
        for record in ends:
            position = committed.committed(KafkaPartition(answers_topic, record.partition))
            assert position is not None
            assert position > record.offset
    finally:
        committed.close()


def committed_answers(kafka: KafkaSettings, topics: TopicSettings) -> list[str]:
    """Answers as a read_committed reader (every service, with transactions) sees them."""
    return answers(
        read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING), committed_only=True)
    )


async def test_a_decision_whose_transaction_never_committed_is_unseen_and_made_again(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """With Kafka transactions, a batch's outputs and offsets are one transaction: an instance
    that died before committing leaves outputs nobody reads, and the next decides again, once.
    (Without transactions, the embedded broker, the decision headers do this:
    test_a_decision_cut_short_before_a_restart_is_finished_whole.)"""
    if not kafka.transactional(await kafka.idempotent_producers()):
        pytest.skip("the broker has no transactions (the embedded one): see the test above")
    cause = joined("ada")
    (answer,) = Ledger(AnsweringProcessor(), DEFINITION.source).handle(cause)
    await publish(kafka, topics, cause)
    record = event_record(answer, topics)
    dying = AIOKafkaProducer(
        bootstrap_servers=kafka.addresses, transactional_id=f"dying-{topics.prefix}"
    )
    await dying.start()
    await dying.begin_transaction()
    await dying.send_and_wait(
        record.topic, record.value, key=record.key, headers=list(record.headers)
    )
    await dying.abort_transaction()  # what the broker does to a dead instance's transaction
    await dying.stop()

    async with running(DEFINITION, kafka, topics) as runtime:
        assert runtime.transactional
        await publish(kafka, topics, joined("grace"))
        await wait_for_answers(kafka, topics, 3)

    assert sorted(committed_answers(kafka, topics)) == ["ada", "grace"]
    assert sorted(answers(read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING)))) == [
        "ada",  # the aborted one, still in the log
        "ada",
        "grace",
    ]


async def test_a_start_reads_its_backlog_once(kafka: KafkaSettings, topics: TopicSettings) -> None:
    """The rebuild reads the backlog; live consumption starts where it ended, even though the
    consumer may have fetched the first records before the rebuild's seek."""
    backlog = [joined(f"m{n}", org=("acme", "globex")[n % 2]) for n in range(200)]
    await produce_events(kafka.bootstrap_servers, topics, backlog)

    async with running(DEFINITION, kafka, topics) as runtime:
        await publish(kafka, topics, joined("late"))
        await wait_for_answers(kafka, topics, 201)
        assert runtime.metrics.duplicates.labels("answering")._value.get() == 0
        assert runtime.metrics.replayed.labels("answering")._value.get() == 200


async def produce_joins_a_minute_apart(
    kafka: KafkaSettings, topics: TopicSettings, count: int, *, newest_first: bool = False
) -> None:
    minute = timedelta(minutes=-1 if newest_first else 1)
    backlog = [
        new_event(member_joined(f"m{n}"), source="/tests", orgid="acme", time=T0 + n * minute)
        for n in range(count)
    ]
    await produce_events(kafka.bootstrap_servers, topics, backlog)


async def test_a_rebuild_folds_the_backlog_as_it_reads_it_holding_a_window(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """A backlog in time order is folded as it is read: the rebuild holds a window of records
    per partition, not the backlog, and nothing is decided twice after a restart."""
    await produce_joins_a_minute_apart(kafka, topics, 600)
    windowed = FAST_GROUPS.model_copy(update={"replay_slack_seconds": 60})
    async with running(DEFINITION, kafka, topics, windowed) as runtime:
        assert len(await wait_for_answers(kafka, topics, 600)) == 600
        assert runtime.metrics.rebuilds_sorted.labels("answering")._value.get() == 0
        held = runtime.metrics.rebuild_records_held.labels("answering")._value.get()
        assert 0 < held < 100, f"held {held} records of 600"
    no_snapshots = windowed.model_copy(update={"snapshots": False})
    async with running(DEFINITION, kafka, topics, no_snapshots) as restarted:
        assert restarted.ledgers.measures()["members_active"] == 600
        assert restarted.metrics.replayed.labels("answering")._value.get() == 1200
        assert restarted.metrics.rebuilds_sorted.labels("answering")._value.get() == 0
    assert len(answers(read_all(kafka.bootstrap_servers, topics.name(Topic.ONBOARDING)))) == 600


async def test_a_history_out_of_time_order_is_read_again_and_sorted(
    kafka: KafkaSettings, topics: TopicSettings
) -> None:
    """Members written newest first: the merge cannot follow, so the rebuild reads the history
    again and sorts it, and decides each once, as before streaming. More records than the merge
    admits between two folds (``FOLD_EVERY``): it sorts those among themselves."""
    await produce_joins_a_minute_apart(kafka, topics, 600, newest_first=True)
    windowed = FAST_GROUPS.model_copy(update={"replay_slack_seconds": 0})
    async with running(DEFINITION, kafka, topics, windowed) as runtime:
        assert len(await wait_for_answers(kafka, topics, 600)) == 600
        assert runtime.metrics.rebuilds_sorted.labels("answering")._value.get() == 1
        assert runtime.metrics.rebuild_records_held.labels("answering")._value.get() == 600
        assert runtime.ledgers.measures()["members_active"] == 600


async def test_a_rebuild_that_pauses_streams_ahead_still_reads_to_the_end(
    kafka: KafkaSettings, topics: TopicSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams far ahead of the one the merge waits for are paused; one read to its end while
    the others were paused once stopped every fetch, and the rebuild waited for ever."""
    monkeypatch.setattr(stream_fold, "PAUSE_AT", 3)
    COUNT = 4_000  # noqa: N806 (more than one fetch of a partition brings)
    await produce_joins_a_minute_apart(kafka, topics, COUNT)
    no_slack = FAST_GROUPS.model_copy(update={"replay_slack_seconds": 0, "snapshots": False})
    async with running(DEFINITION, kafka, topics, no_slack):
        assert len(await wait_for_answers(kafka, topics, COUNT)) == COUNT
    async with running(DEFINITION, kafka, topics, no_slack) as restarted:  # answers in the log
        assert restarted.ledgers.measures()["members_active"] == COUNT
        assert restarted.metrics.rebuilds_sorted.labels("answering")._value.get() == 0
