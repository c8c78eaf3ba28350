"""Atomic file writes: every file is written under a temporary name beside its
target and renamed over it only once complete, so a reader (or a run killed
midway) sees the old file or the new one, never part of one. Also the sweep
that removes the temporaries a killed writer leaves behind."""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

# `.NAME.PID.TID.RANDOM.tmp`, as temporary_path makes them
_TEMPORARY = re.compile(r"\..+\.(?P<pid>\d+)\.\d+\.[0-9a-f]{12}\.tmp")
# names earlier versions used, left by a run killed before an upgrade:
# `.NAME.tmp-PID-TID` (shards, records, manifest, card) and mkstemp's
# `.NAME.XXXXXXXX.tmp` (config, quarantine), which carries no pid
_LEGACY_TEMPORARY = ".*.tmp-*"
_LEGACY_UNOWNED_TEMPORARY = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")
_UNOWNED_GRACE_S = 5.0  # such a file lives milliseconds: older ones are a killed run's


def temporary_path(path: Path) -> Path:
    """A name beside `path` for a writer's temporary file, used by no other writer:
    pid and thread id alone repeat across containers sharing a cache volume (each
    has its own pid namespace), so a random part makes the name unique."""
    return path.with_name(
        f".{path.name}.{os.getpid()}.{threading.get_native_id()}.{secrets.token_hex(6)}.tmp"
    )


def fsync_directory(path: Path) -> None:
    """Make a rename in `path` durable; best effort (not every filesystem can)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path, *, fsync: bool = True, sync_directory: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path` for the caller to write (a library
    that takes a file name: parquet, faiss, a model); rename it over `path` if the
    block succeeds, remove it either way. `fsync` flushes the file before the
    rename, `sync_directory` the directory after it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if sync_directory:
        fsync_directory(path.parent)


def write_bytes_atomic(path: Path, data: bytes, *, fsync: bool = True,
                       sync_directory: bool = False) -> None:
    """Write `data` to `path` atomically (the flags as in atomic_path)."""
    # fsync on the writing handle rather than by reopening; "x": no two writers share a file
    with (atomic_path(path, fsync=False, sync_directory=sync_directory) as tmp,
          open(tmp, "xb") as handle):
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())


def write_text_atomic(path: Path, text: str, *, fsync: bool = True,
                      sync_directory: bool = False) -> None:
    """Write `text` as UTF-8 to `path` atomically (the flags as in atomic_path)."""
    write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync, sync_directory=sync_directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def remove_stale_temporaries(root: Path) -> None:
    """Remove the temporary files of killed writers under `root`. A name with a pid
    goes unless that process is alive (another local build may be writing it right
    now); a name without one goes once it is a few seconds old."""
    now = time.time()
    for path in Path(root).rglob(".*.tmp*"):
        name = path.name
        if match := _TEMPORARY.fullmatch(name):
            pid: str | None = match["pid"]
        elif fnmatch.fnmatchcase(name, _LEGACY_TEMPORARY):
            pid = name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
        elif _LEGACY_UNOWNED_TEMPORARY.fullmatch(name):
            pid = None
        else:
            continue
        if pid is None:
            with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                if now - path.stat().st_mtime > _UNOWNED_GRACE_S:
                    path.unlink(missing_ok=True)
        elif not (pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid))):
            path.unlink(missing_ok=True)
