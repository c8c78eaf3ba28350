"""`streamaudio validate DIR`: check every invariant of every row and report a
reason per failing row. Reads shards with pyarrow + soundfile only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from streamaudio.compose.labels import LabelConflict, derive_labels, verified_silent_chunks
from streamaudio.schema import EMOTIONS, MIN_HISTORY_TURNS, GroundedPlan
from streamaudio.shards.layout import CONFIG_FILE
from streamaudio.shards.reader import decode_flac, list_shards
from streamaudio.shards.writer import SHARD_SCHEMA, shard_is_complete
from streamaudio.units import ceil_div


@dataclass(frozen=True)
class Failure:
    where: str  # shard path relative to the corpus
    stream_id: str  # "" for shard-level failures
    reason: str

    def __str__(self) -> str:
        return f"{self.where} {self.stream_id or '-'}: {self.reason}"


# what `row_failures(..., full=False)` reads: no audio bytes, no plan JSON
LABEL_COLUMNS: tuple[str, ...] = ("stream_id", "ability", "subtask", "num_samples",
                                  "num_chunks", "decisions", "responses", "emotions",
                                  "verified_silent")


def column_failures(schema: pa.Schema) -> list[str]:
    """The shard columns `schema` lacks or holds with another type."""
    return [f.name for f in SHARD_SCHEMA if f.name not in schema.names
            or not schema.field(f.name).type.equals(f.type)]


def row_failures(row: dict, *, chunk_samples: int, sample_rate: int, max_chunks: int,
                 ability: str, subtask: str, full: bool = True) -> list[str]:
    """Why one row (of the shard under `ability/subtask/`) breaks the invariants it holds on
    its own; the corpus-wide ones (config hash, duplicate ids) are the caller's. `full=False`
    checks the LABEL_COLUMNS only: no audio decoded, no plan parsed."""
    reasons = list(_label_failures(row, chunk_samples, max_chunks))
    if full:
        reasons += _audio_failures(row, sample_rate)
        reasons += _plan_failures(row, chunk_samples)
    if (row["ability"], row["subtask"]) != (ability, subtask):
        reasons.append(f"row is {row['ability']}/{row['subtask']}, shard path "
                       f"{ability}/{subtask}")
    return reasons


def _label_failures(row: dict, chunk_samples: int, max_chunks: int) -> Iterator[str]:
    num_chunks = ceil_div(row["num_samples"], chunk_samples)
    if row["num_chunks"] != num_chunks:
        yield f"num_chunks {row['num_chunks']} != ceil({row['num_samples']}/{chunk_samples})"
    if num_chunks > max_chunks:
        yield f"{num_chunks} chunks > {max_chunks}"
    for name in ("decisions", "responses", "emotions"):
        if len(row[name]) != row["num_chunks"]:
            yield f"{name} has {len(row[name])} entries for {row['num_chunks']} chunks"
    for index, (decision, text, emotion) in enumerate(
        zip(row["decisions"], row["responses"], row["emotions"], strict=False)
    ):
        if decision == 0 and (text or emotion):
            yield f"chunk {index}: silent chunk carries text or emotion"
        elif decision == 1 and (not text.strip() or emotion not in EMOTIONS):
            yield f"chunk {index}: response needs text and an emotion of {EMOTIONS}"
        elif decision not in (0, 1):
            yield f"chunk {index}: decision {decision} is neither 0 nor 1"
    if row["verified_silent"] and any(row["decisions"]):
        yield "verified-silent stream has a response chunk"


def _audio_failures(row: dict, sample_rate: int) -> Iterator[str]:
    try:
        audio, rate = decode_flac(row["audio"]["bytes"])
    except Exception as error:  # any decoder error is a finding, not a crash
        yield f"audio does not decode: {error}"
        return
    if rate != sample_rate or row["sample_rate"] != sample_rate:
        yield f"sample rate {rate}/{row['sample_rate']} != {sample_rate}"
    if audio.ndim != 1:
        yield "audio is not mono"
    elif audio.size != row["num_samples"]:
        yield f"audio has {audio.size} samples, row says {row['num_samples']}"
    if not np.all(np.isfinite(audio)):
        yield "audio has non-finite samples"


def _plan_failures(row: dict, chunk_samples: int) -> Iterator[str]:
    try:
        plan = GroundedPlan.model_validate_json(row["plan"])
    except ValueError as error:
        yield f"plan does not parse: {str(error).splitlines()[0]}"
        return
    scene = plan.scene
    if (scene.stream_id, scene.ability, scene.subtask) != (
        row["stream_id"], row["ability"], row["subtask"]):
        yield "plan names another stream, ability or subtask"
    if plan.num_samples != row["num_samples"]:
        yield f"plan has {plan.num_samples} samples, row {row['num_samples']}"
    if scene.instruction != row["instruction"]:
        yield "instruction differs from the plan's"
    try:
        labels = derive_labels(plan, chunk_samples)
    except LabelConflict as conflict:
        yield f"plan labels conflict: {conflict}"
        return
    if (labels.decisions, labels.responses, labels.emotions) != (
        list(row["decisions"]), list(row["responses"]), list(row["emotions"])):
        yield "labels differ from those derived from the plan"
    yield from _silence_failures(plan, list(row["decisions"]), chunk_samples)
    yield from _history_failures(plan)
    duration = row["num_samples"] / row["sample_rate"]
    for event in row["events"]:
        if not 0 <= event["onset_s"] < event["offset_s"] <= duration + 1e-6:
            yield f"event {event['clip_id']} at {event['onset_s']}-{event['offset_s']} s " \
                  f"outside 0-{duration:.3f} s"
    if len(row["events"]) != len(plan.events):
        yield f"{len(row['events'])} event rows for {len(plan.events)} planned events"


def _silence_failures(plan: GroundedPlan, decisions: list[int],
                      chunk_samples: int) -> Iterator[str]:
    """No response chunk starts inside a verified-silent span."""
    responding = [c for c in verified_silent_chunks(plan, chunk_samples)
                  if c < len(decisions) and decisions[c]]
    if responding:
        yield f"response chunk(s) {responding} inside a verified-silent span"


def _history_failures(plan: GroundedPlan) -> Iterator[str]:
    """A history-review response recalls a turn at least MIN_HISTORY_TURNS back."""
    onsets = {event.event_id: event.onset for event in plan.events}
    turns = sorted((e for e in plan.scene.foreground_turns() if e.kind == "speech"),
                   key=lambda e: onsets[e.event_id])
    order = {event.event_id: index for index, event in enumerate(turns)}
    for event in turns:
        if not event.recalls:
            continue
        if event.recalls not in order:
            yield f"event {event.event_id} recalls {event.recalls!r}, not a spoken turn"
            continue
        distance = order[event.event_id] - order[event.recalls]
        if distance < MIN_HISTORY_TURNS:
            yield f"event {event.event_id} recalls a turn {distance} back " \
                  f"(< {MIN_HISTORY_TURNS})"


def validate_corpus(root: Path) -> tuple[int, list[Failure]]:
    """(rows checked, failures). A corpus with no shards is a failure too."""
    root = Path(root)
    failures: list[Failure] = []
    config_path = root / CONFIG_FILE
    if not config_path.exists():
        return 0, [Failure(CONFIG_FILE, "", "missing: not a StreamAudio corpus")]
    saved = yaml.safe_load(config_path.read_text())
    config_hash = saved["config_hash"]
    audio = saved["audio"]
    sample_rate, chunk_ms = audio["sample_rate"], audio["chunk_ms"]
    chunk_samples = sample_rate * chunk_ms // 1000
    shards = list_shards(root)
    if not shards:
        failures.append(Failure(".", "", "no shards"))
    seen: dict[str, str] = {}
    checked = 0
    for path in shards:
        where = path.relative_to(root).as_posix()
        if not shard_is_complete(path):
            failures.append(Failure(where, "", "incomplete or unreadable shard"))
            continue
        missing = column_failures(pq.read_schema(path))
        if missing:
            failures.append(Failure(where, "", f"columns missing or mistyped: {missing}"))
            continue
        ability, subtask = path.parent.parent.name, path.parent.name
        for row in pq.read_table(path).to_pylist():
            checked += 1
            reasons = row_failures(row, chunk_samples=chunk_samples, sample_rate=sample_rate,
                                   max_chunks=audio["max_chunks"], ability=ability,
                                   subtask=subtask)
            if row["config_hash"] != config_hash:
                reasons.append(f"config_hash {row['config_hash']} != corpus {config_hash}")
            if row["chunk_ms"] != chunk_ms:
                reasons.append(f"chunk_ms {row['chunk_ms']} != {chunk_ms}")
            if row["stream_id"] in seen:
                reasons.append(f"duplicate stream_id (also in {seen[row['stream_id']]})")
            seen[row["stream_id"]] = where
            failures += [Failure(where, row["stream_id"], reason) for reason in reasons]
    return checked, failures

