"""Generated clips for events no catalog clip grounds: making one from the event's
fallback caption, verifying it like a retrieved candidate, and admitting it into
the scene. Retrieval's fallback (ground/retrieval.py) and class mode
(ground/offline.py) share all of it; they differ only in how they judge identity
and in how they report a chain that makes nothing."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamaudio.compose.loudness import measure_lufs
from streamaudio.config import Config
from streamaudio.dsp.tfjp import TfjpResult
from streamaudio.generate.store import GeneratedClip, GeneratorChain
from streamaudio.ground.store import CatalogClipStore
from streamaudio.ground.types import ProcessedClip
from streamaudio.profile import timed
from streamaudio.retrieve.index import Candidate
from streamaudio.retrieve.verify import ClipFeatures, Verification, verify
from streamaudio.schema import ClipRef, EventPlan
from streamaudio.speech.asr import audio_digest
from streamaudio.stage import Drop

GENERATED_S = 2.0  # a generated event's length when the plan gives none


@dataclass(frozen=True)
class AdmittedClip:
    """A generated clip that passed verification, kept in the store under its hash."""

    made: GeneratedClip
    clip: ProcessedClip
    ref: ClipRef
    verdict: Verification
    features: ClipFeatures  # of the generated (raw) audio, for continuity with the next


def generate_for(event: EventPlan, chain: GeneratorChain, seed: int) -> GeneratedClip | Drop:
    """The chain's clip for the event's fallback caption (Drop: no backend made one)."""
    with timed("generation"):
        return chain.generate(event.fallback_caption, event.duration_s or GENERATED_S, seed,
                              event.caption)


def admit_generated(event_id: str, made: GeneratedClip, result: TfjpResult, failed: list[str],
                    store: CatalogClipStore, rate: int, stats: Counter[str],
                    lufs: float | None = None) -> tuple[ProcessedClip, ClipRef] | Drop:
    """Refuse the clip if any criterion `failed` (each counted); otherwise keep its
    processed audio in the store under its hash, which is how rendering reads it.
    `lufs` is the processed audio's loudness when the caller has measured it."""
    if failed:
        for criterion in failed:
            stats[f"verify_failed:{criterion}"] += 1
        stats["no_verified_clip"] += 1
        return Drop("no_verified_clip", f"{event_id}: generated clip failed {failed}")
    stats[f"generated:{made.backend}"] += 1
    sha = hashlib.sha256(result.audio.astype(np.float32).tobytes()).hexdigest()
    store.keep_generated(sha, result.audio)
    if lufs is None:
        lufs = measure_lufs(result.audio, rate)
    clip = ProcessedClip(result.audio, result.core_start, result.core_end, lufs, result.snr_db)
    return clip, made.ref().model_copy(update={"sha256": sha})


def verify_generated(event: EventPlan, made: GeneratedClip, neighbours: Sequence[ClipFeatures],
                     identity: float | None, store: CatalogClipStore, cfg: Config,
                     stats: Counter[str]) -> AdmittedClip | Drop:
    """TFJP and the four checks on a generated clip, then admission. `identity` is the
    caller's score for it; None judges identity by class (the plan named the class and
    the synth refuses captions it has no recipe for), so that check is left out."""
    rate = cfg.audio.sample_rate
    # measured by content hash like a catalog clip: a warm build runs no TFJP for it
    measured = store.measurements.get(audio_digest(made.audio, rate), made.audio, denoise=True)
    if isinstance(measured, Drop):
        return Drop("generated_rejected", f"{event.event_id}: {measured.detail}")
    result = measured.tfjp
    score = float("nan") if identity is None else identity
    verdict = verify(Candidate(made.clip_id, score, 0), made.audio, result, event.duration_s,
                     False, neighbours, cfg, measures=measured.measures)
    failed = [name for name in verdict.failed_criteria()
              if identity is not None or name != "identity"]
    admitted = admit_generated(event.event_id, made, result, failed, store, rate, stats,
                               lufs=measured.processed_lufs)
    if isinstance(admitted, Drop):
        return admitted
    return AdmittedClip(made, admitted[0], admitted[1], verdict, measured.measures.features)
