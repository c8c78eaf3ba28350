import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from streamaudio.config import Config
from streamaudio.corpus import build_corpus
from streamaudio.pipeline import CorpusBuilder
from streamaudio.shards.progress import (
    PROGRESS_DIR,
    ShardRequest,
    file_sha256,
    record_path,
    shard_is_done,
    shard_streams,
)
from streamaudio.shards.reader import list_shards
from streamaudio.shards.writer import shard_is_complete
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus

SUBTASK = get_subtask("hazard_alert")
TOTAL = 6  # world_config has 4 streams per shard: shards of 4 and 2


def _build(builder: CorpusBuilder, root: Path, index: int, total: int = TOTAL,
           seed: int = 0) -> bool:
    """Build (or keep) one shard; True if it was kept."""
    return builder.build_shard(root, SUBTASK, index, total, seed).skipped


def _shard(root: Path, index: int) -> Path:
    return root / SUBTASK.ability / SUBTASK.name / f"shard-{index:05d}.parquet"


def test_a_record_describes_the_shard_and_a_matching_one_keeps_it(
        tmp_path: Path, world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    assert not _build(builder, tmp_path, 0)
    shard = _shard(tmp_path, 0)
    record_file = tmp_path / PROGRESS_DIR / SUBTASK.ability / SUBTASK.name / "shard-00000.json"
    assert record_path(tmp_path, shard) == record_file
    record = json.loads(record_file.read_text())
    assert record == {
        "format": 1, "shard": shard.relative_to(tmp_path).as_posix(),
        "ability": SUBTASK.ability, "subtask": SUBTASK.name, "shard_index": 0,
        "corpus_seed": 0, "planned_streams": 4, "config_hash": world_config.hash(),
        "streams": pq.ParquetFile(shard).metadata.num_rows,
        "bytes": shard.stat().st_size, "sha256": file_sha256(shard)}
    assert record["streams"] == 4
    os.utime(shard, (1, 1))
    assert _build(builder, tmp_path, 0)
    assert shard.stat().st_mtime == 1  # kept, not rewritten


def test_a_shard_without_its_record_is_rebuilt(tmp_path: Path, world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    _build(builder, tmp_path, 0)
    shard = _shard(tmp_path, 0)
    before = shard.read_bytes()
    record_path(tmp_path, shard).unlink()  # a kill between the rename and the record
    os.utime(shard, (1, 1))
    assert not _build(builder, tmp_path, 0)
    assert shard.stat().st_mtime != 1
    assert shard.read_bytes() == before  # the same request gives the same bytes
    assert record_path(tmp_path, shard).exists()


def _flip_a_byte(shard: Path, other: Path) -> None:
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))


def _truncate(shard: Path, other: Path) -> None:
    shard.write_bytes(shard.read_bytes()[:-100])


def _replace_with_another_complete_shard(shard: Path, other: Path) -> None:
    shard.write_bytes(other.read_bytes())
    assert shard_is_complete(shard)  # a valid shard: only the record tells it is not this one


@pytest.mark.parametrize("damage", [_flip_a_byte, _truncate, _replace_with_another_complete_shard])
def test_a_shard_whose_bytes_differ_from_its_record_is_rebuilt(
        tmp_path: Path, world_config: Config, damage) -> None:  # type: ignore[no-untyped-def]
    builder = CorpusBuilder(world_config)
    _build(builder, tmp_path, 0)
    _build(builder, tmp_path, 1)
    shard = _shard(tmp_path, 0)
    before = shard.read_bytes()
    damage(shard, _shard(tmp_path, 1))
    assert shard.read_bytes() != before
    assert not _build(builder, tmp_path, 0)
    assert shard.read_bytes() == before
    assert _build(builder, tmp_path, 0)


def test_a_record_made_for_other_parameters_means_a_rebuild(
        tmp_path: Path, world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    shard = _shard(tmp_path, 1)
    assert not _build(builder, tmp_path, 1, total=6)  # streams 4 and 5
    assert not _build(builder, tmp_path, 1, total=7)  # more streams: the last shard grows
    assert pq.ParquetFile(shard).metadata.num_rows == 3
    assert _build(builder, tmp_path, 1, total=7)
    assert not _build(builder, tmp_path, 1, total=7, seed=1)  # another corpus seed
    ids = pq.read_table(shard, columns=["stream_id"]).column(0).to_pylist()
    assert ids == [f"hazard_alert-s1-{index:06d}" for index in (4, 5, 6)]
    record_path(tmp_path, shard).write_text("{not json")
    assert not _build(builder, tmp_path, 1, total=7, seed=1)
    assert _build(builder, tmp_path, 1, total=7, seed=1)


def test_shard_is_done_is_false_without_the_shard(tmp_path: Path, world_config: Config) -> None:
    request = ShardRequest(SUBTASK.ability, SUBTASK.name, 0, 0, 4, world_config.hash())
    builder = CorpusBuilder(world_config)
    _build(builder, tmp_path, 0)
    shard = _shard(tmp_path, 0)
    assert shard_is_done(tmp_path, shard, request)
    shard.unlink()
    assert not shard_is_done(tmp_path, shard, request)


def test_records_are_no_part_of_the_corpus_data(tmp_path: Path, world_config: Config) -> None:
    root = tmp_path / "corpus"
    build_corpus(root, [SUBTASK], TOTAL, 0, world_config)
    records = sorted((root / PROGRESS_DIR).rglob("*.json"))
    assert len(records) == len(list_shards(root)) == 2
    assert all(path.suffix == ".parquet" for path in list_shards(root))
    checked, failures = validate_corpus(root)
    assert (checked, failures) == (TOTAL, [])


def test_shard_streams_cut_the_total_into_runs_of_per_shard() -> None:
    assert [list(shard_streams(i, 10, 4)) for i in range(3)] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(shard_streams(3, 10, 4)) == []  # past the end: nothing, not a negative run
    assert len(shard_streams(0, 0, 4)) == 0
