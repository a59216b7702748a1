"""Sealing personal data per member and shredding it by destroying the member's key: what the
bytes of a record hold, what readers see before and after an erasure, and every way the key
store can refuse."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from schemas import RejectedEvent, RejectionReason, decode_event, encode_event
from schemas.members import MemberErased, MemberPaused
from schemas.sealing import PLACEHOLDERS, open_profile, seal_profile
from services.common.adapters.key_files import FileKeyStore
from services.common.domain.directory import MemberDirectory, MemberStatus
from services.common.privacy import (
    KEY_ENCRYPTION_KEY_FILE_NAME,
    PrivacySettings,
    configured_vault,
    ensure_key_encryption_key,
)
from services.common.vault import KeyStoreError, Vault
from tests.factories import ORG, T0, event, member_joined_event, member_profile

NAME, EMAIL = "Ann Pietersen", "ann.pietersen@example.com"
PERSONAL_STRINGS = (NAME, EMAIL, "cycling", "board games")


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(os.urandom(32), FileKeyStore(tmp_path / "keys"))


def test_a_sealed_member_event_holds_no_personal_data_and_opens_to_the_plain_profile(
    vault: Vault,
) -> None:
    original = member_joined_event(member_id="m-1", display_name=NAME, email=EMAIL)

    raw = encode_event(original, vault)

    assert not any(text.encode() in raw for text in PERSONAL_STRINGS)
    document = json.loads(raw)
    assert document["dataschema"] == "urn:rituals:schema:rituals.member.joined:v2"
    assert document["data"]["member_id"] == "m-1"  # a pseudonym, in clear
    assert document["data"]["team"] == "Platform"
    assert document["data"]["sealed"].startswith("rs1.")
    assert decode_event(raw, vault).data == original.data


def test_an_event_read_sealed_is_written_sealed_again_byte_for_byte(vault: Vault) -> None:
    raw = encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault)

    opened = decode_event(raw, vault)

    assert encode_event(opened) == raw  # exports and audit chains carry the ciphertext


def test_after_erasure_readers_get_placeholders_and_others_still_open(vault: Vault) -> None:
    ann = encode_event(member_joined_event(member_id="m-1", display_name=NAME, email=EMAIL), vault)
    bob = encode_event(member_joined_event(member_id="m-2", display_name="Bob Jansen"), vault)

    assert vault.erase(ORG, "m-1") is True

    erased = decode_event(ann, vault).data
    assert erased.erased is True
    assert erased.display_name == PLACEHOLDERS["display_name"]
    assert erased.email == PLACEHOLDERS["email"]
    assert erased.interests == ()
    assert erased.manager_id is None
    assert erased.team == "Platform"  # categories in clear: aggregates keep working
    kept = decode_event(bob, vault).data
    assert kept.display_name == "Bob Jansen"
    assert kept.erased is False
    assert vault.erase(ORG, "m-1") is False


def test_without_a_key_a_reader_gets_placeholders_never_the_data(vault: Vault) -> None:
    raw = encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault)

    assert decode_event(raw).data.erased is True


def test_a_member_who_comes_back_after_an_erasure_gets_a_new_key(vault: Vault) -> None:
    old = encode_event(member_joined_event(member_id="m-1", display_name=NAME, email=EMAIL), vault)
    vault.erase(ORG, "m-1")
    new = encode_event(member_joined_event(member_id="m-1", display_name="Ann P."), vault)

    assert decode_event(old, vault).data.erased is True
    assert decode_event(new, vault).data.display_name == "Ann P."


def test_a_sealed_value_moved_to_another_event_is_refused(vault: Vault) -> None:
    first = json.loads(
        encode_event(member_joined_event(member_id="m-1", display_name=NAME, email=EMAIL), vault)
    )
    second = json.loads(encode_event(member_joined_event(member_id="m-1"), vault))
    second["data"]["sealed"] = first["data"]["sealed"]

    with pytest.raises(RejectedEvent) as refused:
        decode_event(json.dumps(second).encode(), vault)

    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD


def test_version_1_profiles_in_clear_still_decode(vault: Vault) -> None:
    document = json.loads(encode_event(member_joined_event(display_name=NAME, email=EMAIL)))
    document["dataschema"] = "urn:rituals:schema:rituals.member.joined:v1"

    decoded = decode_event(json.dumps(document).encode(), vault)

    assert decoded.data.display_name == "Ann Pietersen"
    assert decoded.data.erased is False


def test_events_without_personal_data_are_written_as_before(vault: Vault) -> None:
    erased = event(MemberErased(member_id="m-1"), subject="m-1")

    assert encode_event(erased, vault) == encode_event(erased)


# --- The key store ------------------------------------------------------------------------------


def test_a_key_file_holds_the_data_key_wrapped_and_private(vault: Vault, tmp_path: Path) -> None:
    encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault)

    path = tmp_path / "keys" / ORG / "m-1.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(path.read_text())) == {"key_id", "wrapped"}
    vault.erase(ORG, "m-1")
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # no temporary file left behind


def test_a_corrupt_key_file_stops_the_reader_instead_of_looking_erased(
    vault: Vault, tmp_path: Path
) -> None:
    raw = encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault)
    (tmp_path / "keys" / ORG / "m-1.key").write_text("{not json")

    with pytest.raises(KeyStoreError, match="corrupt"):
        decode_event(raw, vault)


def test_another_key_encryption_key_stops_the_reader(vault: Vault, tmp_path: Path) -> None:
    raw = encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault)
    stranger = Vault(os.urandom(32), FileKeyStore(tmp_path / "keys"))

    with pytest.raises(KeyStoreError, match="does not unwrap"):
        decode_event(raw, stranger)


def test_two_writers_of_one_member_end_with_one_key(tmp_path: Path) -> None:
    key = os.urandom(32)
    first, second = (Vault(key, FileKeyStore(tmp_path / "keys")) for _ in range(2))
    sealed_by_first = encode_event(member_joined_event(display_name=NAME, email=EMAIL), first)

    assert decode_event(sealed_by_first, second).data.display_name == "Ann Pietersen"


# --- Settings -----------------------------------------------------------------------------------


def test_no_key_encryption_key_means_no_vault(tmp_path: Path) -> None:
    assert configured_vault(PrivacySettings(data_dir=tmp_path)) is None


def test_the_key_encryption_key_comes_from_a_setting_or_the_data_folder(tmp_path: Path) -> None:
    text = base64.b64encode(os.urandom(32)).decode()
    given = configured_vault(PrivacySettings(key_encryption_key=text, data_dir=tmp_path))
    assert given is not None

    path, created = ensure_key_encryption_key(tmp_path)
    assert created
    assert path == tmp_path / KEY_ENCRYPTION_KEY_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_key_encryption_key(tmp_path) == (path, False)
    found = configured_vault(PrivacySettings(data_dir=tmp_path))
    assert found is not None
    raw = encode_event(member_joined_event(display_name=NAME, email=EMAIL), found)
    assert decode_event(raw, found).data.display_name == "Ann Pietersen"


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_encryption_key_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(KeyStoreError, match="32 bytes"):
        configured_vault(PrivacySettings(key_encryption_key=text, data_dir=tmp_path))


@pytest.mark.parametrize("text", ["", "  \n"])
def test_a_blank_key_encryption_key_is_no_key(tmp_path: Path, text: str) -> None:
    """A Compose variable or Kubernetes Secret left empty means: not configured."""
    assert configured_vault(PrivacySettings(key_encryption_key=text, data_dir=tmp_path)) is None


# --- Readers' state -----------------------------------------------------------------------------


def test_the_directory_keeps_no_personal_data_of_an_erased_member() -> None:
    directory = MemberDirectory()
    directory.apply(member_joined_event(member_id="m-1", display_name=NAME, email=EMAIL))
    directory.apply(event(MemberPaused(member_id="m-1"), subject="m-1"))
    directory.apply(event(MemberErased(member_id="m-1"), subject="m-1", time=T0))

    member = directory.member(ORG, "m-1")
    assert member is not None
    assert member.status is MemberStatus.LEFT
    chain = []
    while member is not None:
        chain.append(member)
        member = member.before
    assert len(chain) >= 2
    for state in chain:
        assert state.profile.erased is True
        assert not any(text in state.profile.model_dump_json() for text in PERSONAL_STRINGS)


def test_member_profile_fixture_has_the_strings_this_file_looks_for() -> None:
    profile = member_profile(display_name=NAME, email=EMAIL)
    assert {"cycling", "board games"} <= set(profile["interests"])


def test_a_snapshot_profile_is_sealed_with_the_member_key_and_shredded_with_it(
    vault: Vault,
) -> None:
    profile = member_joined_event(display_name=NAME, email=EMAIL).data

    document = seal_profile(profile, ORG, vault, holder="notifier/snapshot-7")

    assert not any(text in json.dumps(document) for text in PERSONAL_STRINGS)
    assert open_profile(type(profile), document, ORG, vault, "notifier/snapshot-7") == profile
    with pytest.raises(ValueError, match="does not belong"):
        open_profile(type(profile), document, ORG, vault, "matcher/snapshot-7")
    vault.erase(ORG, "m-1")
    assert open_profile(type(profile), document, ORG, vault, "notifier/snapshot-7").erased


def test_a_sealed_record_with_a_malformed_member_id_is_refused_not_looked_up(
    vault: Vault,
) -> None:
    document = json.loads(encode_event(member_joined_event(display_name=NAME, email=EMAIL), vault))
    document["data"]["member_id"] = "../../etc/passwd"

    with pytest.raises(RejectedEvent) as refused:
        decode_event(json.dumps(document).encode(), vault)

    assert refused.value.reason is RejectionReason.INVALID_PAYLOAD
