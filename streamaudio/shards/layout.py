"""What a corpus directory holds besides its shards: the corpus-level file names,
and the staging directories and lock of `streamaudio regen`. Light on purpose:
build (corpus.py), regen, validate and inspect all import it, and none of them
needs another's imports for a file name."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from streamaudio.stage import StageError

CONFIG_FILE = "config.yaml"
QUARANTINE_FILE = "quarantine.jsonl"
MANIFEST_FILE = "manifest.json"
STAGING_PREFIX = ".regen-"  # + pid: a regen's staging directory inside the corpus


def _try_lock(root: Path) -> int | None:
    """An exclusive flock on the corpus directory (released when the process dies),
    or None when another regen holds it."""
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def corpus_lock(root: Path) -> Iterator[None]:
    fd = _try_lock(root)
    if fd is None:
        raise StageError(f"another regen is running on {root}")
    try:
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def remove_staging(root: Path) -> list[Path]:
    """Every staging directory under `root`; for a caller that holds the lock."""
    stale = [path for path in root.glob(f"{STAGING_PREFIX}*") if path.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def remove_stale_staging(root: Path) -> list[Path]:
    """Staging directories of killed regens; left alone while a regen holds the lock.
    For `build` to call before it starts."""
    root = Path(root)
    if not root.is_dir():
        return []
    fd = _try_lock(root)
    if fd is None:
        return []
    try:
        return remove_staging(root)
    finally:
        os.close(fd)
