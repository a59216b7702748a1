"""The embedded default key store: one small file per member's data key under a folder.

Files rather than a database because deleting a file is what makes an erasure final here: the
key is unlinked and the folder fsynced, so after a crash it stays gone; there is no page, WAL or
free list still holding it. Each file holds the data key *wrapped* by the key-encryption key,
so a deleted file's blocks left on the disk are useless without that key (docs/privacy.md: rotate
it to make such leftovers worthless). Writes are atomic (a temporary file linked into place: two
writers of the same member end with one key) and durable (file and folder fsynced).

Several services on one machine share the folder; several machines need a shared store instead
(a KMS, Vault or a database behind ``services.common.vault.KeyStore``).
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

from services.common.vault import KeyStoreError, StoredKey

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class FileKeyStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, org_id: str, member_id: str) -> StoredKey | None:
        path = self._path(org_id, member_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise KeyStoreError(f"cannot read the key file {path}: {error.strerror}") from None
        try:
            document = json.loads(text)
            return StoredKey(document["key_id"], base64.b64decode(document["wrapped"]))
        except (ValueError, KeyError, TypeError):
            raise KeyStoreError(f"the key file {path} is corrupt") from None

    def add(self, org_id: str, member_id: str, key: StoredKey) -> StoredKey:
        path = self._path(org_id, member_id)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{key.key_id}")
            _write_durably(temporary, _document(key))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another writer stored this member's key first: theirs is the key
            finally:
                temporary.unlink()
            _sync_folder(path.parent)
        except OSError as error:
            raise KeyStoreError(f"cannot write the key file {path}: {error.strerror}") from None
        stored = self.load(org_id, member_id)
        if stored is None:
            raise KeyStoreError(f"the key file {path} vanished while it was written")
        return stored

    def destroy(self, org_id: str, member_id: str) -> bool:
        path = self._path(org_id, member_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise KeyStoreError(f"cannot delete the key file {path}: {error.strerror}") from None
        _sync_folder(path.parent)
        return True

    def _path(self, org_id: str, member_id: str) -> Path:
        for name in (org_id, member_id):
            if not _NAME.match(name):
                raise KeyStoreError(f"{name!r} is not an identifier")
        return self.folder / org_id / f"{member_id}.key"


def _document(key: StoredKey) -> bytes:
    return json.dumps(
        {"key_id": key.key_id, "wrapped": base64.b64encode(key.wrapped).decode()}
    ).encode()


def _write_durably(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, content)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
