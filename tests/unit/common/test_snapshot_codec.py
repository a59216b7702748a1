"""How a snapshot encodes a ledger: the platform's own types only, configuration by reference,
and a state version that follows the code."""

from __future__ import annotations

import io
import os
import pickle
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from schemas import decode_event, encode_event
from schemas.members import MemberJoined
from services.clock.ticks import ticks
from services.common.adapters.key_files import FileKeyStore
from services.common.processing import Ledger
from services.common.snapshots import (
    UnusableSnapshotError,
    _StatePickler,
    _StateUnpickler,
    chunk_records,
    configuration_object,
    decode_ledger,
    encode_ledger,
    event_of_class,
    pack,
    shared_configuration,
    state_version,
    unpack,
)
from services.common.vault import Vault
from services.gateway.app import DEFINITION as GATEWAY
from services.matcher.domain.policy import CoffeePolicy
from services.matcher.handlers import MatcherProcessor
from services.matcher.settings import Policies
from services.onboarding.handlers import OnboardingProcessor
from tests.factories import T0, member_joined_event

SOURCE = "/rituals/matcher"


def _matcher(policies: Policies) -> partial[MatcherProcessor]:
    return partial(MatcherProcessor, policies)


def test_ticks_keep_no_id_in_the_state() -> None:
    """A year of minute ticks is half a million per organisation: the state keeps each
    organisation's latest time, not the ticks' ids, so its snapshot does not grow with them."""
    new_processor = _matcher(Policies(CoffeePolicy()))
    configuration = shared_configuration(new_processor)
    sizes = []
    for count in (2, 2_000):
        ledger = Ledger(new_processor(), SOURCE)
        for minute in range(count):
            for tick in ticks(["acme", "globex"], T0 + timedelta(minutes=minute), minute):
                ledger.handle(decode_event(encode_event(tick)))
        restored = decode_ledger(encode_ledger(ledger, configuration), configuration)
        assert restored.has_applied(tick)
        assert restored.handle(tick) == []
        sizes.append(len(encode_ledger(ledger, configuration)))
    assert sizes[1] - sizes[0] < 100  # each id kept would be 17 bytes: 68,000 more


def test_a_ledger_round_trips_with_its_state_and_bookkeeping() -> None:
    new_processor = _matcher(Policies(CoffeePolicy()))
    ledger = Ledger(new_processor(), SOURCE)
    joined = decode_event(encode_event(member_joined_event("m1")))  # as read from the log
    ledger.handle(joined)
    configuration = shared_configuration(new_processor)

    restored = decode_ledger(unpack(pack(encode_ledger(ledger, configuration))), configuration)

    assert restored.has_applied(joined)
    assert restored.processor.measures() == ledger.processor.measures()
    assert restored.handle(joined) == []


def test_configuration_is_not_stored_but_taken_from_the_running_code() -> None:
    written_with = Policies(CoffeePolicy())
    ledger = Ledger(_matcher(written_with)(), SOURCE)
    ledger.handle(member_joined_event("m1"))
    state = encode_ledger(ledger, shared_configuration(_matcher(written_with)))

    running_with = Policies(CoffeePolicy())
    restored = decode_ledger(state, shared_configuration(_matcher(running_with)))

    processor = restored.processor
    assert isinstance(processor, MatcherProcessor)
    assert processor.policies is running_with


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch snapshot-ran-code",))


def test_a_state_naming_a_foreign_callable_is_refused_without_running_it(tmp_path: Path) -> None:
    hostile = pickle.dumps(_Boom())
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(UnusableSnapshotError, match="does not decode"):
            decode_ledger(hostile, [])
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "snapshot-ran-code").exists()


def test_a_state_that_is_not_a_ledger_or_is_cut_short_is_refused() -> None:
    with pytest.raises(UnusableSnapshotError, match="not a ledger"):
        decode_ledger(pickle.dumps({"state": 1}), [])
    ledger = Ledger(_matcher(Policies(CoffeePolicy()))(), SOURCE)
    state = encode_ledger(ledger, [])
    with pytest.raises(UnusableSnapshotError):
        decode_ledger(state[: len(state) // 2], [])
    with pytest.raises(UnusableSnapshotError, match="decompress"):
        unpack(b"not zlib")


def test_the_state_version_differs_between_services_and_is_stable() -> None:
    assert state_version(MatcherProcessor) == state_version(MatcherProcessor)
    assert state_version(MatcherProcessor) != state_version(OnboardingProcessor)


def test_a_large_state_is_cut_into_chunks_under_a_record_s_size() -> None:
    packed = os.urandom(1_300_000)
    chunks = chunk_records(3, "s1", packed)
    assert [record.key for record in chunks] == [b"p3/0", b"p3/1", b"p3/2"]
    assert all(len(record.value) <= 512 * 1024 for record in chunks)
    assert b"".join(record.value for record in chunks) == packed


def test_events_kept_in_a_read_model_round_trip_with_their_fields() -> None:
    new_processor = GATEWAY.new_processor
    ledger = Ledger(new_processor(), GATEWAY.source)
    for logged in (member_joined_event("acme", "m1"), member_joined_event("acme", "m2")):
        ledger.handle(decode_event(encode_event(logged)))
    configuration = shared_configuration(new_processor)

    restored = decode_ledger(encode_ledger(ledger, configuration), configuration)

    assert restored.processor.measures() == ledger.processor.measures()


def test_an_event_read_sealed_keeps_its_opened_data_and_its_ciphertext(tmp_path: Path) -> None:
    vault = Vault(os.urandom(32), FileKeyStore(tmp_path))
    sealed = encode_event(member_joined_event("acme", "m1"), vault)
    read = decode_event(sealed, vault)
    kept = [read, read, uuid.uuid4()]

    restored = decode_ledger_part(kept)

    assert restored[0] == read
    assert restored[0] is restored[1]
    assert restored[0].data.email == read.data.email  # opened, not placeholders
    assert encode_event(restored[0]) == sealed  # written again as the same ciphertext
    assert restored[2] == kept[2]
    assert hash(restored[2]) == hash(kept[2])


def decode_ledger_part(state: object) -> Any:
    """What the snapshot codec makes of any part of a state (the ledger check left out)."""
    buffer = io.BytesIO()
    _StatePickler(buffer, []).dump(state)
    return _StateUnpickler(io.BytesIO(buffer.getvalue()), []).load()


class _NotAnEvent:
    def __reduce__(self) -> tuple[object, tuple[type, tuple[type, ...]]]:
        return (event_of_class, (Ledger, (MemberJoined,)))


def test_a_state_naming_another_class_as_an_event_is_refused() -> None:
    with pytest.raises(UnusableSnapshotError, match="refused event class"):
        decode_ledger(pickle.dumps(_NotAnEvent()), [])


class _UnknownConfiguration:
    def __reduce__(self) -> tuple[object, tuple[int]]:
        return (configuration_object, (99,))


def test_a_state_referring_to_configuration_the_code_lacks_is_refused() -> None:
    with pytest.raises(UnusableSnapshotError, match="unknown configuration reference"):
        decode_ledger(pickle.dumps(_UnknownConfiguration()), [])
