from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamaudio.config import Config
from streamaudio.corpus import build_corpus
from streamaudio.shards.reader import list_shards
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus


@pytest.fixture
def corpus(tmp_path: Path, world_config: Config) -> Path:
    root = tmp_path / "corpus"
    build_corpus(root, [get_subtask("hazard_alert"), get_subtask("benign_silence")], 4, 0,
                 world_config)
    return root


def _tamper(path: Path, change: Callable[[dict], None]) -> None:
    """Rewrite the shard with its first row changed, keeping schema and metadata."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows[0])
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), path)


def test_a_fresh_corpus_is_valid(corpus: Path) -> None:
    checked, failures = validate_corpus(corpus)
    assert checked == 8 and failures == []


def _first_response(row: dict) -> int:
    return row["decisions"].index(1)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda row: row.update(num_chunks=row["num_chunks"] + 1), "num_chunks"),
    (lambda row: row["responses"].__setitem__(0, "hello"), "silent chunk carries text"),
    (lambda row: row["emotions"].__setitem__(_first_response(row), "bored"), "emotion"),
    (lambda row: row["decisions"].__setitem__(_first_response(row), 0), "silent chunk"),
    (lambda row: row.update(config_hash="deadbeef"), "config_hash"),
    (lambda row: row.update(num_samples=row["num_samples"] - 1), "samples"),
    (lambda row: row["audio"].update(bytes=b"garbage"), "does not decode"),
    (lambda row: row.update(plan="{"), "plan does not parse"),
    (lambda row: row["events"][0].update(offset_s=99.0), "outside"),
])
def test_each_broken_invariant_is_reported_for_its_row(
        corpus: Path, change: Callable[[dict], None], reason: str) -> None:
    shard = next(p for p in list_shards(corpus) if p.parent.name == "hazard_alert")
    first_id = pq.read_table(shard).column("stream_id")[0].as_py()
    _tamper(shard, change)
    _, failures = validate_corpus(corpus)
    assert failures, "tampering went unnoticed"
    assert all(f.stream_id == first_id for f in failures)
    assert any(reason in f.reason for f in failures), [f.reason for f in failures]


def test_verified_silence_with_a_response_fails(corpus: Path) -> None:
    shard = next(p for p in list_shards(corpus) if p.parent.name == "benign_silence")

    def speak(row: dict) -> None:
        row["decisions"][2], row["responses"][2], row["emotions"][2] = 1, "Hi!", "happy"

    _tamper(shard, speak)
    _, failures = validate_corpus(corpus)
    assert any("verified-silent" in f.reason for f in failures)


def test_not_a_corpus(tmp_path: Path) -> None:
    _, failures = validate_corpus(tmp_path)
    assert failures and "not a StreamAudio corpus" in failures[0].reason
