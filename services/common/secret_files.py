"""Random keys a local platform generates once into its data folder (a production platform is
given its keys as secrets instead)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path


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
