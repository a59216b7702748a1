"""Keys from settings: given as a secret, in a file, or (for a local platform) generated once
into its data folder; production gives its keys as secrets."""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from pydantic import SecretStr


def configured_key(
    secret: SecretStr | None,
    key_file: Path | None,
    default_file: Path,
    sizes: range,
    error: type[Exception],
    name: str,
) -> bytes | None:
    """A key's bytes from the first of: the secret, the file, the data folder's ``default_file``
    when it exists; None when there is none. ``error`` (naming ``name``, never the key) when it
    cannot be read or is not base64 of a length in ``sizes``."""
    if secret is not None:
        text = secret.get_secret_value()
    else:
        path = key_file or default_file
        if key_file is None and not path.exists():
            return None
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, ValueError):
            raise error(f"cannot read the {name} file {path}") from None
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in sizes:
        wanted = f"{sizes.start}" if len(sizes) == 1 else f"at least {sizes.start}"
        raise error(f"the {name} must be {wanted} bytes in base64")
    return key


def blank_is_unset(value: object) -> object:
    """An empty value (a Compose variable or Kubernetes Secret left empty) is unset."""
    return None if isinstance(value, str) and not value.strip() else value


def ensure_random_key_file(path: Path, size: int) -> tuple[Path, bool]:
    """The key file at ``path`` (``size`` random bytes, base64), created readable by its owner
    only and flushed to disk when missing; and whether it was created now. Two processes that
    race to create it end with one key (the second finds the first's file)."""
    if path.exists():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR
        )
    except FileExistsError:
        return path, False
    try:
        os.write(descriptor, base64.b64encode(os.urandom(size)) + b"\n")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path, True
