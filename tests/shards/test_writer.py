from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from streamaudio.shards.writer import (
    SHARD_SCHEMA,
    hf_features,
    quantise_pcm16,
    shard_is_complete,
    shard_path,
    stream_to_row,
    write_shard,
)

EXPECTED = {
    "stream_id": pa.string(),
    "ability": pa.string(),
    "subtask": pa.string(),
    "audio": pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    "sample_rate": pa.int32(),
    "num_samples": pa.int64(),
    "chunk_ms": pa.int32(),
    "num_chunks": pa.int32(),
    "decisions": pa.list_(pa.int8()),
    "responses": pa.list_(pa.string()),
    "emotions": pa.list_(pa.string()),
    "instruction": pa.string(),
    "events": pa.list_(
        pa.struct(
            [
                ("onset_s", pa.float32()),
                ("offset_s", pa.float32()),
                ("role", pa.string()),
                ("kind", pa.string()),
                ("caption", pa.string()),
                ("clip_id", pa.string()),
                ("source", pa.string()),
                ("license", pa.string()),
                ("gain_db", pa.float32()),
            ]
        )
    ),
    "plan": pa.string(),
    "seed": pa.int64(),
    "config_hash": pa.string(),
    "setting": pa.string(),
    "verified_silent": pa.bool_(),
    "clip_guard_scale": pa.float32(),
    "licenses": pa.list_(pa.string()),
}


def _write(rows: list[dict], path: Path, group: int = 64) -> Path:
    return write_shard(rows, path, {"drops": {"wer": 2}}, group)


def test_columns_and_types_exact(tmp_path: Path, stream_factory) -> None:
    path = _write(
        [stream_to_row(stream_factory(), "alerting", "doorbell", 7)], tmp_path / "a.parquet"
    )
    schema = pq.read_schema(path)
    assert schema.names == list(EXPECTED)
    for name, arrow in EXPECTED.items():
        assert schema.field(name).type.equals(arrow), name
    assert SHARD_SCHEMA.names == list(EXPECTED)
    meta = json.loads(schema.metadata[b"streamaudio"])
    assert meta["streams"] == 1 and meta["drops"] == {"wer": 2}
    assert meta["ability"] == "alerting" and meta["subtask"] == "doorbell"
    hf = json.loads(schema.metadata[b"huggingface"])
    assert hf == {"info": {"features": hf_features()}}


def test_row_contents(stream_factory) -> None:
    stream = stream_factory(seconds=2.0)
    row = stream_to_row(stream, "alerting", "doorbell", 11)
    assert row["num_chunks"] == len(row["decisions"]) == 5  # ceil(32000 / 6400)
    assert row["decisions"] == [0, 0, 1, 0, 0]
    assert row["responses"][2] and row["responses"][0] == "" and row["emotions"][2] == "normal"
    assert row["audio"]["path"] == "s0.flac" and row["seed"] == 11
    bell = row["events"][1]
    assert (bell["onset_s"], bell["offset_s"]) == (0.5, 1.0)
    assert (bell["role"], bell["kind"], bell["clip_id"], bell["license"]) == (
        "foreground",
        "sound",
        "bell",
        "CC0-1.0",
    )
    assert row["licenses"] == ["CC-BY-SA-3.0", "CC0-1.0", "GPL-2.0-or-later", "MIT"]


def test_row_rejects_mismatches(stream_factory) -> None:
    with pytest.raises(ValueError, match="plan is"):
        stream_to_row(stream_factory(), "alerting", "kettle", 1)
    stream = stream_factory()
    short = type(stream)(**{**stream.__dict__, "audio": stream.audio[:-1]})
    with pytest.raises(ValueError, match="samples"):
        stream_to_row(short, "alerting", "doorbell", 1)


def test_flac_round_trip_is_exact(tmp_path: Path, stream_factory) -> None:
    stream = stream_factory()
    path = _write([stream_to_row(stream, "alerting", "doorbell", 7)], tmp_path / "a.parquet")
    data = pq.read_table(path).column("audio")[0]["bytes"].as_py()
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16_000 and sf.info(io.BytesIO(data)).subtype == "PCM_16"
    np.testing.assert_array_equal(decoded, quantise_pcm16(stream.audio))


def test_same_rows_same_bytes(tmp_path: Path, stream_factory) -> None:
    rows = [
        stream_to_row(stream_factory(f"s{i}", seed=i), "alerting", "doorbell", i) for i in range(3)
    ]
    again = [
        stream_to_row(stream_factory(f"s{i}", seed=i), "alerting", "doorbell", i) for i in range(3)
    ]
    first = _write(rows, tmp_path / "one" / "shard-00000.parquet")
    second = _write(again, tmp_path / "two" / "shard-00000.parquet")
    assert first.read_bytes() == second.read_bytes()


def test_atomic_write_leaves_only_the_shard(tmp_path: Path, stream_factory) -> None:
    path = shard_path(tmp_path, "alerting", "doorbell", 3)
    assert path == tmp_path / "alerting" / "doorbell" / "shard-00003.parquet"
    _write([stream_to_row(stream_factory(), "alerting", "doorbell", 7)], path)
    assert [p.name for p in path.parent.iterdir()] == ["shard-00003.parquet"]
    assert shard_is_complete(path)


def test_failure_mid_write_leaves_nothing(tmp_path: Path, stream_factory, monkeypatch) -> None:
    def boom(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", boom)
    path = shard_path(tmp_path, "alerting", "doorbell", 0)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _write([stream_to_row(stream_factory(), "alerting", "doorbell", 7)], path)
    assert list(path.parent.iterdir()) == []


def test_row_groups_hold_at_most_64(tmp_path: Path, stream_factory) -> None:
    row = stream_to_row(stream_factory(seconds=0.4), "alerting", "doorbell", 0)
    rows = [{**row, "stream_id": f"s{i}"} for i in range(130)]
    meta = pq.ParquetFile(_write(rows, tmp_path / "big.parquet")).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [64, 64, 2]


def test_shard_is_complete_rejects_bad_files(tmp_path: Path, stream_factory) -> None:
    good = _write(
        [stream_to_row(stream_factory(), "alerting", "doorbell", 7)], tmp_path / "good.parquet"
    )
    assert shard_is_complete(good)
    assert not shard_is_complete(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    assert not shard_is_complete(tmp_path / "junk.parquet")
    (tmp_path / "cut.parquet").write_bytes(good.read_bytes()[:-100])
    assert not shard_is_complete(tmp_path / "cut.parquet")
    # right schema, but the metadata promises more rows than the file holds
    table = pq.read_table(good)
    meta = {**json.loads(table.schema.metadata[b"streamaudio"]), "streams": 2}
    lying = table.replace_schema_metadata(
        {**table.schema.metadata, b"streamaudio": json.dumps(meta)}
    )
    pq.write_table(lying, tmp_path / "lying.parquet")
    assert not shard_is_complete(tmp_path / "lying.parquet")
    pq.write_table(table.drop_columns(["licenses"]), tmp_path / "old.parquet")
    assert not shard_is_complete(tmp_path / "old.parquet")


def test_empty_shard_records_drops(tmp_path: Path) -> None:
    meta = {"ability": "alerting", "subtask": "doorbell", "config_hash": "h", "drops": {"wer": 3}}
    path = write_shard([], tmp_path / "empty.parquet", meta, 64)
    assert shard_is_complete(path)
    with pytest.raises(ValueError, match="needs 'ability'"):
        write_shard([], tmp_path / "bad.parquet", {"subtask": "x"}, 64)


def test_datasets_types_the_columns(tmp_path: Path, stream_factory, hf_offline: Path) -> None:
    from datasets import Audio, List, Value, load_dataset

    stream = stream_factory()
    path = _write([stream_to_row(stream, "alerting", "doorbell", 7)], tmp_path / "a.parquet")
    ds = load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(hf_offline))
    audio = ds.features["audio"]
    assert isinstance(audio, Audio) and audio.sampling_rate == 16_000
    assert ds.features["decisions"] == List(Value("int8"))
    assert ds.features["events"].feature["onset_s"] == Value("float32")
    assert ds.features["num_samples"] == Value("int64")
    # never decode through datasets (torchcodec): take the raw bytes instead
    raw = ds.cast_column("audio", Audio(decode=False))[0]["audio"]
    assert raw["path"] == "s0.flac"
    decoded, _ = sf.read(io.BytesIO(raw["bytes"]), dtype="int16")
    np.testing.assert_array_equal(decoded, quantise_pcm16(stream.audio))
