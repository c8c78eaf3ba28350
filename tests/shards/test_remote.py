"""RemoteCorpus against a real S3 protocol server (moto, on 127.0.0.1) and against
a filesystem without atomic puts (fsspec's local one, through a file:// URL)."""

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamaudio.schema import Stream
from streamaudio.shards.progress import ShardRequest, write_record
from streamaudio.shards.remote import (
    RemoteCorpus,
    display_url,
    is_remote,
    local_path,
    record_relative,
)
from streamaudio.shards.writer import shard_footer, write_shard_with_rows

SHARD = "proactive_response/hazard_alert/shard-00000.parquet"
REQUEST = ShardRequest("proactive_response", "hazard_alert", 0, 5, 2, "abc")


def test_urls_and_paths() -> None:
    assert is_remote("s3://bucket/corpus") and is_remote("gs://b/c") and is_remote("memory://x")
    assert not is_remote("corpus") and not is_remote("/tmp/corpus")
    assert not is_remote("file:///tmp/corpus") and not is_remote(Path("s3:/x"))
    assert local_path("file:///tmp/corpus") == Path("/tmp/corpus")
    assert local_path("corpus/{date}") == Path("corpus/{date}")
    assert display_url("s3://KEY:SECRET@bucket/corpus") == "s3://bucket/corpus"
    assert display_url("s3://bucket/corpus") == "s3://bucket/corpus"
    assert record_relative(SHARD) == ".progress/proactive_response/hazard_alert/shard-00000.json"


MakeStream = Callable[..., Stream]


def tiny_shard(make: MakeStream, path: Path, streams: int) -> Path:
    pairs = [(make(f"hazard_alert-{i}", "proactive_response", "hazard_alert", 1.0 + i,
                   seed=i, respond_at=1), i) for i in range(streams)]
    return write_shard_with_rows(pairs, path, "proactive_response", "hazard_alert", {}, 64)


def _publish_shard(make: MakeStream, corpus: RemoteCorpus, local: Path) -> None:
    shard = tiny_shard(make, local / SHARD, streams=REQUEST.planned_streams)
    record = write_record(local, shard, REQUEST, REQUEST.planned_streams)
    corpus.publish(shard, SHARD)
    corpus.publish(record, record_relative(SHARD))


def test_a_published_shard_is_done_only_for_its_own_request(s3_bucket: str,
                                                              tmp_path: Path,
        stream_factory: MakeStream) -> None:
    corpus = RemoteCorpus(f"{s3_bucket}/corpus")
    assert corpus.atomic_put
    assert not corpus.shard_done(SHARD, REQUEST)  # nothing there yet
    _publish_shard(stream_factory, corpus, tmp_path)
    assert corpus.shard_done(SHARD, REQUEST)
    assert not corpus.shard_done(SHARD, replace(REQUEST, corpus_seed=6))
    fs = fsspec.filesystem("s3")
    key = f"{s3_bucket[5:]}/corpus/{SHARD}"
    fs.pipe(key, fs.cat(key)[:-10])  # truncated on the store
    corpus.refresh()
    assert not corpus.shard_done(SHARD, REQUEST)
    fs.rm(key)
    corpus.refresh()
    assert not corpus.shard_done(SHARD, REQUEST)  # a record without its shard


def test_a_broken_record_means_rebuild(s3_bucket: str, tmp_path: Path,
        stream_factory: MakeStream) -> None:
    corpus = RemoteCorpus(f"{s3_bucket}/corpus")
    _publish_shard(stream_factory, corpus, tmp_path)
    fsspec.filesystem("s3").pipe(f"{s3_bucket[5:]}/corpus/{record_relative(SHARD)}", b"{not js")
    assert not corpus.shard_done(SHARD, REQUEST)


def test_footers_read_from_the_store_match_the_local_ones(s3_bucket: str,
                                                          tmp_path: Path,
        stream_factory: MakeStream) -> None:
    corpus = RemoteCorpus(f"{s3_bucket}/corpus")
    _publish_shard(stream_factory, corpus, tmp_path)
    broken = "proactive_response/hazard_alert/shard-00001.parquet"
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not a shard")
    corpus.publish(tmp_path / "broken.parquet", broken)
    footers = dict(corpus.shard_footers())
    assert list(footers) == [SHARD, broken]
    assert footers[SHARD] == shard_footer(tmp_path / SHARD) and footers[SHARD] is not None
    assert footers[broken] is None  # counted as invalid by the manifest


def test_download_copies_every_file(s3_bucket: str, tmp_path: Path,
        stream_factory: MakeStream) -> None:
    corpus = RemoteCorpus(f"{s3_bucket}/corpus")
    _publish_shard(stream_factory, corpus, tmp_path / "built")
    corpus.download(tmp_path / "copy")
    for relative in (SHARD, record_relative(SHARD)):
        assert (tmp_path / "copy" / relative).read_bytes() == \
            (tmp_path / "built" / relative).read_bytes()
    assert corpus.read_text("absent.txt") is None
    assert not corpus.fetch("absent.txt", tmp_path / "absent.txt")


def test_without_atomic_puts_files_move_into_place(tmp_path: Path,
        stream_factory: MakeStream) -> None:
    target = tmp_path / "store"
    corpus = RemoteCorpus(f"file://{target}")
    assert not corpus.atomic_put
    _publish_shard(stream_factory, corpus, tmp_path / "built")
    assert (target / SHARD).read_bytes() == (tmp_path / "built" / SHARD).read_bytes()
    assert not list(target.rglob(".*.tmp-*"))
    stale = target / "proactive_response/hazard_alert/.shard-00001.parquet.tmp-1-2"
    stale.write_bytes(b"half")
    corpus.remove_temporaries()
    assert not stale.exists() and (target / SHARD).exists()


def test_survives_pickling(s3_bucket: str) -> None:
    import pickle

    corpus = RemoteCorpus(f"{s3_bucket}/corpus/")
    _ = corpus.fs
    again = pickle.loads(pickle.dumps(corpus))
    assert again.url == f"{s3_bucket}/corpus" and again._fs is None


@pytest.mark.parametrize("streams", [1, 3])
def test_tiny_shard_is_complete(tmp_path: Path, streams: int,
        stream_factory: MakeStream) -> None:
    path = tiny_shard(stream_factory, tmp_path / "s.parquet", streams)
    assert shard_footer(path)["streams"] == streams
    assert pq.read_table(path).num_rows == streams
    assert isinstance(pq.read_schema(path), pa.Schema)
