"""Parquet shards: one row per stream, audio as FLAC bytes, Hugging Face features in
the schema metadata. A shard appears under its final name only once it is complete,
and the same rows always give the same bytes."""

from __future__ import annotations

import importlib.metadata
import io
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

import streamaudio
from streamaudio.atomic import atomic_path
from streamaudio.compose.labels import verified_silent_chunks
from streamaudio.schema import EventRow, GroundedPlan, Stream
from streamaudio.units import ceil_div

SHARD_FORMAT = 1  # bump when columns change; stored in the b"streamaudio" metadata
SAMPLE_RATE = 16_000
_PCM16 = 32768.0  # soundfile decodes PCM_16 as int / 32768: quantise with the same scale


def _value(dtype: str) -> dict[str, str]:
    return {"dtype": dtype, "_type": "Value"}


def _list(feature: dict[str, Any]) -> dict[str, Any]:
    return {"feature": feature, "_type": "List"}


_EVENT_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("onset_s", pa.float32(), "float32"),
    ("offset_s", pa.float32(), "float32"),
    ("role", pa.string(), "string"),
    ("kind", pa.string(), "string"),
    ("caption", pa.string(), "string"),
    ("clip_id", pa.string(), "string"),
    ("source", pa.string(), "string"),
    ("license", pa.string(), "string"),
    ("gain_db", pa.float32(), "float32"),
]
EVENT_TYPE = pa.struct([(name, arrow) for name, arrow, _ in _EVENT_FIELDS])
_EVENT_FEATURE = {name: _value(dtype) for name, _, dtype in _EVENT_FIELDS}


def _columns(sample_rate: int) -> list[tuple[str, pa.DataType, dict[str, Any]]]:
    """(name, arrow type, datasets feature as `Features.to_dict()` writes it)."""
    return [
        ("stream_id", pa.string(), _value("string")),
        ("ability", pa.string(), _value("string")),
        ("subtask", pa.string(), _value("string")),
        (
            "audio",
            pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
            {"sampling_rate": sample_rate, "_type": "Audio"},
        ),
        ("sample_rate", pa.int32(), _value("int32")),
        ("num_samples", pa.int64(), _value("int64")),
        ("chunk_ms", pa.int32(), _value("int32")),
        ("num_chunks", pa.int32(), _value("int32")),
        ("decisions", pa.list_(pa.int8()), _list(_value("int8"))),
        ("responses", pa.list_(pa.string()), _list(_value("string"))),
        ("emotions", pa.list_(pa.string()), _list(_value("string"))),
        ("instruction", pa.string(), _value("string")),
        ("events", pa.list_(EVENT_TYPE), _list(_EVENT_FEATURE)),
        ("plan", pa.string(), _value("string")),
        ("seed", pa.int64(), _value("int64")),
        ("config_hash", pa.string(), _value("string")),
        # extra columns, after the contract's
        ("setting", pa.string(), _value("string")),
        ("verified_silent", pa.bool_(), _value("bool")),
        ("clip_guard_scale", pa.float32(), _value("float32")),
        ("licenses", pa.list_(pa.string()), _list(_value("string"))),
    ]


def hf_features(sample_rate: int = SAMPLE_RATE) -> dict[str, Any]:
    return {name: feature for name, _, feature in _columns(sample_rate)}


def shard_schema(sample_rate: int = SAMPLE_RATE, meta: dict[str, Any] | None = None) -> pa.Schema:
    fields = [pa.field(name, arrow) for name, arrow, _ in _columns(sample_rate)]
    # the key and shape datasets' Features.arrow_schema / from_arrow_schema use
    metadata = {b"huggingface": json.dumps({"info": {"features": hf_features(sample_rate)}})}
    if meta is not None:
        metadata[b"streamaudio"] = json.dumps(meta, sort_keys=True)
    return pa.schema(fields, metadata=metadata)


SHARD_SCHEMA = shard_schema()
COLUMNS: tuple[str, ...] = tuple(SHARD_SCHEMA.names)

_WRITE_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    # dictionaries only where values repeat; FLAC bytes and plan JSON never do
    "use_dictionary": ["ability", "subtask", "config_hash", "setting"],
    # no min/max of audio bytes or plan JSON in the footer
    "write_statistics": ["stream_id", "seed", "num_samples", "num_chunks", "verified_silent"],
    "store_schema": True,
}


def package_version() -> str:
    # an editable install made before streamaudio/__init__.py existed imports it as a
    # namespace package (no __version__): fall back to the installed distribution
    return getattr(streamaudio, "__version__", None) or importlib.metadata.version("streamaudio")


def shard_path(root: Path, ability: str, subtask: str, index: int) -> Path:
    return Path(root) / ability / subtask / f"shard-{index:05d}.parquet"


def quantise_pcm16(audio: np.ndarray) -> np.ndarray:
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError(f"audio must be mono (1-D), got shape {samples.shape}")
    if not np.isfinite(samples).all():
        raise ValueError("audio holds NaN or inf")
    # scaling by a power of two is exact in float32, so this equals the float64
    # result and is ~30x faster on a 24 s stream
    scaled = samples.astype(np.float32) * np.float32(_PCM16)
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def encode_flac(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit FLAC; libFLAC output depends only on the samples (and libFLAC's version,
    which it writes as the vendor string)."""
    buffer = io.BytesIO()
    sf.write(buffer, quantise_pcm16(audio), sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def event_rows(stream: Stream) -> list[EventRow]:
    plan = stream.plan
    rate = plan.sample_rate
    rows = []
    for grounded in plan.events:
        planned = plan.event_plan(grounded.event_id)
        rows.append(
            EventRow(
                onset_s=grounded.onset / rate,
                offset_s=grounded.offset / rate,
                role=planned.role,
                kind=planned.kind,
                caption=planned.caption,
                clip_id=grounded.clip.clip_id,
                source=grounded.clip.source,
                license=grounded.clip.license,
                gain_db=grounded.gain_db,
            )
        )
    return rows


def stream_licenses(stream: Stream) -> list[str]:
    """Every licence the stream inherits: event clips, room responses, bed clips."""
    plan = stream.plan
    refs = [event.clip for event in plan.events]
    refs += [event.rir for event in plan.events if event.rir is not None]
    refs += [layer.clip for layer in plan.bed if layer.clip is not None]
    return sorted({ref.license for ref in refs})


def stream_to_row(stream: Stream, ability: str, subtask: str, seed: int) -> dict[str, Any]:
    plan, labels = stream.plan, stream.labels
    scene = plan.scene
    if (scene.ability, scene.subtask) != (ability, subtask):
        raise ValueError(
            f"{scene.stream_id}: plan is {scene.ability}/{scene.subtask}, not {ability}/{subtask}"
        )
    num_samples = int(np.asarray(stream.audio).shape[-1])
    if num_samples != plan.num_samples:
        raise ValueError(f"{scene.stream_id}: {num_samples} samples, plan says {plan.num_samples}")
    num_chunks = ceil_div(num_samples, plan.sample_rate * stream.chunk_ms // 1000)
    lengths = {len(labels.decisions), len(labels.responses), len(labels.emotions)}
    if lengths != {num_chunks}:
        raise ValueError(f"{scene.stream_id}: label lengths {lengths}, expected {num_chunks}")
    return {
        "stream_id": scene.stream_id,
        "ability": ability,
        "subtask": subtask,
        "audio": {
            "bytes": encode_flac(stream.audio, plan.sample_rate),
            "path": f"{scene.stream_id}.flac",
        },
        "sample_rate": plan.sample_rate,
        "num_samples": num_samples,
        "chunk_ms": stream.chunk_ms,
        "num_chunks": num_chunks,
        "decisions": [int(d) for d in labels.decisions],
        "responses": list(labels.responses),
        "emotions": list(labels.emotions),
        "instruction": scene.instruction,
        "events": [asdict(row) for row in event_rows(stream)],
        "plan": plan.to_json(),
        "seed": int(seed),
        "config_hash": stream.config_hash,
        "setting": scene.setting,
        "verified_silent": scene.verified_silent,
        "clip_guard_scale": float(stream.clip_guard_scale),
        "licenses": stream_licenses(stream),
    }


def _one(rows: list[dict[str, Any]], key: str, given: Any, default: Any = None) -> Any:
    """The single value of `key` across the rows (and the caller's, if given)."""
    values = {row[key] for row in rows} | ({given} if given is not None else set())
    if len(values) > 1:
        raise ValueError(f"a shard holds one {key}, got {sorted(map(str, values))}")
    if not values and default is None:
        raise ValueError(f"an empty shard needs {key!r} in shard_meta")
    return values.pop() if values else default


def _silent_chunk_count(row: dict[str, Any]) -> int:
    plan = GroundedPlan.model_validate_json(row["plan"])
    return len(verified_silent_chunks(plan, plan.sample_rate * row["chunk_ms"] // 1000))


def shard_stats(rows: list[dict[str, Any]], shard_meta: dict[str, Any]) -> dict[str, Any]:
    """The b"streamaudio" metadata: caller's keys (drops, ...) plus counts from the rows."""
    decisions = [d for row in rows for d in row["decisions"]]
    licenses = Counter(lic for row in rows for lic in row["licenses"])
    sample_rate = _one(rows, "sample_rate", shard_meta.get("sample_rate"), SAMPLE_RATE)
    samples = sum(row["num_samples"] for row in rows)
    return {
        **shard_meta,
        "format": SHARD_FORMAT,
        "version": shard_meta.get("version", package_version()),
        "ability": _one(rows, "ability", shard_meta.get("ability")),
        "subtask": _one(rows, "subtask", shard_meta.get("subtask")),
        "config_hash": _one(rows, "config_hash", shard_meta.get("config_hash")),
        "sample_rate": sample_rate,
        "streams": len(rows),
        "samples": samples,
        "seconds": samples / sample_rate,
        "chunks": len(decisions),
        "response_chunks": sum(1 for d in decisions if d == 1),
        "silent_chunks": sum(1 for d in decisions if d == 0),
        "verified_silent_streams": sum(1 for row in rows if row["verified_silent"]),
        "verified_silent_chunks": sum(_silent_chunk_count(row) for row in rows),
        "drops": dict(sorted(shard_meta.get("drops", {}).items())),
        "licenses": dict(sorted(licenses.items())),
    }


def write_shard(
    rows: list[dict[str, Any]], path: Path, shard_meta: dict[str, Any], row_group_streams: int
) -> Path:
    if not 1 <= row_group_streams <= 64:
        raise ValueError(f"row_group_streams must be 1..64, got {row_group_streams}")
    meta = shard_stats(rows, shard_meta)
    schema = shard_schema(meta["sample_rate"], meta)
    table = pa.Table.from_pylist(rows, schema=schema)
    path = Path(path)
    with (atomic_path(path, sync_directory=True) as tmp,
          pq.ParquetWriter(tmp, schema, **_WRITE_OPTIONS) as writer):
        writer.write_table(table, row_group_size=row_group_streams)
    return path


def write_shard_with_rows(
    streams: list[tuple[Stream, int]],
    path: Path,
    ability: str,
    subtask: str,
    shard_meta: dict[str, Any],
    row_group_streams: int,
) -> Path:
    """Convenience: (stream, seed) pairs straight to a shard."""
    rows = [stream_to_row(stream, ability, subtask, seed) for stream, seed in streams]
    meta = {"ability": ability, "subtask": subtask, **shard_meta}
    return write_shard(rows, path, meta, row_group_streams)


def shard_footer(source: Path | BinaryIO) -> dict[str, Any] | None:
    """The shard's own metadata if it opens, has our schema and as many rows as that
    metadata says; None otherwise. `source` may be an open remote file: only the
    footer is read."""
    try:
        parquet = pq.ParquetFile(source)
        schema = parquet.schema_arrow
        meta = json.loads(schema.metadata[b"streamaudio"])
        complete = (
            b"huggingface" in schema.metadata
            and schema.remove_metadata().equals(SHARD_SCHEMA.remove_metadata())
            and parquet.metadata.num_rows == meta["streams"]
        )
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError):
        return None
    return meta if complete else None


def shard_is_complete(path: Path) -> bool:
    """True if the shard opens, has our schema and as many rows as its metadata says."""
    return shard_footer(path) is not None
