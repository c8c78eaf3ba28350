"""Completion records: one small JSON file per shard, written after the shard's atomic
rename, under `<corpus>/.progress/<ability>/<subtask>/shard-NNNNN.json` (a dot-directory:
never a shard, never a data file for `datasets`). A relaunch keeps a shard only if its
record exists, was made for the same request (config, seed, planned streams) and still
describes the file's bytes; anything else is rebuilt."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from streamaudio.atomic import write_text_atomic

PROGRESS_DIR = ".progress"
RECORD_FORMAT = 1  # bump when the record's keys change: older records then mean "rebuild"


@dataclass(frozen=True)
class ShardRequest:
    """What a build asks of one shard: the same request gives the same bytes."""

    ability: str
    subtask: str
    shard_index: int
    corpus_seed: int
    planned_streams: int
    config_hash: str


def shard_streams(shard_index: int, total_streams: int, per_shard: int) -> range:
    """The stream indices shard `shard_index` holds: shards cut `total_streams` into
    runs of `per_shard` (the last may be shorter)."""
    first = shard_index * per_shard
    return range(first, max(first, min(first + per_shard, total_streams)))


def record_path(root: Path, shard: Path) -> Path:
    """The record beside the corpus for `shard` (a path under `root`)."""
    relative = Path(shard).relative_to(root)
    return Path(root) / PROGRESS_DIR / relative.with_suffix(".json")


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_record(root: Path, shard: Path, request: ShardRequest, streams: int) -> Path:
    """Record that `shard`, now in place, satisfies `request` (call after the rename)."""
    shard = Path(shard)
    record: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "shard": shard.relative_to(root).as_posix(),
        **asdict(request),
        "streams": streams,
        "bytes": shard.stat().st_size,
        "sha256": file_sha256(shard),
    }
    path = record_path(root, shard)
    write_text_atomic(path, json.dumps(record, sort_keys=True, indent=2) + "\n",
                      sync_directory=True)
    return path


def read_record(root: Path, shard: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(record_path(root, shard).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def shard_is_done(root: Path, shard: Path, request: ShardRequest) -> bool:
    """True only if the record exists, was made for `request`, and the file on disk has
    the recorded size and sha256."""
    record = read_record(root, shard)
    if record is None or record.get("format") != RECORD_FORMAT:
        return False
    if any(record.get(key) != value for key, value in asdict(request).items()):
        return False
    try:
        if Path(shard).stat().st_size != record.get("bytes"):
            return False  # cheap check first: no hashing of a truncated file
        return file_sha256(shard) == record.get("sha256")
    except OSError:
        return False
