"""Grounding one scene: bind each planned event to a clip (speech through the
TTS round trip, sounds through one retriever: by class, ground/by_class.py, or by
embedding, ground/retrieval.py), lay the stream out in samples, and decide gains,
bed and room. The result is a GroundedPlan that renders without further
randomness, with the labels it was checked against."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamaudio.compose.labels import LabelConflict, derive_labels
from streamaudio.compose.timeline import Placement, SpanRequest, layout, longest_silences
from streamaudio.config import Config
from streamaudio.generate.store import GeneratorChain
from streamaudio.ground.bed import draw_bed
from streamaudio.ground.by_class import ClassRetriever
from streamaudio.ground.evidence import (
    NO_CLIP_BED,
    bed_features,
    continuity_evidence,
    duration_evidence,
)
from streamaudio.ground.retriever import NEIGHBOURS, SoundRetriever, clip_features
from streamaudio.ground.store import CatalogClipStore
from streamaudio.ground.types import Chosen, Evidence, ProcessedClip, SpokenClip
from streamaudio.schema import (
    BedLayer,
    ChunkLabels,
    ClipRef,
    EventPlan,
    GroundedEvent,
    GroundedPlan,
    ScenePlan,
    WordSpan,
)
from streamaudio.stage import Drop, Retry
from streamaudio.units import seconds_to_samples


class SpeechSource(Protocol):
    def utterance(self, event: EventPlan) -> SpokenClip | Drop: ...


@dataclass(frozen=True)
class _Bound:
    event: EventPlan
    clip: ProcessedClip
    ref: ClipRef
    loopable: bool
    evidence: Evidence
    words: tuple[WordSpan, ...] = ()


def _floor_to(value: int, step: int) -> int:
    return value - value % step


def _bind(event: EventPlan, speech: SpeechSource | None, retriever: SoundRetriever,
          sounds: list[Chosen], rng: np.random.Generator, stats: Counter[str]
          ) -> _Bound | Drop:
    """`sounds`: the scene's sound events bound so far; a bound sound is appended."""
    if event.kind == "speech":
        if speech is None:
            return Drop("no_speech_source", f"{event.event_id}: speech is not set up")
        spoken = speech.utterance(event)
        if isinstance(spoken, Drop):
            return spoken
        return _Bound(event, spoken.clip, spoken.ref, False, spoken.evidence, spoken.words)
    stats["sound_events"] += 1
    chosen = retriever.bind(event, sounds, rng, stats)
    if isinstance(chosen, Drop):
        return chosen
    sounds.append(chosen)
    return _Bound(event, chosen.clip, chosen.ref, chosen.loopable, chosen.evidence)


def _fit_lengths(bound: list[_Bound], cfg: Config) -> list[int] | Retry:
    """Samples to place per event, so that every draw of gaps still fits the
    stream: speech is never cut; foreground sounds share what speech leaves."""
    rate, compose, grid = cfg.audio.sample_rate, cfg.compose, cfg.audio.grid_samples
    max_event = _floor_to(seconds_to_samples(compose.max_event_s, rate), grid)
    foreground = [b for b in bound if b.event.role == "foreground"]
    # the layout's silences at their longest: whatever it draws, the turns still fit
    fixed = longest_silences([b.event.continues_turn for b in foreground], cfg)
    free = cfg.audio.max_stream_samples - fixed
    speech = sum(b.clip.audio.size for b in foreground if b.event.kind == "speech")
    sounds = [b for b in foreground if b.event.kind != "speech"]
    if speech > free:
        return Retry("speech_too_long", f"{speech} samples of speech, {free} free")
    per_sound = _floor_to((free - speech) // max(len(sounds), 1), grid)
    if sounds and per_sound < grid:
        return Retry("scene_too_long", f"{len(sounds)} sounds share {free - speech} samples")
    lengths = []
    for b in bound:
        size = b.clip.audio.size
        if b.event.kind == "speech":
            lengths.append(size)
        else:
            cap = per_sound if b.event.role == "foreground" else max_event
            # a clip under one grid step is placed whole: TFJP snaps every clip to the
            # grid, but with tfjp.enabled=false a 130 ms click stays 130 ms
            lengths.append(min(size, max(grid, min(_floor_to(size, grid), max_event, cap))))
    return lengths


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


def _criteria_evidence(bound: list[_Bound], placements: list[Placement], chosen: list[Chosen],
                       bed: list[BedLayer], store: CatalogClipStore, cfg: Config
                       ) -> list[Evidence]:
    """Each event's evidence, a sound's with its duration fit against its slot and its
    continuity with the sound events before it (the first: with the bed)."""
    rate = cfg.audio.sample_rate
    features = [clip_features(c, rate) for c in chosen]  # chosen: the sounds, in plan order
    evidence: list[Evidence] = []
    sound = 0
    for b, placement in zip(bound, placements, strict=True):
        if b.event.kind == "speech":
            evidence.append(b.evidence)
            continue
        scored = b.evidence | duration_evidence(b.event, b.clip, placement, cfg)
        if sound:
            before = features[max(0, sound - NEIGHBOURS):sound]
            scored |= continuity_evidence(features[sound], before, "previous_events", cfg)
        else:
            ambience = bed_features(bed, store)
            scored |= ({"continuity": NO_CLIP_BED} if ambience is None else
                       continuity_evidence(features[0], [ambience], "bed", cfg))
        evidence.append(scored)
        sound += 1
    return evidence


def ground_scene(
    scene: ScenePlan, bed_classes: list[str], store: CatalogClipStore, cfg: Config,
    speech: SpeechSource | None = None,
    stats: Counter[str] | None = None,
    retriever: SoundRetriever | None = None,
    generators: GeneratorChain | None = None,
) -> GroundedPlan | Drop | Retry:
    """`retriever` binds the sound events (None: by class, with `generators` making
    classes with no installed clip; None: the configured chain)."""
    grounded = ground_scene_labelled(scene, bed_classes, store, cfg, speech, stats, retriever,
                                     generators)
    return grounded if isinstance(grounded, Drop | Retry) else grounded[0]


def ground_scene_labelled(
    scene: ScenePlan, bed_classes: list[str], store: CatalogClipStore, cfg: Config,
    speech: SpeechSource | None = None,
    stats: Counter[str] | None = None,
    retriever: SoundRetriever | None = None,
    generators: GeneratorChain | None = None,
) -> tuple[GroundedPlan, ChunkLabels] | Drop | Retry:
    """`ground_scene`, with the chunk labels the plan was checked against: the one
    place a built stream's labels are derived (rendering reuses them)."""
    rng = np.random.default_rng([scene.seed, 1])  # grounding's own stream of draws
    sounds = retriever if retriever is not None else ClassRetriever(store, generators)
    bound: list[_Bound] = []
    chosen: list[Chosen] = []
    counts = stats if stats is not None else Counter()
    for event in scene.events:
        result = _bind(event, speech, sounds, chosen, rng, counts)
        if isinstance(result, Drop):
            return result
        bound.append(result)

    lengths = _fit_lengths(bound, cfg)
    if isinstance(lengths, Retry):
        return lengths
    requests = [
        SpanRequest(b.event.event_id, b.event.role, length,
                    b.loopable and b.event.role != "foreground", b.event.continues_turn)
        for b, length in zip(bound, lengths, strict=True)
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
            words=[w.model_copy(update={"start": w.start - offset, "end": w.end - offset})
                   for w in b.words],
            evidence=b.evidence,
        ))
    bed = draw_bed(bed_classes, store, rng, cfg, scene.bed_offset_db)
    if isinstance(bed, Drop):
        return bed
    # after every draw: these scores are evidence and must not move the draws
    evidence = _criteria_evidence(bound, placements, chosen, bed, store, cfg)
    grounded = [event.model_copy(update={"evidence": scored})
                for event, scored in zip(grounded, evidence, strict=True)]
    plan = GroundedPlan(scene=scene, sample_rate=cfg.audio.sample_rate,
                        num_samples=num_samples, events=grounded, bed=bed)
    try:
        labels = derive_labels(plan, cfg.audio.chunk_samples)
    except LabelConflict as conflict:
        return Retry("label_conflict", str(conflict))
    return plan, labels
