"""Admitting a generated clip into a scene, once verification has spoken: the step
that retrieval's fallback (ground/retrieval.py) and class mode (ground/offline.py)
share. They differ only in how they judge identity."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from streamaudio.compose.loudness import measure_lufs
from streamaudio.compose.mix import ProcessedClip
from streamaudio.dsp.tfjp import TfjpResult
from streamaudio.generate.store import GeneratedClip
from streamaudio.ground.store import CatalogClipStore
from streamaudio.schema import ClipRef
from streamaudio.stage import Drop


def admit_generated(event_id: str, made: GeneratedClip, result: TfjpResult, failed: list[str],
                    store: CatalogClipStore, rate: int, stats: Counter[str]
                    ) -> tuple[ProcessedClip, ClipRef] | Drop:
    """Refuse the clip if any criterion `failed` (each counted); otherwise keep its
    processed audio in the store under its hash, which is how rendering reads it."""
    if failed:
        for criterion in failed:
            stats[f"verify_failed:{criterion}"] += 1
        stats["no_verified_clip"] += 1
        return Drop("no_verified_clip", f"{event_id}: generated clip failed {failed}")
    stats[f"generated:{made.backend}"] += 1
    sha = hashlib.sha256(result.audio.astype(np.float32).tobytes()).hexdigest()
    store.keep_generated(sha, result.audio)
    clip = ProcessedClip(result.audio, result.core_start, result.core_end,
                         measure_lufs(result.audio, rate), result.snr_db)
    return clip, made.ref().model_copy(update={"sha256": sha})
