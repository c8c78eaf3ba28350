"""The numbers behind the inspection views, from records, their plans and the
manifest. No plotting here, so everything is testable on its own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.schema import EventRow
from streamaudio.shards.reader import StreamRecord, iter_streams

ROLES = ("foreground", "background", "ambient")


@dataclass(frozen=True)
class ChunkResponse:
    index: int
    start_s: float
    end_s: float
    response: str
    emotion: str


@dataclass(frozen=True)
class Lane:
    """Where an event is drawn: its role's band, and a row in it so overlapping
    events of one role do not hide each other."""

    event: EventRow
    row: int
    room_s: float  # until the next event in the same row (or the stream's end)


@dataclass(frozen=True)
class SubtaskRow:
    ability: str
    subtask: str
    streams: int
    seconds: float
    response_chunks: int
    response_share: float
    verified_silent: int
    retried: int  # failed attempts that a later attempt replaced
    dropped: int  # streams given up on


@dataclass
class CorpusStats:
    """Per-stream numbers for the histograms, gathered in one pass without
    keeping any audio."""

    seconds: list[float] = field(default_factory=list)
    density: list[float] = field(default_factory=list)  # response chunks per minute
    wer: list[float] = field(default_factory=list)  # speech events' TTS round trip
    identity: dict[str, list[float]] = field(default_factory=dict)  # by selection

    def add(self, record: StreamRecord) -> None:
        self.seconds.append(stream_seconds(record))
        self.density.append(response_density(record))
        self.wer.extend(speech_wers(record))
        for selection, score in identity_scores(record):
            self.identity.setdefault(selection, []).append(score)


def corpus_stats(records: Iterable[StreamRecord]) -> CorpusStats:
    stats = CorpusStats()
    for record in records:
        stats.add(record)
    return stats


def stream_seconds(record: StreamRecord) -> float:
    return record.num_samples / record.sample_rate


def response_density(record: StreamRecord) -> float:
    return float(record.decisions.sum()) / (stream_seconds(record) / 60)


def response_chunks(record: StreamRecord) -> list[ChunkResponse]:
    chunk_s = record.chunk_ms / 1000
    return [
        ChunkResponse(
            int(i), i * chunk_s, (i + 1) * chunk_s, record.responses[i], record.emotions[i]
        )
        for i in np.flatnonzero(record.decisions)
    ]


def speech_wers(record: StreamRecord) -> list[float]:
    plan = record.grounded_plan()
    return [
        float(event.evidence["wer"])
        for event in plan.events
        if plan.event_plan(event.event_id).kind == "speech" and "wer" in event.evidence
    ]


def identity_scores(record: StreamRecord) -> list[tuple[str, float]]:
    """(selection, identity) of every sound grounded by retrieval or generation;
    class-mode grounding has no identity score."""
    return [
        (str(event.evidence.get("selection", "")), float(event.evidence["identity"]))
        for event in record.grounded_plan().events
        if "identity" in event.evidence
    ]


def event_lanes(record: StreamRecord) -> list[Lane]:
    """Greedy interval packing per role: an event takes the first row whose last
    event has ended."""
    end = stream_seconds(record)
    lanes: list[Lane] = []
    for role in ROLES:
        rows: list[list[EventRow]] = []
        for event in sorted((e for e in record.events if e.role == role), key=lambda e: e.onset_s):
            row = next((r for r in rows if r[-1].offset_s <= event.onset_s), None)
            if row is None:
                rows.append(row := [])
            row.append(event)
        for index, row in enumerate(rows):
            starts = [event.onset_s for event in row[1:]] + [end]
            lanes += [
                Lane(e, index, start - e.onset_s) for e, start in zip(row, starts, strict=True)
            ]
    return lanes


def log_spectrogram(
    audio: np.ndarray, rate: int, n_fft: int = 512, hop: int = 160, floor_db: float = 80.0
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Power in dB (freq x time, floored `floor_db` below the peak) and the
    imshow extent (t0, t1, f0, f1) in seconds and Hz."""
    from scipy.signal import ShortTimeFFT  # here: ~2 s to import
    from scipy.signal.windows import hann

    stft = ShortTimeFFT(hann(n_fft, sym=False), hop, rate, scale_to="magnitude")
    power = stft.spectrogram(audio.astype(np.float64))
    db = 10 * np.log10(np.maximum(power, 1e-12))
    return np.maximum(db, db.max() - floor_db), stft.extent(audio.size)


def short(text: str, width: int = 36) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def subtask_rows(manifest: dict[str, Any]) -> list[SubtaskRow]:
    rows = []
    for name, stats in manifest["subtasks"].items():
        drops = stats["drops"]
        retried = sum(n for reason, n in drops.items() if reason.startswith("attempt:"))
        rows.append(
            SubtaskRow(
                stats["ability"],
                name,
                stats["streams"],
                stats["seconds"],
                stats["response_chunks"],
                stats["response_share"],
                stats["verified_silent_streams"],
                retried,
                sum(drops.values()) - retried,
            )
        )
    return sorted(rows, key=lambda row: (row.ability, row.subtask))


def drop_counts(manifest: dict[str, Any]) -> dict[str, int]:
    """Every reason something was refused: failed stream attempts, streams given
    up on, and quarantined clips."""
    counts: dict[str, int] = {}
    for reason, n in manifest.get("drops", {}).items():
        if reason.startswith("attempt:"):
            counts[f"attempt: {reason.removeprefix('attempt:')}"] = n
        else:
            counts[f"stream: {reason}"] = n
    for reason, n in sorted(manifest.get("quarantined_clips", {}).items()):
        counts[f"clip: {reason}"] = n
    return counts


def pick_streams(records: Iterable[StreamRecord], limit: int) -> list[StreamRecord]:
    """Up to `limit` streams spread over the subtasks in turn, the ones with a
    response first within a subtask (a silent stream shows less). Keeps at most
    `limit` records per subtask in memory."""
    pools: dict[str, list[StreamRecord]] = {}
    for record in records:
        pool = pools.setdefault(record.subtask, [])
        pool.append(record)
        pool.sort(key=lambda r: not r.decisions.any())  # stable: order kept otherwise
        del pool[limit:]
    spread = [r for turn in zip_longest(*pools.values()) for r in turn if r is not None]
    return spread[:limit]


def scan_corpus(root: Path, limit: int) -> tuple[CorpusStats, list[StreamRecord]]:
    """One pass over the shards: the histogram numbers and the streams to show."""
    stats = CorpusStats()

    def counted() -> Iterator[StreamRecord]:
        for record in iter_streams(root):
            stats.add(record)
            yield record

    shown = pick_streams(counted(), limit)
    return stats, shown


def find_stream(root: Path, stream_id: str) -> StreamRecord | None:
    subtask = stream_id.rsplit("-s", 1)[0]  # ids are <subtask>-s<seed>-<index>
    return next((r for r in iter_streams(root, subtask=subtask) if r.stream_id == stream_id), None)
