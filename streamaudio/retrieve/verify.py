"""The paper's four checks on one retrieved (or generated) candidate, with the
numbers kept as evidence:

- identity: the retrieval score (query-caption cosine, or CLAP audio-text);
- cleanliness: TFJP's SNR estimate, clipping ratio, DC offset, 95 % roll-off;
- duration fit: TFJP's active length (or core span, cfg) at least a share of
  the planned duration; longer clips are cut when placed (loopable ambience
  tiles, so any clip of at least 1 s fits);
- continuity: raw loudness and spectral centroid against the neighbouring
  events already chosen (raw, because role gains are applied later and the
  check is about the recordings matching, not their final levels).

Checks that do not apply (no planned duration, no neighbours) pass and leave
no score. Default thresholds were measured on the real catalogs (555 clips):
with them 5 of 511 event clips fail cleanliness (2 low SNR, 2 clipped, 1 DC),
and continuity fails about 8 % of random pairings with two neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import welch

from streamaudio.compose.loudness import measure_lufs
from streamaudio.config import Config
from streamaudio.dsp.tfjp import TfjpResult
from streamaudio.retrieve.index import Candidate

CLIP_LEVEL = 0.999  # |x| at or above this counts as clipped
ROLLOFF = 0.95
MIN_LOOP_S = 1.0  # a loopable clip shorter than this tiles audibly
OCTAVES_FULL_SCALE = 4.0  # spectral jump 1.0 = centroids four octaves apart
CHECKS = (
    "identity",
    "cleanliness.snr",
    "cleanliness.clipping",
    "cleanliness.dc_offset",
    "cleanliness.bandwidth",
    "duration_fit",
    "continuity.level",
    "continuity.spectrum",
)


@dataclass(frozen=True)
class ClipFeatures:
    """What continuity compares: raw loudness and spectral centroid."""

    lufs: float
    centroid_hz: float


@dataclass(frozen=True)
class Verification:
    clip_id: str
    scores: dict[str, float]  # identity, snr_db, clipping_ratio, dc_offset, bandwidth_hz, ...
    passed: dict[str, bool]  # one entry per name in CHECKS

    @property
    def ok(self) -> bool:
        return all(self.passed.values())

    def failed_criteria(self) -> list[str]:
        """Failed checks in CHECKS order, e.g. ["cleanliness.snr", "duration_fit"]."""
        return [name for name in CHECKS if not self.passed.get(name, True)]


def _spectrum(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(audio, dtype=np.float64)
    # Welch with per-segment mean removal: the DC offset is its own check and
    # must not pull the centroid or roll-off to 0 Hz.
    freqs, psd = welch(x, fs=rate, nperseg=min(1024, x.size), detrend="constant")
    return freqs, psd


def spectral_rolloff(freqs: np.ndarray, psd: np.ndarray, share: float = ROLLOFF) -> float:
    total = float(psd.sum())
    if total <= 0.0:
        return 0.0
    return float(freqs[min(np.searchsorted(np.cumsum(psd), share * total), freqs.size - 1)])


def spectral_centroid(freqs: np.ndarray, psd: np.ndarray) -> float:
    total = float(psd.sum())
    return float((freqs * psd).sum() / total) if total > 0.0 else 0.0


@dataclass(frozen=True)
class ClipMeasures:
    """What verification measures on a clip's raw audio, once per clip: its Welch
    spectrum and loudness (the two costly parts of `verify` and `features`)."""

    freqs: np.ndarray
    psd: np.ndarray
    lufs: float

    @property
    def features(self) -> ClipFeatures:
        return ClipFeatures(self.lufs, spectral_centroid(self.freqs, self.psd))


def measure(audio: np.ndarray, rate: int) -> ClipMeasures:
    x = np.asarray(audio, dtype=np.float32)
    freqs, psd = _spectrum(x, rate)
    return ClipMeasures(freqs, psd, measure_lufs(x, rate))


def features(audio: np.ndarray, rate: int) -> ClipFeatures:
    return measure(audio, rate).features


def _log2(hz: float) -> float:
    return math.log2(max(hz, 1.0))  # 1 Hz floor: a silent or DC-only clip stays finite


def _span_s(result: TfjpResult, span: str, rate: int) -> float:
    if span == "core":
        return (result.core_end - result.core_start) / rate
    return result.audio.size / rate  # silences trimmed, snapped to the grid


def verify(
    candidate: Candidate,
    raw_audio: np.ndarray,
    tfjp_result: TfjpResult,
    planned_duration_s: float | None,
    loopable: bool,
    neighbours: Sequence[ClipFeatures],
    cfg: Config,
    measures: ClipMeasures | None = None,
) -> Verification:
    """`raw_audio` is the clip before TFJP at cfg.audio.sample_rate; `tfjp_result`
    is TFJP's output for it (SNR estimate and core span); `measures`, `measure(raw_audio)`
    if the caller already has it."""
    v, rate = cfg.verify, cfg.audio.sample_rate
    x = np.asarray(raw_audio, dtype=np.float32)
    measures = measures if measures is not None else measure(x, rate)
    freqs, psd = measures.freqs, measures.psd
    scores = {
        "identity": float(candidate.score),
        "snr_db": float(tfjp_result.snr_db),
        "clipping_ratio": float(np.mean(np.abs(x) >= CLIP_LEVEL)),
        "dc_offset": abs(float(np.mean(x, dtype=np.float64))),
        "bandwidth_hz": spectral_rolloff(freqs, psd),
    }
    passed = {
        "identity": scores["identity"] >= v.min_identity,
        # A texture (rain, wind) is stationary by design: TFJP finds no floor
        # below it, so its SNR estimate says nothing about cleanliness.
        "cleanliness.snr": loopable or scores["snr_db"] >= v.min_snr_db,
        "cleanliness.clipping": scores["clipping_ratio"] <= v.max_clipping_ratio,
        "cleanliness.dc_offset": scores["dc_offset"] <= v.max_dc_offset,
        "cleanliness.bandwidth": scores["bandwidth_hz"] >= v.min_bandwidth_hz,
        "duration_fit": True,
        "continuity.level": True,
        "continuity.spectrum": True,
    }
    # A loop of >= 1 s tiles to any length; a shorter one repeats audibly, so it
    # is measured like an event.
    tiles = loopable and x.size >= MIN_LOOP_S * rate
    if not tiles and planned_duration_s is not None and planned_duration_s > 0:
        scores["duration_s"] = _span_s(tfjp_result, v.duration_span, rate)
        scores["duration_ratio"] = scores["duration_s"] / planned_duration_s
        # a longer clip is cut to a window holding its core when placed, so only a
        # clip too short to fill the planned slot fails
        passed["duration_fit"] = scores["duration_ratio"] >= v.min_duration_ratio
    if neighbours:
        lufs = measures.lufs
        centroid = spectral_centroid(freqs, psd)
        mean_lufs = float(np.mean([n.lufs for n in neighbours]))
        mean_octave = float(np.mean([_log2(n.centroid_hz) for n in neighbours]))
        scores["level_jump_db"] = abs(lufs - mean_lufs)
        jump = abs(_log2(centroid) - mean_octave) / OCTAVES_FULL_SCALE
        scores["spectral_jump"] = min(1.0, jump)
        passed["continuity.level"] = scores["level_jump_db"] <= v.max_level_jump_db
        passed["continuity.spectrum"] = scores["spectral_jump"] <= v.max_spectral_jump
    return Verification(candidate.clip_id, scores, passed)


def choose(verifications: Sequence[Verification]) -> Verification | None:
    """The passing candidate with the best identity score (first on ties), or None."""
    passing = [v for v in verifications if v.ok]
    if not passing:
        return None
    return max(passing, key=lambda v: v.scores["identity"])
