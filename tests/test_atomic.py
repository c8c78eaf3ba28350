"""Atomic writes: a failed write leaves the old file (or none) and no temporary;
a successful one replaces the target; stale temporaries of dead writers go."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from streamaudio import atomic
from streamaudio.atomic import (
    atomic_path,
    remove_stale_temporaries,
    temporary_path,
    write_bytes_atomic,
    write_text_atomic,
)

DEAD_PID = 2**22 + 1  # above the kernel's pid_max: never a live process


class DiskFull(OSError):
    pass


def test_success_replaces_the_target_and_leaves_only_it(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "data.bin"
    write_bytes_atomic(path, b"old")
    write_bytes_atomic(path, b"new bytes")
    assert path.read_bytes() == b"new bytes"
    write_text_atomic(path, "héllo\n", sync_directory=True)
    assert path.read_bytes() == "héllo\n".encode()
    with atomic_path(path) as tmp:
        assert tmp.parent == path.parent and tmp != path
        tmp.write_bytes(b"from a library")
        assert path.read_bytes() == "héllo\n".encode()  # not visible before the block ends
    assert path.read_bytes() == b"from a library"
    assert [p.name for p in path.parent.iterdir()] == ["data.bin"]


def test_a_write_failing_midway_leaves_no_partial_target_and_no_temporary(
        tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    with pytest.raises(DiskFull), atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(b"half of a fi")
        raise DiskFull("no space left")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_survives_a_failed_write_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "manifest.json"
    write_text_atomic(path, '{"old": true}\n')
    with pytest.raises(DiskFull), atomic_path(path) as tmp:
        tmp.write_text('{"new"')
        raise DiskFull("no space left")

    def failing_fsync(fd: int) -> None:  # the data written, then the disk fails
        raise DiskFull("I/O error")

    monkeypatch.setattr(atomic.os, "fsync", failing_fsync)
    with pytest.raises(DiskFull):
        write_text_atomic(path, '{"new": true}\n')
    with pytest.raises(DiskFull):
        write_bytes_atomic(path, b"new")
    assert path.read_text() == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_without_fsync_the_file_is_still_written_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fsync(fd: int) -> None:
        raise AssertionError("fsync called")

    monkeypatch.setattr(atomic.os, "fsync", no_fsync)
    path = tmp_path / "index.json"
    write_text_atomic(path, "[1, 2]", fsync=False)
    with atomic_path(tmp_path / "index.faiss", fsync=False) as tmp:
        tmp.write_bytes(b"vectors")
    assert path.read_text() == "[1, 2]" and (tmp_path / "index.faiss").read_bytes() == b"vectors"


def test_temporary_names_are_beside_the_target_and_unique(tmp_path: Path) -> None:
    path = tmp_path / "entry.bin"
    names = {temporary_path(path) for _ in range(200)}
    assert len(names) == 200
    assert all(n.parent == tmp_path and n.name.startswith(".entry.bin.") for n in names)
    assert all(n.name.endswith(".tmp") and f".{os.getpid()}." in n.name for n in names)


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    shard_dir = tmp_path / "ability" / "subtask"
    shard_dir.mkdir(parents=True)
    target = shard_dir / "shard-00000.parquet"
    mine = temporary_path(target)  # this process: not writing while the sweep runs
    dead = mine.with_name(mine.name.replace(f".{os.getpid()}.", f".{DEAD_PID}.", 1))
    live = mine.with_name(mine.name.replace(f".{os.getpid()}.", f".{os.getppid()}.", 1))
    legacy_dead = shard_dir / f".shard-00000.parquet.tmp-{DEAD_PID}-7"
    legacy_live = shard_dir / f".shard-00001.parquet.tmp-{os.getppid()}-7"
    old_unowned = tmp_path / ".config.yaml.k2j4_x9a.tmp"  # mkstemp names carry no pid
    fresh_unowned = tmp_path / ".README.md.q1w2e3r4.tmp"  # may be another run's, right now
    unrelated = tmp_path / ".notes.tmp"
    for path in (mine, dead, live, legacy_dead, legacy_live, old_unowned, fresh_unowned,
                 unrelated):
        path.write_bytes(b"partial")
    os.utime(old_unowned, (time.time() - 60,) * 2)
    remove_stale_temporaries(tmp_path)
    left = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {live, legacy_live, fresh_unowned, unrelated}
