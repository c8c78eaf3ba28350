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

Every candidate names all four criteria: a check that does not apply (no
planned duration, a loop that tiles, no neighbours) passes and says why in
`unscored`; the measured span is scored either way. The first sound event of a
scene has no neighbours when it is chosen: grounding scores it against the
stream's ambience bed once the bed is drawn (ground/evidence.py).

Default thresholds were measured on the real catalogs (555 clips):
with them 5 of 511 event clips fail cleanliness (2 low SNR, 2 clipped, 1 DC),
and continuity fails about 8 % of random pairings with two neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streamaudio.compose.loudness import measure_lufs
from streamaudio.config import Config
from streamaudio.dsp.tfjp import TfjpResult
from streamaudio.retrieve.index import Candidate

CLIP_LEVEL = 0.999  # |x| at or above this counts as clipped
ROLLOFF = 0.95
MIN_LOOP_S = 1.0  # a loopable clip shorter than this tiles audibly
OCTAVES_FULL_SCALE = 4.0  # spectral jump 1.0 = centroids four octaves apart
# the paper's four criteria and the scores that measure each
CRITERIA: dict[str, tuple[str, ...]] = {
    "identity": ("identity",),
    "cleanliness": ("snr_db", "clipping_ratio", "dc_offset", "bandwidth_hz"),
    "duration_fit": ("duration_s", "duration_ratio"),
    "continuity": ("level_jump_db", "spectral_jump"),
}
NO_NEIGHBOURS = "no sound event before it"
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
    # criterion -> why its check passed without a score (e.g. no planned duration)
    unscored: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.passed.values())

    def failed_criteria(self) -> list[str]:
        """Failed checks in CHECKS order, e.g. ["cleanliness.snr", "duration_fit"]."""
        return [name for name in CHECKS if not self.passed.get(name, True)]


def _spectrum(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import welch  # here: ~2 s to import; a warm build reads measures

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


def continuity(candidate: ClipFeatures, neighbours: Sequence[ClipFeatures], cfg: Config
               ) -> tuple[dict[str, float], dict[str, bool]]:
    """Level and spectral jump of a clip against the mean of `neighbours` (at least
    one), and whether each is within the configured limit."""
    v = cfg.verify
    mean_lufs = float(np.mean([n.lufs for n in neighbours]))
    mean_octave = float(np.mean([_log2(n.centroid_hz) for n in neighbours]))
    jump = abs(_log2(candidate.centroid_hz) - mean_octave) / OCTAVES_FULL_SCALE
    scores = {"level_jump_db": abs(candidate.lufs - mean_lufs), "spectral_jump": min(1.0, jump)}
    passed = {"continuity.level": scores["level_jump_db"] <= v.max_level_jump_db,
              "continuity.spectrum": scores["spectral_jump"] <= v.max_spectral_jump}
    return scores, passed


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
    unscored: dict[str, str] = {}
    # the span is scored even where no ratio is gated, so every candidate's duration
    # fit is on record (a tiling loop's span is its whole length)
    scores["duration_s"] = x.size / rate if tiles else _span_s(tfjp_result, v.duration_span,
                                                                rate)
    if tiles:
        unscored["duration_fit"] = "loopable: tiles to any length"
    elif planned_duration_s is None or planned_duration_s <= 0:
        unscored["duration_fit"] = "no planned duration: the clip's own length is placed"
    else:
        scores["duration_ratio"] = scores["duration_s"] / planned_duration_s
        # a longer clip is cut to a window holding its core when placed, so only a
        # clip too short to fill the planned slot fails
        passed["duration_fit"] = scores["duration_ratio"] >= v.min_duration_ratio
    if neighbours:
        jumps, within = continuity(measures.features, neighbours, cfg)
        scores |= jumps
        passed |= within
    else:
        unscored["continuity"] = NO_NEIGHBOURS
    return Verification(candidate.clip_id, scores, passed, unscored)


def choose(verifications: Sequence[Verification]) -> Verification | None:
    """The passing candidate with the best identity score (first on ties), or None."""
    passing = [v for v in verifications if v.ok]
    if not passing:
        return None
    return max(passing, key=lambda v: v.scores["identity"])
