"""The two criteria a chosen sound clip can only be scored on once the scene is laid
out: its duration fit against the slot it fills, and (for the first sound event,
which has no event before it) its continuity with the ambience bed it sits on.
Verification (retrieve/verify.py) scores the rest while choosing. These scores are
evidence: they do not change which clip was chosen."""

from __future__ import annotations

from collections.abc import Sequence

from streamaudio.compose.timeline import Placement
from streamaudio.config import Config
from streamaudio.ground.store import CatalogClipStore
from streamaudio.ground.types import Evidence, ProcessedClip
from streamaudio.retrieve.verify import ClipFeatures, continuity
from streamaudio.schema import BedLayer, EventPlan
from streamaudio.stage import Drop

NO_CLIP_BED = "none: the bed is coloured noise only (no ambience recording to match)"


def duration_evidence(event: EventPlan, clip: ProcessedClip, placement: Placement,
                      cfg: Config) -> Evidence:
    """The measured span (as verification measures it) over the slot it fills: the
    planned duration, else the length placed (a loop tiles its slot: its fit is its
    length, not this ratio)."""
    rate = cfg.audio.sample_rate
    span = clip.core_end - clip.core_start if cfg.verify.duration_span == "core" \
        else clip.audio.size
    if placement.loop:
        target, slot_s = "tiled", placement.length / rate
    elif event.duration_s is not None and event.duration_s > 0:
        target, slot_s = "planned", float(event.duration_s)
    else:
        target, slot_s = "placed", placement.length / rate
    return {"duration_s": round(span / rate, 3), "duration_fit": round(span / rate / slot_s, 4),
            "duration_target": target}


def continuity_evidence(own: ClipFeatures, against: Sequence[ClipFeatures], what: str,
                        cfg: Config) -> Evidence:
    """Level and spectral jump against `against` (the events before, or the bed), with
    whether both are within the thresholds verification applies."""
    scores, passed = continuity(own, against, cfg)
    return {"continuity": what, "level_jump_db": round(scores["level_jump_db"], 3),
            "spectral_jump": round(scores["spectral_jump"], 3),
            "continuity_ok": int(all(passed.values()))}


def bed_features(bed: Sequence[BedLayer], store: CatalogClipStore) -> ClipFeatures | None:
    """The features of the bed's ambience recording (None: no loadable clip layer)."""
    for layer in bed:
        if layer.kind != "clip" or layer.clip is None:
            continue
        loaded = store.load(layer.clip.clip_id, "bed")
        if isinstance(loaded, Drop):
            return None
        clip, ref = loaded
        return store.measurements.features(ref.sha256, clip.audio)
    return None
