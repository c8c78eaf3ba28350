"""ShardStreams over a real corpus built from the tiny world: 12 streams in 5 shards of
row groups of 2 (and 1), so ranks and workers really split units and batches."""

from __future__ import annotations

import itertools
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_world

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.shards.reader import StreamRecord, iter_streams
from streamaudio.tasks.registry import get_subtask
from streamaudio.train import data
from streamaudio.train.data import (
    DataError,
    DataPosition,
    ShardStreams,
    StreamRef,
    check_rows,
    make_loader,
    read_streams,
    scan_corpus,
)

STREAMS = {"benign_silence": 7, "notify_on_sound": 5}
ABILITIES = {"benign_silence": "proactive_response", "notify_on_sound": "instruction_following"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("train-data")
    world = write_world(tmp / "world")
    cfg = load_config(overrides=[
        f"catalog.directory={world}", "retrieval.mode=class", "shards.streams_per_shard=3",
        "shards.row_group_streams=2", f"cache.directory={tmp / 'cache'}"])
    build_corpus(tmp / "corpus", [get_subtask(name) for name in STREAMS], STREAMS, 0, cfg)
    return tmp / "corpus"


@pytest.fixture(scope="module")
def stream_ids(corpus: Path) -> dict[str, str]:
    """stream_id -> subtask, read the plain way."""
    return {record.stream_id: record.subtask for record in iter_streams(corpus)}


def stream_id(record: StreamRecord) -> str:  # module level: picklable for any start method
    return record.stream_id


def as_list(batch: list[str]) -> list[str]:
    return batch


def run(dataset: ShardStreams[str], workers: int) -> list[list[str]]:
    return list(make_loader(dataset, workers, as_list))


def ids_of(dataset: ShardStreams[str], epoch: int) -> list[list[str]]:
    """The batches `epoch_batches` promises, as stream ids (decoded in-process)."""
    scan = dataset.scan
    records = {
        (s, g, r): record.stream_id
        for s, shard in enumerate(scan.shards)
        for g in range(len(shard.row_groups))
        for r, record in enumerate(
            map(data.record_from_row, data.read_row_group(shard.path, g).to_pylist()))
    }
    return [[records[(ref.shard, ref.row_group, ref.row)] for ref in batch]
            for batch in dataset.epoch_batches(epoch)]


def test_scan_reads_layout_and_chunk_counts(corpus: Path, stream_ids: dict[str, str]) -> None:
    scan = scan_corpus(corpus)
    assert scan.streams == 12 == len(stream_ids)
    assert [Path(s.path).relative_to(corpus).as_posix() for s in scan.shards] == [
        "instruction_following/notify_on_sound/shard-00000.parquet",
        "instruction_following/notify_on_sound/shard-00001.parquet",
        "proactive_response/benign_silence/shard-00000.parquet",
        "proactive_response/benign_silence/shard-00001.parquet",
        "proactive_response/benign_silence/shard-00002.parquet",
    ]
    assert [s.row_groups for s in scan.shards] == [(2, 1), (2,), (2, 1), (2, 1), (1,)]
    assert scan.units == 8 and scan.subtasks == ("benign_silence", "notify_on_sound")
    assert all(ABILITIES[s.subtask] == s.ability for s in scan.shards)
    assert scan.max_chunks == max(record.num_chunks for record in iter_streams(corpus)) > 0


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_every_stream_once_and_same_batches_for_any_rank_and_worker_count(
        corpus: Path, stream_ids: dict[str, str], world_size: int, workers: int) -> None:
    scan = scan_corpus(corpus)
    seen: list[str] = []
    counts = []
    for rank in range(world_size):
        dataset = ShardStreams(scan, batch_size=3, seed=5, transform=stream_id, rank=rank,
                               world_size=world_size)
        expected = ids_of(dataset, 0)
        assert len(dataset) == dataset.batches_per_epoch(0) == len(expected)
        assert all(len(batch) == 3 for batch in expected[:-1]) and expected
        got = run(dataset, workers)  # what the loader really yields, not what it promises
        assert got == expected, rank
        seen += [sid for batch in got for sid in batch]
        counts.append(sum(map(len, got)))
    assert sorted(seen) == sorted(stream_ids)  # no stream missing, none twice
    assert max(counts) - min(counts) <= 2  # at most one row group apart


def test_same_seed_same_order_other_seed_or_epoch_another(corpus: Path) -> None:
    scan = scan_corpus(corpus)

    def refs(seed: int, epoch: int) -> list[list[StreamRef]]:
        return ShardStreams(scan, batch_size=4, seed=seed).epoch_batches(epoch)

    base = refs(1, 0)
    assert refs(1, 0) == base
    assert refs(2, 0) != base and refs(1, 1) != base
    flat = {ref for batch in base for ref in batch}
    assert all({ref for batch in refs(1, e) for ref in batch} == flat for e in range(5))
    # rows inside a row group are shuffled too: some unit of 2 comes out as (1, 0)
    reversed_pairs = [
        (a, b) for e in range(5) for batch in [list(itertools.chain(*refs(1, e)))]
        for a, b in itertools.pairwise(batch)
        if (a.shard, a.row_group) == (b.shard, b.row_group) and a.row > b.row
    ]
    assert reversed_pairs


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_gives_the_exact_tail(corpus: Path, workers: int) -> None:
    scan = scan_corpus(corpus)
    for rank in (0, 1):
        dataset = ShardStreams(scan, batch_size=2, seed=3, transform=stream_id, rank=rank,
                               world_size=2)
        full = run(dataset, 0)
        assert len(full) >= 3
        for k in (1, 2, len(full) - 1, len(full)):
            dataset.set_position(DataPosition(0, k))
            assert len(dataset) == len(full) - k
            assert run(dataset, workers) == full[k:], (rank, k)
        dataset.set_position(DataPosition(1, 0))  # the loop rolls the epoch
        assert run(dataset, workers) == ids_of(dataset, 1) != full
        with pytest.raises(DataError, match="past the end"):
            dataset.set_position(DataPosition(0, len(full) + 1))


def test_position_round_trips_and_checks_its_input() -> None:
    position = DataPosition(3, 17)
    assert DataPosition.from_dict(position.to_dict()) == position
    assert DataPosition.from_dict({"epoch": 0, "batches": 0}) == DataPosition()
    with pytest.raises(DataError, match="keys"):
        DataPosition.from_dict({"epoch": 1})
    with pytest.raises(DataError, match="negative"):
        DataPosition(-1, 0)


def test_a_worker_reads_each_row_group_once_and_decodes_only_its_rows(
        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: Counter[tuple[str, int]] = Counter()
    decoded: list[str] = []
    real_read, real_decode = data.read_row_group, data.record_from_row

    def counting_read(path: str, group: int):  # type: ignore[no-untyped-def]
        reads[(path, group)] += 1
        return real_read(path, group)

    def counting_decode(row: dict) -> StreamRecord:  # type: ignore[type-arg]
        decoded.append(row["stream_id"])
        return real_decode(row)

    dataset = ShardStreams(scan_corpus(corpus), batch_size=3, seed=9, transform=stream_id,
                           position=DataPosition(0, 1))
    expected = ids_of(dataset, 0)
    monkeypatch.setattr(data, "read_row_group", counting_read)
    monkeypatch.setattr(data, "record_from_row", counting_decode)
    # worker 1 of 2 gets batches 2, 4, ... of the ones left from batch 1
    monkeypatch.setattr(data, "get_worker_info", lambda: SimpleNamespace(id=1, num_workers=2))
    got = list(dataset)
    assert got == expected[2::2] and got
    assert decoded == [sid for batch in got for sid in batch]
    needed = {(ref.shard, ref.row_group) for batch in dataset.epoch_batches(0)[2::2]
              for ref in batch}
    assert set(reads.values()) == {1}
    assert {(Path(p).name, g) for p, g in reads} == {
        (Path(dataset.scan.shards[s].path).name, g) for s, g in needed}
    assert len(reads) == len(needed)


def test_filters_by_subtask_and_ability(corpus: Path, stream_ids: dict[str, str]) -> None:
    notify = scan_corpus(corpus, subtasks={"notify_on_sound"})
    assert notify.streams == 5 and notify.subtasks == ("notify_on_sound",)
    benign = scan_corpus(corpus, abilities=["proactive_response"])
    assert benign.streams == 7 and benign.subtasks == ("benign_silence",)
    both = scan_corpus(corpus, subtasks={"benign_silence", "notify_on_sound"},
                       abilities={"instruction_following"})
    assert both.subtasks == ("notify_on_sound",)
    dataset = ShardStreams(notify, batch_size=2, seed=0, transform=stream_id)
    got = [sid for batch in run(dataset, 0) for sid in batch]
    assert sorted(got) == sorted(s for s, sub in stream_ids.items() if sub == "notify_on_sound")


@pytest.fixture
def memory_corpus(corpus: Path) -> Iterator[str]:
    url = f"memory://train-data-{uuid.uuid4().hex[:8]}/corpus"
    fs, root = fsspec.core.url_to_fs(url)
    for path in corpus.rglob("*"):
        if path.is_file():
            fs.pipe_file(f"{root}/{path.relative_to(corpus).as_posix()}", path.read_bytes())
    yield url
    fs.rm(root, recursive=True)


def test_fsspec_urls_give_the_same_streams(corpus: Path, memory_corpus: str) -> None:
    local = scan_corpus(corpus)
    for url in (memory_corpus, corpus.as_uri()):
        remote = scan_corpus(url)
        assert [s.row_groups for s in remote.shards] == [s.row_groups for s in local.shards]
        assert remote.max_chunks == local.max_chunks
    remote = scan_corpus(memory_corpus)
    assert all(s.path.startswith(memory_corpus + "/") for s in remote.shards)
    for workers in (0, 2):  # workers fork, and a fork sees the memory filesystem
        batches = [run(ShardStreams(scan, batch_size=3, seed=4, transform=stream_id), workers)
                   for scan in (local, remote)]
        assert batches[0] == batches[1]
    audio = {r.stream_id: r.audio for b in ShardStreams(remote, batch_size=12, seed=0) for r in b}
    for record in iter_streams(corpus):
        assert (audio[record.stream_id] == record.audio).all()


def test_clear_errors(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for missing in (tmp_path / "empty", tmp_path / "nowhere"):
        with pytest.raises(DataError, match=r"no shards under .*streamaudio build --out"):
            scan_corpus(missing)
    with pytest.raises(DataError, match=r"subtasks=\['hazard_alert'\].*present: benign_silence"):
        scan_corpus(corpus, subtasks=["hazard_alert"])
    with pytest.raises(DataError, match=r"abilities=\['proactive_response'\]"):
        scan_corpus(corpus, subtasks=["notify_on_sound"], abilities=["proactive_response"])
    broken = tmp_path / "broken"
    shutil.copytree(corpus, broken)
    bad = broken / "proactive_response" / "benign_silence" / "shard-00009.parquet"
    bad.write_bytes(b"not a parquet file at all" * 40)
    message = f"{re.escape(str(bad))}.*streamaudio validate {re.escape(str(broken))}"
    with pytest.raises(DataError, match=message):
        scan_corpus(broken)
    assert scan_corpus(broken, subtasks=["notify_on_sound"]).streams == 5  # unread when filtered
    scan = scan_corpus(corpus)
    with pytest.raises(DataError, match=r"world size 9 .* has 8"):
        ShardStreams(scan, batch_size=2, seed=0, rank=0, world_size=9)
    assert ShardStreams(scan, batch_size=2, seed=0, rank=7, world_size=8).batches_per_epoch(0)
    with pytest.raises(ValueError, match="rank"):
        ShardStreams(scan, batch_size=2, seed=0, rank=2, world_size=2)


def _copy_with(corpus: Path, tmp_path: Path, change: Callable[[pa.Table], pa.Table]
               ) -> tuple[Path, Path]:
    """A copy of the corpus with its first shard rewritten (schema metadata kept)."""
    copy = tmp_path / "copy"
    shutil.copytree(corpus, copy)
    shard = sorted(copy.glob("*/*/shard-*.parquet"))[0]
    pq.write_table(change(pq.read_table(shard)), shard)
    return copy, shard


def _edit_row(row: int, edit: Callable[[dict], None]) -> Callable[[pa.Table], pa.Table]:
    def change(table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        edit(rows[row])
        return pa.Table.from_pylist(rows, schema=table.schema)

    return change


CHECK = {"sample_rate": 16_000, "chunk_ms": 400, "max_chunks": 60}


def test_check_rows_passes_a_good_corpus_and_sizes_every_row(corpus: Path) -> None:
    scan = scan_corpus(corpus)
    for full in (True, False):
        sizes = check_rows(scan, **CHECK, full=full)
        assert len(sizes) == 12 == len({size.ref for size in sizes})
        records = read_streams(scan, [size.ref for size in sizes])
        assert [size.chunks for size in sizes] == [r.num_chunks for r in records]
        assert [size.text_bytes for size in sizes] == [
            len((r.instruction + "".join(r.responses)).encode()) for r in records]


def test_a_missing_column_names_the_shard_and_the_column(corpus: Path, tmp_path: Path) -> None:
    copy, shard = _copy_with(corpus, tmp_path, lambda table: table.drop_columns(["emotions"]))
    with pytest.raises(DataError, match=rf"{re.escape(str(shard))}.*missing or mistyped: "
                                        r"emotions.*streamaudio validate"):
        scan_corpus(copy)


@pytest.mark.parametrize(("edit", "reason", "cheap"), [
    (lambda row: row.update(num_chunks=row["num_chunks"] + 1), "num_chunks", True),
    (lambda row: row["decisions"].pop(), "decisions has", True),
    (lambda row: row["responses"].__setitem__(0, "hello"), "silent chunk carries text", True),
    (lambda row: row.update(chunk_ms=200), "200 ms chunks", True),
    (lambda row: row.update(subtask="other"), "shard path", True),
    (lambda row: row["audio"].update(bytes=b"garbage"), "does not decode", False),
    (lambda row: row.update(plan="{"), "plan does not parse", False),
])
def test_check_rows_names_the_shard_row_and_stream(
        corpus: Path, tmp_path: Path, edit: Callable[[dict], None], reason: str,
        cheap: bool) -> None:
    copy, shard = _copy_with(corpus, tmp_path, _edit_row(1, edit))
    sid = pq.read_table(shard).column("stream_id")[1].as_py()
    scan = scan_corpus(copy)
    where = rf"{re.escape(str(shard))} row 1 \(stream {re.escape(sid)}\): [^\n]*{reason}"
    with pytest.raises(DataError, match=rf"(?s)row failure.*{where}.*streamaudio validate"):
        check_rows(scan, **CHECK)  # 12 streams: the full check
    if cheap:  # the label columns alone catch it
        with pytest.raises(DataError, match=where):
            check_rows(scan, **CHECK, full=False)
    else:
        check_rows(scan, **CHECK, full=False)


def test_a_duplicate_stream_id_is_a_failure(corpus: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(corpus, copy)
    first = sorted(copy.glob("*/*/shard-*.parquet"))[0]
    shutil.copy(first, first.with_name("shard-00099.parquet"))
    with pytest.raises(DataError, match=rf"stream id also in {re.escape(str(first))}"):
        check_rows(scan_corpus(copy), **CHECK, full=False)


def test_the_loader_names_a_row_whose_audio_does_not_decode(corpus: Path,
                                                           tmp_path: Path) -> None:
    copy, shard = _copy_with(corpus, tmp_path,
                             _edit_row(1, lambda row: row["audio"].update(bytes=b"garbage")))
    sid = pq.read_table(shard).column("stream_id")[1].as_py()
    scan = scan_corpus(copy)
    message = rf"{re.escape(str(shard))} row 1 \(stream {re.escape(sid)}\).*streamaudio validate"
    for workers in (0, 1):  # a worker's error reaches the loop as the same DataError
        with pytest.raises(DataError, match=message):
            run(ShardStreams(scan, batch_size=12, seed=0, transform=stream_id), workers)
    with pytest.raises(DataError, match=message):
        read_streams(scan, [StreamRef(0, 0, 1)])
