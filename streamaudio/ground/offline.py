"""Offline grounding: bind each planned event to a catalog clip of its sound
class, lay the stream out in samples, and decide gains, bed and room. The
result is a GroundedPlan that renders without further randomness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamaudio.compose.labels import LabelConflict, derive_labels
from streamaudio.compose.mix import ProcessedClip
from streamaudio.compose.noise import unit_noise_lufs
from streamaudio.compose.timeline import Placement, SpanRequest, layout
from streamaudio.config import Config
from streamaudio.ground.store import CatalogClipStore
from streamaudio.schema import (
    BedLayer,
    ClipRef,
    Colour,
    EventPlan,
    GroundedEvent,
    GroundedPlan,
    ScenePlan,
)
from streamaudio.stage import Drop, Retry
from streamaudio.units import seconds_to_samples

CANDIDATES_PER_EVENT = 3  # the paper verifies the top 3 candidates
COLOURS: tuple[Colour, ...] = ("white", "pink", "brown")


@dataclass(frozen=True)
class _Bound:
    event: EventPlan
    clip: ProcessedClip
    ref: ClipRef
    loopable: bool
    candidates_tried: int


def _floor_to(value: int, step: int) -> int:
    return value - value % step


def _bind(
    event: EventPlan, store: CatalogClipStore, rng: np.random.Generator
) -> _Bound | Drop:
    entries = store.catalog.by_class(event.sound_class)
    if not entries:
        return Drop("no_clip_for_class", f"{event.event_id}: class {event.sound_class!r}")
    order = rng.permutation(len(entries))[:CANDIDATES_PER_EVENT]
    for tried, index in enumerate(order, start=1):
        entry = entries[int(index)]
        loaded = store.load(entry.id, "event")
        if isinstance(loaded, Drop):
            continue
        clip, ref = loaded
        return _Bound(event, clip, ref, entry.loopable, tried)
    return Drop("no_usable_clip", f"{event.event_id}: {len(order)} candidates of "
                f"{event.sound_class!r} failed to load")


def _turn_budget(turns: int, cfg: Config) -> int:
    """Longest a foreground turn may be so that every draw of gaps still fits."""
    rate, compose = cfg.audio.sample_rate, cfg.compose
    fixed = sum(seconds_to_samples(bounds[1], rate)
                for bounds in (compose.lead_in_s, compose.tail_s))
    gaps = seconds_to_samples(compose.gap_s[1], rate) * max(turns - 1, 0)
    free = cfg.audio.max_stream_samples - fixed - gaps
    return _floor_to(free // max(turns, 1), cfg.audio.grid_samples)


def _window(
    bound: _Bound, placement: Placement, rng: np.random.Generator
) -> tuple[int, int, int]:
    """Where in the processed clip the placed segment starts, and the core span
    relative to the segment."""
    clip = bound.clip
    size = clip.audio.size
    if placement.loop:
        return int(rng.integers(0, size)), 0, placement.length
    spare = size - placement.length
    if spare <= 0:
        return 0, clip.core_start, clip.core_end
    lead = int(rng.integers(0, min(spare, clip.core_start) + 1))
    offset = min(max(clip.core_start - lead, 0), spare)
    if bound.event.trigger and clip.core_end > offset + placement.length:
        offset = clip.core_end - placement.length  # a trigger keeps its core's end
    core_start = min(max(clip.core_start - offset, 0), placement.length - 1)
    core_end = max(min(clip.core_end - offset, placement.length), core_start + 1)
    return offset, core_start, core_end


def _role_gain(event: EventPlan, clip: ProcessedClip, rng: np.random.Generator,
               cfg: Config) -> float:
    compose = cfg.compose
    target = compose.foreground_lufs + getattr(compose.role_gain_db, event.role)
    target += float(rng.uniform(-compose.level_jitter_db, compose.level_jitter_db))
    return round(min(target - clip.lufs, compose.max_gain_db), 3)


def _bed(
    bed_classes: list[str], num_samples: int, store: CatalogClipStore,
    rng: np.random.Generator, cfg: Config,
) -> list[BedLayer] | Drop:
    compose = cfg.compose
    layers: list[BedLayer] = []
    candidates = [entry for cls in bed_classes for entry in store.catalog.by_class(cls)]
    for index in rng.permutation(len(candidates))[:CANDIDATES_PER_EVENT]:
        loaded = store.load(candidates[int(index)].id, "bed")
        if isinstance(loaded, Drop):
            continue
        clip, ref = loaded
        level = compose.bed_lufs + float(rng.uniform(-3.0, 3.0))
        layers.append(BedLayer(
            kind="clip", clip=ref, clip_offset=int(rng.integers(0, clip.audio.size)),
            gain_db=round(min(level - clip.lufs, compose.max_gain_db), 3),
        ))
        break
    if bed_classes and not layers:
        return Drop("no_bed_clip", f"no loadable ambience among {bed_classes}")
    colour = COLOURS[int(rng.integers(0, len(COLOURS)))]
    level = float(rng.uniform(*compose.coloured_noise_lufs))
    layers.append(BedLayer(
        kind="coloured", colour=colour, noise_seed=int(rng.integers(0, 2**31 - 1)),
        gain_db=round(level - unit_noise_lufs(colour, cfg.audio.sample_rate), 3),
    ))
    return layers


def ground_scene(
    scene: ScenePlan, bed_classes: list[str], store: CatalogClipStore, cfg: Config
) -> GroundedPlan | Drop | Retry:
    rng = np.random.default_rng([scene.seed, 1])  # grounding's own stream of draws
    grid = cfg.audio.grid_samples
    max_event = _floor_to(seconds_to_samples(cfg.compose.max_event_s, cfg.audio.sample_rate), grid)
    bound: list[_Bound] = []
    for event in scene.events:
        result = _bind(event, store, rng)
        if isinstance(result, Drop):
            return result
        bound.append(result)

    turn_budget = _turn_budget(sum(e.role == "foreground" for e in scene.events), cfg)
    if turn_budget < grid:
        return Drop("too_many_turns", f"{len(scene.events)} events cannot fit one stream")
    requests = [
        SpanRequest(b.event.event_id, b.event.role,
                    max(grid, min(_floor_to(b.clip.audio.size, grid), max_event,
                                  turn_budget if b.event.role == "foreground" else max_event)),
                    b.loopable and b.event.role != "foreground")
        for b in bound
    ]
    placed = layout(requests, rng, cfg)
    if isinstance(placed, Retry):
        return placed
    placements, num_samples = placed

    rir_ids = sorted(store.rirs)
    room: ClipRef | None = None
    if rir_ids and rng.uniform() < cfg.compose.rir_probability:
        loaded = store.load(rir_ids[int(rng.integers(0, len(rir_ids)))], "rir")
        room = None if isinstance(loaded, Drop) else loaded[1]

    grounded: list[GroundedEvent] = []
    for b, placement in zip(bound, placements, strict=True):
        offset, core_start, core_end = _window(b, placement, rng)
        grounded.append(GroundedEvent(
            event_id=b.event.event_id, clip=b.ref, clip_offset=offset,
            length=placement.length, onset=placement.onset,
            core_start=core_start, core_end=core_end,
            gain_db=_role_gain(b.event, b.clip, rng, cfg), loop=placement.loop,
            rir=room if b.event.role == "foreground" else None,
            evidence={"selection": "offline_class", "candidates_tried": b.candidates_tried,
                      "clip_lufs": round(b.clip.lufs, 3),
                      "tfjp_snr_db": round(b.clip.snr_db, 3) if np.isfinite(b.clip.snr_db)
                      else "n/a"},
        ))
    bed = _bed(bed_classes, num_samples, store, rng, cfg)
    if isinstance(bed, Drop):
        return bed
    plan = GroundedPlan(scene=scene, sample_rate=cfg.audio.sample_rate,
                        num_samples=num_samples, events=grounded, bed=bed)
    try:
        derive_labels(plan, cfg.audio.chunk_samples)
    except LabelConflict as conflict:
        return Retry("label_conflict", str(conflict))
    return plan
