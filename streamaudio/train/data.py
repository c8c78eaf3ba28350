"""Training data: a torch `IterableDataset` of whole batches of streams, read from local or
fsspec shards with sequential row-group reads only (never random row access).

The order is a pure function of (seed, epoch, rank, world size, batch size), so a run
resumes exactly from a `DataPosition` whatever the number of DataLoader workers:

1. Units are the row groups of all shards (<= 64 streams each). A generator seeded from
   (seed, epoch) permutes the units and, in that order, the rows inside each unit: a new
   order every epoch, the same on every machine.
2. Units are dealt greedily to the rank with the fewest streams so far (ties: the lowest
   rank), so ranks differ by at most one row group's streams and every stream is on
   exactly one rank. A rank's streams, unit after unit, are cut into batches.
3. Batch b >= start (the position's `batches`) goes to worker (b - start) % W. DataLoader
   takes items from its workers round-robin starting at worker 0, so it yields batches
   start, start + 1, ... in the same order for any W, tail included.

Read amplification: a unit's rows are contiguous in the rank's order, so a worker leaves a
unit for good once it moves on and caching one row group is enough. But a unit spanning
several batches may be needed by several workers: each worker of a rank may read a row
group once (at most min(W, batches touching it) reads), and decodes only its own rows.

Before training, `check_rows` holds every row to `streamaudio validate`'s row rules, so a
bad shard stops the run with one error naming it before any step is taken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from streamaudio.shards.reader import SHARD_GLOB, StreamRecord, record_from_row
from streamaudio.shards.remote import display_url, is_remote, local_path
from streamaudio.shards.writer import SHARD_FORMAT, shard_footer
from streamaudio.validate import LABEL_COLUMNS, column_failures, row_failures

T = TypeVar("T")


class DataError(ValueError):
    """The corpus or the requested split cannot feed training."""


@dataclass(frozen=True)
class ShardInfo:
    path: str  # local path or fsspec URL, as given to the scan
    ability: str
    subtask: str
    row_groups: tuple[int, ...]  # streams per row group
    max_chunks: int

    @property
    def streams(self) -> int:
        return sum(self.row_groups)


@dataclass(frozen=True)
class CorpusScan:
    corpus: str
    shards: tuple[ShardInfo, ...]

    @property
    def streams(self) -> int:
        return sum(shard.streams for shard in self.shards)

    @property
    def units(self) -> int:
        return sum(1 for shard in self.shards for rows in shard.row_groups if rows > 0)

    @property
    def max_chunks(self) -> int:
        return max((shard.max_chunks for shard in self.shards), default=0)

    @property
    def subtasks(self) -> tuple[str, ...]:
        return tuple(sorted({shard.subtask for shard in self.shards}))


@dataclass(frozen=True)
class StreamRef:
    shard: int  # index into CorpusScan.shards
    row_group: int
    row: int  # row inside the row group


@dataclass(frozen=True)  # a value: the loop makes a new one rather than editing it
class DataPosition:
    epoch: int = 0
    batches: int = 0  # batches this rank has already consumed in `epoch`

    def __post_init__(self) -> None:
        if not (isinstance(self.epoch, int) and isinstance(self.batches, int)):
            raise DataError(f"a data position holds integers, got {self!r}")
        if self.epoch < 0 or self.batches < 0:
            raise DataError(f"a data position cannot be negative, got {self!r}")

    def to_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches": self.batches}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataPosition:
        if set(data) != {"epoch", "batches"}:
            raise DataError(f"a data position has keys epoch and batches, got {sorted(data)}")
        return cls(epoch=data["epoch"], batches=data["batches"])


def _list_shards(corpus: str) -> list[tuple[str, str]]:
    """(relative path, path or URL to open) of every shard, sorted by relative path."""
    if not is_remote(corpus):
        root = local_path(corpus)
        return [(p.relative_to(root).as_posix(), str(p)) for p in sorted(root.glob(SHARD_GLOB))]
    fs, root = fsspec.core.url_to_fs(corpus)
    root = root.rstrip("/")
    found = sorted(path[len(root) + 1 :] for path in fs.glob(f"{root}/{SHARD_GLOB}"))
    return [(relative, f"{corpus.rstrip('/')}/{relative}") for relative in found]


def _shard_info(path: str, ability: str, subtask: str, corpus: str) -> ShardInfo:
    def describe(source: Any) -> ShardInfo | None:
        if shard_footer(source) is None:
            return None
        parquet = pq.ParquetFile(source)
        meta = parquet.metadata
        chunks = pc.max(parquet.read(columns=["num_chunks"])["num_chunks"]).as_py()
        rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        return ShardInfo(path, ability, subtask, rows, int(chunks or 0))

    if is_remote(path):
        with fsspec.open(path, "rb") as handle:
            info = describe(handle)
    else:
        info = describe(Path(path))
    if info is None:
        raise DataError(
            f"{display_url(path)} is not a complete StreamAudio shard (format {SHARD_FORMAT}"
            f"{_why_incomplete(path)}): run `streamaudio validate {display_url(corpus)}` and "
            "rebuild or remove it"
        )
    return info


def _why_incomplete(path: str) -> str:
    try:
        with _parquet(path) as parquet:
            missing = column_failures(parquet.schema_arrow)
    except (OSError, pa.ArrowException, ValueError):
        return "; it does not open as Parquet"
    if missing:
        return f"; columns missing or mistyped: {', '.join(missing)}"
    return "; its footer metadata is missing or counts other rows"  # written in part


def scan_corpus(
    corpus: str | Path,
    subtasks: Collection[str] | None = None,
    abilities: Collection[str] | None = None,
) -> CorpusScan:
    """The shards of `corpus` (a directory or an fsspec URL) under the filters, from their
    footers and `num_chunks` columns only: no audio is read."""
    corpus = str(corpus)
    shown = display_url(corpus)
    listed = _list_shards(corpus)
    if not listed:
        raise DataError(f"no shards under {shown}: build a corpus first with "
                        f"`streamaudio build --out {shown}`")
    kept = []
    for relative, path in listed:
        ability, subtask = relative.split("/")[-3:-1]
        if (subtasks is None or subtask in subtasks) and (
                abilities is None or ability in abilities):
            kept.append((path, ability, subtask))
    if not kept:
        present = sorted({relative.split("/")[-2] for relative, _ in listed})
        wanted = sorted(subtasks) if subtasks is not None else "any"
        allowed = sorted(abilities) if abilities is not None else "any"
        raise DataError(f"no shard under {shown} matches subtasks={wanted} abilities="
                        f"{allowed}; subtasks present: {', '.join(present)}")
    return CorpusScan(corpus, tuple(_shard_info(*item, corpus) for item in kept))


def identity(record: StreamRecord) -> StreamRecord:
    return record


@contextlib.contextmanager
def _parquet(path: str) -> Iterator[pq.ParquetFile]:
    if is_remote(path):
        with fsspec.open(path, "rb") as handle:
            yield pq.ParquetFile(handle)
    else:
        with pq.ParquetFile(path) as parquet:
            yield parquet


def read_row_group(path: str, row_group: int) -> pa.Table:
    """One row group of a shard: a single sequential read."""
    with _parquet(path) as parquet:
        return parquet.read_row_group(row_group)


def _where(scan: CorpusScan, ref: StreamRef) -> str:
    """The shard and the row's index in its file, as a user finds it."""
    shard = scan.shards[ref.shard]
    return f"{display_url(shard.path)} row {sum(shard.row_groups[: ref.row_group]) + ref.row}"


def _decode(scan: CorpusScan, ref: StreamRef, table: pa.Table) -> StreamRecord:
    row = table.slice(ref.row, 1).to_pylist()[0]  # decode only the rows needed
    try:
        return record_from_row(row)
    except Exception as error:  # soundfile and pyarrow raise their own types: all this row's
        raise DataError(f"{_where(scan, ref)} (stream {row.get('stream_id')}): {error}; run "
                        f"`streamaudio validate {display_url(scan.corpus)}` and rebuild or "
                        "remove the shard") from error


def read_streams(scan: CorpusScan, refs: Sequence[StreamRef]) -> list[StreamRecord]:
    """These rows, decoded, in this order (each row group read once)."""
    tables: dict[tuple[int, int], pa.Table] = {}
    records = []
    for ref in refs:
        key = (ref.shard, ref.row_group)
        if key not in tables:
            tables[key] = read_row_group(scan.shards[ref.shard].path, ref.row_group)
        records.append(_decode(scan, ref, tables[key]))
    return records


# a full row check decodes every stream's FLAC (~10 ms for 24 s of audio): on by default up
# to this many streams (about 10 s); a larger corpus gets the label columns checked only
FULL_CHECK_STREAMS = 1000


@dataclass(frozen=True)
class RowSize:
    ref: StreamRef
    chunks: int
    text_bytes: int  # instruction and responses in UTF-8: more text, more tokens


def check_rows(scan: CorpusScan, *, sample_rate: int, chunk_ms: int, max_chunks: int,
               full: bool | None = None) -> list[RowSize]:
    """Every row under `streamaudio validate`'s row rules (`validate.row_failures`): labels
    agree with the chunk count and carry text and an emotion where they respond, the row is
    chunked as the model's features are (`sample_rate`, `chunk_ms`), sits under its own
    ability/subtask, and no stream id repeats. `full` (default: corpora of at most
    FULL_CHECK_STREAMS streams) also decodes the audio and checks the plan; otherwise only
    the label columns are read, and a row whose audio does not decode stops the run, named,
    when the loader reaches it (`streamaudio validate` is the full check of a big corpus).
    One DataError for all failures; else each row's size, for the memory preflight."""
    full = scan.streams <= FULL_CHECK_STREAMS if full is None else full
    columns = None if full else [*LABEL_COLUMNS, "sample_rate", "chunk_ms", "instruction"]
    chunk_samples = sample_rate * chunk_ms // 1000
    failures: list[str] = []
    seen: dict[str, str] = {}
    sizes: list[RowSize] = []
    for index, shard in enumerate(scan.shards):
        with _parquet(shard.path) as parquet:
            for group in range(parquet.num_row_groups):
                rows = parquet.read_row_group(group, columns=columns).to_pylist()
                for number, row in enumerate(rows):
                    ref = StreamRef(index, group, number)
                    reasons = row_failures(row, chunk_samples=chunk_samples,
                                           sample_rate=sample_rate, max_chunks=max_chunks,
                                           ability=shard.ability, subtask=shard.subtask,
                                           full=full)
                    if (row["sample_rate"], row["chunk_ms"]) != (sample_rate, chunk_ms):
                        reasons.append(f"{row['chunk_ms']} ms chunks at {row['sample_rate']} "
                                       f"Hz, the model's features {chunk_ms} ms at "
                                       f"{sample_rate} Hz (model.features)")
                    sid = row["stream_id"]
                    if sid in seen:
                        reasons.append(f"stream id also in {seen[sid]}")
                    seen.setdefault(sid, display_url(shard.path))
                    failures += [f"{_where(scan, ref)} (stream {sid}): {reason}"
                                 for reason in reasons]
                    text = row["instruction"] + "".join(row["responses"])
                    sizes.append(RowSize(ref, row["num_chunks"], len(text.encode())))
    if failures:
        shown = "\n  ".join(failures[:5])
        more = f"\n  ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        raise DataError(f"{display_url(scan.corpus)}: {len(failures)} row failure(s) "
                        f"before training:\n  {shown}{more}\nrun `streamaudio validate "
                        f"{display_url(scan.corpus)}` for every failure, then rebuild or "
                        "remove the shard(s)")
    return sizes


class ShardStreams(IterableDataset[list[T]]):
    """Whole batches (`list[T]`, `transform` applied to each stream) of epoch
    `position.epoch` for this rank, from batch `position.batches` on (see the module
    docstring for the order). Use it through `make_loader`."""

    def __init__(
        self,
        scan: CorpusScan,
        *,
        batch_size: int,
        seed: int,
        transform: Callable[[StreamRecord], T] = identity,  # type: ignore[assignment]
        rank: int = 0,
        world_size: int = 1,
        position: DataPosition | None = None,
    ) -> None:
        if batch_size < 1 or seed < 0:
            raise ValueError(f"batch_size must be >= 1 and seed >= 0, got {batch_size}, {seed}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        if scan.units < world_size:
            raise DataError(
                f"world size {world_size} needs at least {world_size} row groups, but "
                f"{display_url(scan.corpus)} (after filters) has {scan.units}: use fewer "
                f"ranks, or more streams or smaller row groups (shards.row_group_streams)"
            )
        self.scan, self.batch_size, self.seed, self.transform = scan, batch_size, seed, transform
        self.rank, self.world_size = rank, world_size
        self._cached: tuple[int, list[list[StreamRef]]] | None = None
        self.set_position(position or DataPosition())

    def set_position(self, position: DataPosition) -> None:
        total = self.batches_per_epoch(position.epoch)
        if position.batches > total:  # another corpus, batch size or world size
            raise DataError(f"{position} is past the end of epoch {position.epoch}: rank "
                            f"{self.rank} has {total} batches; does the checkpoint belong "
                            f"to this corpus, batch size and world size?")
        self.position = position

    def epoch_batches(self, epoch: int) -> list[list[StreamRef]]:
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self._deal(epoch))
        return self._cached[1]

    def _deal(self, epoch: int) -> list[list[StreamRef]]:
        rng = np.random.default_rng([self.seed, epoch])
        units = [(s, g, n) for s, shard in enumerate(self.scan.shards)
                 for g, n in enumerate(shard.row_groups) if n > 0]
        loads = [0] * self.world_size
        mine: list[StreamRef] = []
        for index in rng.permutation(len(units)):
            shard, group, rows = units[index]
            order = rng.permutation(rows)  # drawn for every unit: the same draws on all ranks
            target = min(range(self.world_size), key=lambda r: (loads[r], r))
            loads[target] += rows
            if target == self.rank:
                mine += [StreamRef(shard, group, int(row)) for row in order]
        return [mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size)]

    def batches_per_epoch(self, epoch: int) -> int:
        return len(self.epoch_batches(epoch))

    def __len__(self) -> int:
        """Batches left in the current epoch from the current position."""
        return self.batches_per_epoch(self.position.epoch) - self.position.batches

    def __iter__(self) -> Iterator[list[T]]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        start = self.position.batches
        batches = self.epoch_batches(self.position.epoch)[start + worker :: workers]
        key: tuple[int, int] | None = None
        table: pa.Table | None = None
        for batch in batches:
            items = []
            for ref in batch:
                if key != (ref.shard, ref.row_group):  # at most the current row group cached
                    key = (ref.shard, ref.row_group)
                    table = read_row_group(self.scan.shards[ref.shard].path, ref.row_group)
                assert table is not None
                items.append(self.transform(_decode(self.scan, ref, table)))
            yield items


def make_loader(
    dataset: ShardStreams[T], num_workers: int, collate_fn: Callable[[list[T]], Any]
) -> DataLoader[Any]:
    """The loader the order is designed for: the dataset yields whole batches (batch_size
    None), and workers are not persistent, because a persistent worker keeps its copy of the
    dataset and would miss the next `set_position`."""
    return DataLoader(dataset, batch_size=None, num_workers=num_workers,
                      collate_fn=collate_fn, persistent_workers=False)
