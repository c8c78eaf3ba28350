"""Offline grounding: bind each planned event to a catalog clip of its sound
class, lay the stream out in samples, and decide gains, bed and room. The
result is a GroundedPlan that renders without further randomness.

A class with no installed clip (doorbells, knocks and appliance beeps have no
recording here) is made by the generator chain from the event's fallback caption
and checked like a retrieved candidate: cleanliness, duration fit and continuity
with the events before it. Identity is not scored by class: no text embedding is
loaded, and the synth refuses any caption it has no recipe for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from streamaudio.compose.labels import LabelConflict, derive_labels
from streamaudio.compose.mix import ProcessedClip
from streamaudio.compose.noise import unit_noise_lufs
from streamaudio.compose.timeline import Placement, SpanRequest, layout
from streamaudio.config import Config
from streamaudio.dsp.tfjp import run_tfjp
from streamaudio.generate.store import GeneratorChain
from streamaudio.ground.generated import admit_generated
from streamaudio.ground.store import CatalogClipStore
from streamaudio.profile import timed
from streamaudio.retrieve.index import Candidate
from streamaudio.retrieve.verify import ClipFeatures, features, verify
from streamaudio.schema import (
    BedLayer,
    ClipRef,
    Colour,
    EventPlan,
    GroundedEvent,
    GroundedPlan,
    ScenePlan,
    WordSpan,
)
from streamaudio.stage import Drop, Retry
from streamaudio.units import seconds_to_samples

if TYPE_CHECKING:
    from streamaudio.ground.retrieval import Chosen

CANDIDATES_PER_EVENT = 3  # the paper verifies the top 3 candidates
GENERATED_S = 2.0  # a generated event's length when the plan gives none (as retrieval)
NEIGHBOURS = 2  # continuity is checked against the sound events placed just before
COLOURS: tuple[Colour, ...] = ("white", "pink", "brown")


@dataclass(frozen=True)
class SpokenClip:
    """A speech event's utterance, ready to place: audio after TFJP, the words of
    its text timed by the ASR round trip (relative to the audio), and evidence."""

    clip: ProcessedClip
    ref: ClipRef
    words: tuple[WordSpan, ...]
    evidence: dict[str, float | int | str]


class SpeechSource(Protocol):
    def utterance(self, event: EventPlan, rng: np.random.Generator) -> SpokenClip | Drop: ...


@dataclass(frozen=True)
class _Bound:
    event: EventPlan
    clip: ProcessedClip
    ref: ClipRef
    loopable: bool
    evidence: dict[str, float | int | str]
    words: tuple[WordSpan, ...] = ()


def _floor_to(value: int, step: int) -> int:
    return value - value % step


class SoundRetriever(Protocol):
    def bind(self, event: EventPlan, neighbours: list[ClipFeatures], seed: int,
             stats: Counter[str]) -> Chosen | Drop: ...


def _generate(event: EventPlan, store: CatalogClipStore, cfg: Config, seed: int,
              stats: Counter[str], before: list[_Bound],
              generators: GeneratorChain | None) -> _Bound | Drop:
    """A clip of a class with no installed recording, from the generator chain,
    kept only if it passes verification (identity aside: see the module doc)."""
    if store.generated is None:
        return Drop("no_clip_for_class", f"{event.event_id}: class {event.sound_class!r} "
                    "(and no store for generated clips)")
    chain = generators if generators is not None else GeneratorChain(cfg)
    with timed("generation"):
        made = chain.generate(event.fallback_caption, event.duration_s or GENERATED_S, seed,
                              event.caption)
    if isinstance(made, Drop):
        return Drop("no_clip_for_class", f"{event.event_id}: class {event.sound_class!r}; "
                    f"{made.detail}")
    rate = cfg.audio.sample_rate
    try:
        result = run_tfjp(made.audio, rate, cfg.tfjp, cfg.audio.grid_samples)
    except ValueError as error:
        return Drop("generated_rejected", f"{event.event_id}: {error}")
    # neighbours measured on their processed clips (class mode keeps no raw audio)
    near = [features(b.clip.audio, rate) for b in before if b.event.kind != "speech"]
    verdict = verify(Candidate(made.clip_id, float("nan"), 0), made.audio, result,
                     event.duration_s, False, near[-NEIGHBOURS:], cfg)
    failed = [name for name in verdict.failed_criteria() if name != "identity"]
    admitted = admit_generated(event.event_id, made, result, failed, store, rate, stats)
    if isinstance(admitted, Drop):
        return admitted
    clip, ref = admitted
    evidence: dict[str, float | int | str] = {
        "selection": f"generated:{made.backend}", "prompt": made.prompt,
        "generator": made.version, "generation_seed": made.seed, "identity": "by_class",
        "clip_lufs": round(clip.lufs, 3),
        "tfjp_snr_db": round(clip.snr_db, 3) if np.isfinite(clip.snr_db) else "n/a"}
    return _Bound(event, clip, ref, False, evidence)


def _bind(
    event: EventPlan, store: CatalogClipStore, speech: SpeechSource | None,
    rng: np.random.Generator, stats: Counter[str],
    retriever: SoundRetriever | None = None, neighbours: list[ClipFeatures] | None = None,
    before: list[_Bound] | None = None, generators: GeneratorChain | None = None,
) -> _Bound | Drop:
    if event.kind == "speech":
        if speech is None:
            return Drop("no_speech_source", f"{event.event_id}: speech is not set up")
        spoken = speech.utterance(event, rng)
        if isinstance(spoken, Drop):
            return spoken
        return _Bound(event, spoken.clip, spoken.ref, False, spoken.evidence, spoken.words)
    stats["sound_events"] += 1
    if retriever is not None:
        chosen = retriever.bind(event, neighbours or [], int(rng.integers(0, 2**31 - 1)), stats)
        if isinstance(chosen, Drop):
            return chosen
        if neighbours is not None:
            neighbours.append(chosen.features)
        return _Bound(event, chosen.clip, chosen.ref, chosen.loopable, chosen.evidence)
    entries = store.catalog.by_class(event.sound_class)
    if not entries:
        return _generate(event, store, store.cfg, int(rng.integers(0, 2**31 - 1)), stats,
                         before or [], generators)
    order = rng.permutation(len(entries))[:CANDIDATES_PER_EVENT]
    for tried, index in enumerate(order, start=1):
        entry = entries[int(index)]
        loaded = store.load(entry.id, "event")
        if isinstance(loaded, Drop):
            continue
        clip, ref = loaded
        evidence: dict[str, float | int | str] = {
            "selection": "offline_class", "candidates_tried": tried,
            "clip_lufs": round(clip.lufs, 3),
            "tfjp_snr_db": round(clip.snr_db, 3) if np.isfinite(clip.snr_db) else "n/a"}
        stats["retrieved"] += 1
        return _Bound(event, clip, ref, entry.loopable, evidence)
    return Drop("no_usable_clip", f"{event.event_id}: {len(order)} candidates of "
                f"{event.sound_class!r} failed to load")


def _fit_lengths(bound: list[_Bound], cfg: Config) -> list[int] | Retry:
    """Samples to place per event, so that every draw of gaps still fits the
    stream: speech is never cut; foreground sounds share what speech leaves."""
    rate, compose, grid = cfg.audio.sample_rate, cfg.compose, cfg.audio.grid_samples
    max_event = _floor_to(seconds_to_samples(compose.max_event_s, rate), grid)
    foreground = [b for b in bound if b.event.role == "foreground"]
    fixed = seconds_to_samples(compose.lead_in_s[1], rate)
    fixed += seconds_to_samples(compose.tail_s[1], rate)
    fixed += sum(seconds_to_samples((compose.pause_s if b.event.continues_turn
                                     else compose.gap_s)[1], rate) for b in foreground[1:])
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
            lengths.append(max(grid, min(_floor_to(size, grid), max_event, cap)))
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


def _bed(
    bed_classes: list[str], store: CatalogClipStore, rng: np.random.Generator, cfg: Config,
    offset_db: float,
) -> list[BedLayer] | Drop:
    compose = cfg.compose
    layers: list[BedLayer] = []
    candidates = [entry for cls in bed_classes for entry in store.catalog.by_class(cls)]
    for index in rng.permutation(len(candidates))[:CANDIDATES_PER_EVENT]:
        loaded = store.load(candidates[int(index)].id, "bed")
        if isinstance(loaded, Drop):
            continue
        clip, ref = loaded
        level = compose.bed_lufs + offset_db + float(rng.uniform(-3.0, 3.0))
        layers.append(BedLayer(
            kind="clip", clip=ref, clip_offset=int(rng.integers(0, clip.audio.size)),
            gain_db=round(min(level - clip.lufs, compose.max_gain_db), 3),
        ))
        break
    if bed_classes and not layers:
        return Drop("no_bed_clip", f"no loadable ambience among {bed_classes}")
    colour = COLOURS[int(rng.integers(0, len(COLOURS)))]
    level = float(rng.uniform(*compose.coloured_noise_lufs)) + offset_db
    layers.append(BedLayer(
        kind="coloured", colour=colour, noise_seed=int(rng.integers(0, 2**31 - 1)),
        gain_db=round(level - unit_noise_lufs(colour, cfg.audio.sample_rate), 3),
    ))
    return layers


def ground_scene(
    scene: ScenePlan, bed_classes: list[str], store: CatalogClipStore, cfg: Config,
    speech: SpeechSource | None = None,
    stats: Counter[str] | None = None,
    retriever: SoundRetriever | None = None,
    generators: GeneratorChain | None = None,
) -> GroundedPlan | Drop | Retry:
    """`generators` makes classes with no installed clip when grounding by class
    (None: the configured chain, built when first needed)."""
    rng = np.random.default_rng([scene.seed, 1])  # grounding's own stream of draws
    bound: list[_Bound] = []
    neighbours: list[ClipFeatures] = []
    counts = stats if stats is not None else Counter()
    for event in scene.events:
        result = _bind(event, store, speech, rng, counts, retriever, neighbours, bound,
                       generators)
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
    bed = _bed(bed_classes, store, rng, cfg, scene.bed_offset_db)
    if isinstance(bed, Drop):
        return bed
    plan = GroundedPlan(scene=scene, sample_rate=cfg.audio.sample_rate,
                        num_samples=num_samples, events=grounded, bed=bed)
    try:
        derive_labels(plan, cfg.audio.chunk_samples)
    except LabelConflict as conflict:
        return Retry("label_conflict", str(conflict))
    return plan
