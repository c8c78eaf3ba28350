from __future__ import annotations

from pathlib import Path

import numpy as np

from streamaudio.schema import EventRow, GroundedPlan
from streamaudio.shards.reader import iter_streams, list_shards, read_rows, read_shard_meta
from streamaudio.shards.writer import quantise_pcm16


def test_list_shards_sorted_and_skips_temp_files(corpus) -> None:
    root, written = corpus
    (written["doorbell"][0].parent / ".shard-00009.parquet.tmp-123-4").write_bytes(b"partial")
    expected = sorted(written["doorbell"] + written["kettle"])
    assert list_shards(root) == expected
    assert expected[0].relative_to(root).as_posix() == "alerting/doorbell/shard-00000.parquet"


def test_iter_streams_decodes_rows(corpus, stream_factory) -> None:
    root, _ = corpus
    records = list(iter_streams(root))
    assert [r.stream_id for r in records] == [
        "doorbell-0-0",
        "doorbell-0-1",
        "doorbell-1-0",
        "kettle-0-0",
        "kettle-0-1",
    ]
    first = records[0]
    original = stream_factory("doorbell-0-0", "alerting", "doorbell", 2.0, seed=0, respond_at=1)
    assert first.audio.dtype == np.float32 and first.audio.shape == (32_000,)
    np.testing.assert_array_equal(first.audio, quantise_pcm16(original.audio) / 32768.0)
    assert first.decisions.dtype == np.int8 and len(first.decisions) == first.num_chunks == 5
    assert first.decisions.tolist() == [0, 1, 0, 0, 0]
    assert first.responses[1] == "Someone is at the door." and first.emotions[0] == ""
    assert isinstance(first.events[0], EventRow) and len(first.events) == 3
    assert first.events[2].kind == "speech" and first.events[2].license == "GPL-2.0-or-later"
    assert first.grounded_plan() == original.plan
    assert isinstance(first.grounded_plan(), GroundedPlan)
    assert (first.sample_rate, first.chunk_ms, first.seed) == (16_000, 400, 0)
    assert first.instruction and first.setting == "kitchen" and not first.verified_silent
    assert first.audio_path == "doorbell-0-0.flac" and first.clip_guard_scale == 1.0


def test_filters_by_subtask_and_ability(corpus) -> None:
    root, _ = corpus
    assert {r.subtask for r in iter_streams(root, subtask="kettle")} == {"kettle"}
    assert len(list(iter_streams(root, subtask="kettle"))) == 2
    assert len(list(iter_streams(root, ability="alerting"))) == 3
    assert list(iter_streams(root, subtask="nothing")) == []


def test_meta_and_rows(corpus) -> None:
    _, written = corpus
    path: Path = written["doorbell"][1]
    meta = read_shard_meta(path)
    assert (
        meta["streams"] == 1
        and meta["seconds"] == 3.0
        and meta["drops"] == {"no_clip": 1, "wer": 2}
    )
    table = read_rows(path, columns=["stream_id", "num_chunks"])
    assert table.column_names == ["stream_id", "num_chunks"]
    assert table.to_pylist() == [{"stream_id": "doorbell-1-0", "num_chunks": 8}]
