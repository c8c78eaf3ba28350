"""Read shards with plain pyarrow + soundfile: no `datasets`, no torch, no torchcodec."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from streamaudio.schema import EventRow, GroundedPlan

SHARD_GLOB = "*/*/shard-*.parquet"  # <ability>/<subtask>/; temp files start with "."


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class StreamRecord:
    stream_id: str
    ability: str
    subtask: str
    audio: np.ndarray  # float32, int16 / 32768
    sample_rate: int
    num_samples: int
    chunk_ms: int
    num_chunks: int
    decisions: np.ndarray  # int8, 0 silent / 1 response
    responses: tuple[str, ...]
    emotions: tuple[str, ...]
    instruction: str
    events: tuple[EventRow, ...]
    plan: str  # GroundedPlan JSON
    seed: int
    config_hash: str
    setting: str
    verified_silent: bool
    clip_guard_scale: float
    licenses: tuple[str, ...]
    audio_path: str

    def grounded_plan(self) -> GroundedPlan:
        return GroundedPlan.from_json(self.plan)  # type: ignore[return-value]


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return audio, int(rate)


def list_shards(root: Path) -> list[Path]:
    return sorted(Path(root).glob(SHARD_GLOB))


def read_shard_meta(path: Path) -> dict[str, Any]:
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[b"streamaudio"])


def read_rows(path: Path, columns: list[str] | None = None) -> pa.Table:
    return pq.ParquetFile(path).read(columns=columns)


def record_from_row(row: dict[str, Any]) -> StreamRecord:
    audio, rate = decode_flac(row["audio"]["bytes"])
    if rate != row["sample_rate"] or audio.shape[0] != row["num_samples"]:
        raise ValueError(f"{row['stream_id']}: audio does not match sample_rate/num_samples")
    return StreamRecord(
        stream_id=row["stream_id"],
        ability=row["ability"],
        subtask=row["subtask"],
        audio=audio,
        sample_rate=row["sample_rate"],
        num_samples=row["num_samples"],
        chunk_ms=row["chunk_ms"],
        num_chunks=row["num_chunks"],
        decisions=np.asarray(row["decisions"], dtype=np.int8),
        responses=tuple(row["responses"]),
        emotions=tuple(row["emotions"]),
        instruction=row["instruction"],
        events=tuple(EventRow(**event) for event in row["events"]),
        plan=row["plan"],
        seed=row["seed"],
        config_hash=row["config_hash"],
        setting=row["setting"],
        verified_silent=row["verified_silent"],
        clip_guard_scale=row["clip_guard_scale"],
        licenses=tuple(row["licenses"]),
        audio_path=row["audio"]["path"],
    )


def iter_shard(path: Path) -> Iterator[StreamRecord]:
    parquet = pq.ParquetFile(path)
    for index in range(parquet.num_row_groups):  # one row group (<= 64 streams) in memory
        for row in parquet.read_row_group(index).to_pylist():
            yield record_from_row(row)


def iter_streams(
    root: Path, subtask: str | None = None, ability: str | None = None
) -> Iterator[StreamRecord]:
    for path in list_shards(root):
        if subtask is not None and path.parent.name != subtask:
            continue
        if ability is not None and path.parent.parent.name != ability:
            continue
        yield from iter_shard(path)
