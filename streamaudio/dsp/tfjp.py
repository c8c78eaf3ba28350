"""TFJP: time-frequency joint preprocessing of one clip before mixing.

One analysis per clip (`analyse`): the STFT with its power, plus the input's
energy in hop-long blocks. Every step reads that analysis; nothing recomputes it.
Order differs from the paper's list only where it must: silence is defined
relative to the noise floor, so the noise estimate comes before trimming.

- Spectral work (noise PSD, subtraction) uses the STFT frames.
- Time decisions (silence, core span, SNR) use the hop blocks: a 512-sample Hann
  frame smears an onset over ~2 hops either way, a block resolves it to one hop,
  and core_end decides which chunk carries a response label.

Silent input: a clip whose loudest hop is below -100 dBFS raises
ValueError("clip is silent"), enabled or not (the caller drops it). A clip with
no hop rising silence_threshold_db above its own floor (stationary noise, a
drone, a clip too short to hold any silence) has no separable noise: it is
passed through whole as its own core, neither denoised nor trimmed, only
snapped and faded; its snr_db says so (about -8 dB for white noise).

Snapping only ever pads (< one grid cell), at the end: first with the clip's
own trailing material (denoised like the rest), then, if the file ends, with
Gaussian noise shaped like the residual noise and seeded by a hash of the input.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.fft

from streamaudio.config import TfjpConfig
from streamaudio.dsp.stft import StftPlan, frame_range, istft_span, make_plan, stft

SILENT_DBFS = -100.0  # loudest hop below this: digital silence
POWER_FLOOR = 1e-12  # -120 dBFS: floor of noise estimates; pad noise never reaches 0
SNR_FLOOR_DB = -60.0


@dataclass(frozen=True)
class TfjpResult:
    audio: np.ndarray  # float32 mono
    core_start: int  # samples, inclusive, relative to audio
    core_end: int  # samples, exclusive
    noise_floor_db: float  # estimated stationary noise level (dBFS)
    snr_db: float  # estimated SNR of the input (core energy vs noise estimate)
    trimmed_samples: int  # how many samples silence trimming removed


@dataclass(frozen=True)
class Analysis:
    plan: StftPlan
    n: int
    spec: np.ndarray  # (frames, bins) complex64
    power: np.ndarray  # |spec|^2
    coverage: np.ndarray  # (frames,) share of window energy on the signal
    frame_power: np.ndarray  # (frames,) mean power per sample, edge frames corrected
    block_power: np.ndarray  # (blocks,) mean power per sample of each hop of the input


@dataclass(frozen=True)
class NoiseEstimate:
    psd: np.ndarray  # (bins,) mean |X|^2 of a full frame of noise
    power: float  # mean power per sample
    frames: np.ndarray  # frame indices the estimate came from

    @property
    def db(self) -> float:
        return 10.0 * math.log10(self.power)


@dataclass(frozen=True)
class TrimPlan:
    """Kept input spans [start, end); consecutive spans cross-fade over `overlaps`."""

    spans: tuple[tuple[int, int], ...]
    overlaps: tuple[int, ...]

    @property
    def length(self) -> int:
        return sum(end - start for start, end in self.spans) - sum(self.overlaps)

    def to_output(self, sample: int) -> int:
        """Output index of a kept input sample (never one inside a cross-fade)."""
        offset = 0
        for i, (start, end) in enumerate(self.spans):
            if start <= sample < end:
                return offset + sample - start
            offset += end - start - (self.overlaps[i] if i < len(self.overlaps) else 0)
        raise ValueError(f"input sample {sample} was trimmed away")


def _bin_weights(plan: StftPlan) -> np.ndarray:
    """Parseval for a one-sided spectrum: |X|^2 . weights = window-weighted mean x^2."""
    weights = np.full(plan.bins, 2.0)
    weights[0] = weights[-1] = 1.0
    return (weights / (plan.n_fft * float(np.sum(plan.window.astype(np.float64) ** 2)))).astype(
        np.float32
    )


def analyse(audio: np.ndarray, plan: StftPlan) -> Analysis:
    n = audio.shape[0]
    spec = stft(audio, plan)
    power = spec.real**2 + spec.imag**2
    coverage = plan.coverage(n)
    frame_power = (power @ _bin_weights(plan)) / np.maximum(coverage, 1e-6)
    blocks = -(-n // plan.hop)
    padded = np.zeros(blocks * plan.hop, dtype=np.float32)
    padded[:n] = audio
    counts = np.full(blocks, plan.hop, dtype=np.float32)
    counts[-1] = n - (blocks - 1) * plan.hop
    block_power = np.square(padded).reshape(blocks, plan.hop).sum(axis=1) / counts
    return Analysis(plan, n, spec, power, coverage, frame_power, block_power)


def estimate_noise(an: Analysis, quantile: float) -> NoiseEstimate:
    """Mean spectrum of the lowest-energy `quantile` of frames. Frames mostly off
    the signal are skipped: their corrected power is too noisy to rank."""
    candidates = np.flatnonzero(an.coverage >= 0.5 * an.coverage.max())
    k = max(1, math.ceil(quantile * candidates.size))
    chosen = np.sort(candidates[np.argpartition(an.frame_power[candidates], k - 1)[:k]])
    psd = (an.power[chosen] / an.coverage[chosen, None]).mean(axis=0)
    power = max(float(an.frame_power[chosen].mean()), POWER_FLOOR)
    return NoiseEstimate(psd, power, chosen)


def active_blocks(an: Analysis, noise: NoiseEstimate, threshold_db: float) -> np.ndarray:
    return an.block_power > noise.power * 10.0 ** (threshold_db / 10.0)


def core_blocks(block_power: np.ndarray, active: np.ndarray, threshold_db: float) -> np.ndarray:
    """Active blocks within threshold_db of the loudest; only active ones, so the
    core is never inside a silence that trimming removes."""
    peak = float(block_power[active].max())
    return active & (block_power >= peak * 10.0 ** (-threshold_db / 10.0))


def block_span(mask: np.ndarray, hop: int, n: int) -> tuple[int, int]:
    """Input samples from the first to the last set block, end exclusive."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) * hop, min(n, (int(idx[-1]) + 1) * hop)


def estimate_snr(block_power: np.ndarray, core: np.ndarray, noise: NoiseEstimate) -> float:
    signal = float(block_power[core].mean()) - noise.power
    return 10.0 * math.log10(max(signal / noise.power, 10.0 ** (SNR_FLOOR_DB / 10.0)))


def smooth3x3(power: np.ndarray) -> np.ndarray:
    """3-frame x 3-bin mean, edges repeated: a single bin of noise is exponential-
    distributed, and subtracting its mean from it leaves musical noise; averaging
    neighbours first (Boll's magnitude averaging) takes ~2 dB more noise out."""
    rows = np.empty_like(power)
    np.add(power[:-2], power[1:-1], out=rows[1:-1])
    rows[1:-1] += power[2:]
    rows[0] = 2 * power[0] + power[min(1, power.shape[0] - 1)]
    rows[-1] = 2 * power[-1] + power[max(power.shape[0] - 2, 0)]
    out = np.empty_like(power)
    np.add(rows[:, :-2], rows[:, 1:-1], out=out[:, 1:-1])
    out[:, 1:-1] += rows[:, 2:]
    out[:, 0] = 2 * rows[:, 0] + rows[:, 1]
    out[:, -1] = 2 * rows[:, -1] + rows[:, -2]
    out *= np.float32(1.0 / 9.0)
    return out


def subtraction_gain(
    an: Analysis, noise: NoiseEstimate, oversubtraction: float, floor: float, q0: int, q1: int
) -> np.ndarray:
    """Gain of frames [q0, q1) for power spectral subtraction: sqrt(1 - a*N/|X|^2),
    at least `floor`, |X|^2 smoothed (neighbour frames read, so any range gives the
    same gains). Edge frames see only their share of the noise."""
    lo, hi = max(q0 - 1, 0), min(q1 + 1, an.power.shape[0])
    smoothed = smooth3x3(an.power[lo:hi])[q0 - lo : q1 - lo]
    ratio = noise.psd[None, :] * an.coverage[q0:q1, None]
    ratio /= np.maximum(smoothed, np.float32(1e-30))
    gain = 1.0 - np.float32(oversubtraction) * ratio
    np.maximum(gain, np.float32(floor * floor), out=gain)
    return np.sqrt(gain, out=gain)


def denoise(
    an: Analysis, noise: NoiseEstimate, oversubtraction: float, floor: float, start: int, stop: int
) -> np.ndarray:
    """Samples [start, stop) of the spectrally subtracted input: only the frames
    that touch them are processed (trimmed-away silence costs nothing)."""
    q0, q1 = frame_range(an.plan, an.n, start, stop)
    gain = subtraction_gain(an, noise, oversubtraction, floor, q0, q1)
    return istft_span(an.spec[q0:q1] * gain, an.plan, q0, start, stop)


def residual_psd(
    an: Analysis, noise: NoiseEstimate, oversubtraction: float, floor: float
) -> np.ndarray:
    """What subtraction leaves of the noise frames (musical noise included): the
    spectrum that generated padding must match to continue the clip seamlessly."""
    gain = subtraction_gain(an, noise, oversubtraction, floor, 0, an.power.shape[0])
    chosen = noise.frames
    return (an.power[chosen] * gain[chosen] ** 2 / an.coverage[chosen, None]).mean(axis=0)


def plan_trim(active: np.ndarray, hop: int, n: int, limit: int, guard: int, xfade: int) -> TrimPlan:
    """Drop leading/trailing silence (keeping `guard` samples for the edge fade to
    lie on) and shorten inner silences to `limit`. A run of silent blocks misses
    the partial blocks at its edges (one hop on average), so a run of S samples
    stands for S + hop of silence and is kept as limit - hop: true gap limit +/- hop."""
    idx = np.flatnonzero(active)
    start = max(0, int(idx[0]) * hop - guard)
    end = min(n, (int(idx[-1]) + 1) * hop + guard)
    keep = max(limit - hop, 0)
    gaps = np.diff(idx) - 1
    spans: list[tuple[int, int]] = []
    overlaps: list[int] = []
    for g in np.flatnonzero(gaps * hop + hop > limit):  # one step per long silence
        run_start, run_end = (int(idx[g]) + 1) * hop, int(idx[g + 1]) * hop
        fade = min(xfade, run_end - run_start - keep)
        head = keep // 2
        spans.append((start, run_start + head + fade))
        overlaps.append(fade)
        start = run_end - (keep - head)
    spans.append((start, end))
    return TrimPlan(tuple(spans), tuple(overlaps))


def _xfade_curves(length: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power (sine/cosine): joins uncorrelated noise without a level dip."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / length * (np.pi / 2)
    return np.cos(t).astype(np.float32), np.sin(t).astype(np.float32)


def _join(out: np.ndarray, pos: int, piece: np.ndarray, overlap: int) -> int:
    """Write `piece` at pos - overlap, cross-fading its head into what is there."""
    if overlap:
        fade_out, fade_in = _xfade_curves(overlap)
        out[pos - overlap : pos] = out[pos - overlap : pos] * fade_out + piece[:overlap] * fade_in
    out[pos : pos + piece.size - overlap] = piece[overlap:]
    return pos + piece.size - overlap


def splice(
    y: np.ndarray, origin: int, trim: TrimPlan, tail: np.ndarray | None = None, xfade: int = 0
) -> np.ndarray:
    """Kept spans of y (whose first sample is input sample `origin`), cross-faded
    at the joins; then `tail` cross-faded in over xfade samples."""
    extra = 0 if tail is None else tail.size - xfade
    out = np.empty(trim.length + extra, dtype=np.float32)
    pos = 0
    for i, (start, end) in enumerate(trim.spans):
        pos = _join(out, pos, y[start - origin : end - origin], trim.overlaps[i - 1] if i else 0)
    if tail is not None:
        _join(out, pos, tail, xfade)
    return out


def snap_extension(trim: TrimPlan, n: int, grid: int) -> tuple[TrimPlan, int]:
    """Snap the length up to the grid (padding is always < one cell, so nothing is
    ever cut and the core stays inside). The clip's own trailing material is used
    first; returns the plan and how many samples must still be generated."""
    pad = (-trim.length) % grid
    start, end = trim.spans[-1]
    take = min(pad, n - end)
    return replace(trim, spans=(*trim.spans[:-1], (start, end + take))), pad - take


def pad_noise(length: int, psd: np.ndarray, plan: StftPlan, seed: int) -> np.ndarray:
    """Gaussian noise with the spectrum and level of `psd` (a full-frame noise
    spectrum); deterministic for a seed; never digital silence."""
    power = max(float(psd @ _bin_weights(plan)), POWER_FLOOR)
    white = np.random.default_rng(seed).standard_normal(length)
    shape = np.sqrt(np.maximum(psd, 0.0)) if psd.any() else np.ones_like(psd)
    freqs = np.linspace(0.0, 1.0, length // 2 + 1)
    coloured = scipy.fft.rfft(white) * np.interp(freqs, np.linspace(0.0, 1.0, psd.size), shape)
    noise = scipy.fft.irfft(coloured, n=length)
    noise *= math.sqrt(power / max(float(np.mean(noise**2)), 1e-30))
    return noise.astype(np.float32)


def hann_ramp(length: int) -> np.ndarray:
    """Rising half of a Hann window of 2*length: starts at exactly 0."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(np.float32)


def apply_fades(audio: np.ndarray, fade: int) -> np.ndarray:
    out = audio.copy()
    fade = min(fade, out.size // 2)
    if fade:
        ramp = hann_ramp(fade)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return out


def _content_seed(audio: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(audio.tobytes(), digest_size=8).digest(), "little")


def run_tfjp(audio: np.ndarray, sample_rate: int, cfg: TfjpConfig, grid_samples: int) -> TfjpResult:
    x = np.ascontiguousarray(audio, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"TFJP needs non-empty mono audio, got shape {x.shape}")
    assert np.isfinite(x).all(), "TFJP input must be finite (the caller guarantees it)"
    if grid_samples <= 0:
        raise ValueError(f"grid_samples must be positive, got {grid_samples}")
    plan = make_plan(cfg.n_fft, cfg.hop)
    n, hop = x.size, cfg.hop
    an = analyse(x, plan)
    if float(an.block_power.max()) < 10.0 ** (SILENT_DBFS / 10.0):
        raise ValueError("clip is silent")
    noise = estimate_noise(an, cfg.noise_quantile)
    active = active_blocks(an, noise, cfg.silence_threshold_db)
    stationary = not active.any()
    core = (
        np.ones_like(active)
        if stationary
        else core_blocks(an.block_power, active, cfg.core_threshold_db)
    )
    snr_db = estimate_snr(an.block_power, core, noise)
    if not cfg.enabled:
        return TfjpResult(x.copy(), 0, n, noise.db, snr_db, 0)

    fade = sample_rate * cfg.fade_ms // 1000
    limit = sample_rate * cfg.silence_limit_ms // 1000
    alpha, floor = cfg.oversubtraction, cfg.spectral_floor
    # Stationary: nothing separates from the floor, so keep it whole, undenoised.
    trim = (
        TrimPlan(((0, n),), ())
        if stationary
        else plan_trim(active, hop, n, limit, guard=fade, xfade=hop)
    )
    trimmed = n - trim.length
    trim, missing = snap_extension(trim, n, grid_samples)
    origin, stop = trim.spans[0][0], trim.spans[-1][1]
    y = x if stationary else denoise(an, noise, alpha, floor, origin, stop)
    tail, xfade = None, 0
    # Clip material ran out (content reaches the file end): continue with noise like
    # its residual, cross-faded over one hop so the cut-off content does not click.
    if missing:
        xfade = min(hop, trim.length)
        # A stationary clip has no separate floor: pad it at what subtraction would
        # leave of one (spectral_floor below it), not at its own full level.
        psd = (
            noise.psd * np.float32(floor**2)
            if stationary
            else residual_psd(an, noise, alpha, floor)
        )
        tail = pad_noise(missing + xfade, psd, plan, _content_seed(x))
    out = apply_fades(splice(y, origin, trim, tail, xfade), fade)
    core_in = block_span(core, hop, n)
    core_start = trim.to_output(core_in[0])
    core_end = trim.to_output(core_in[1] - 1) + 1
    return TfjpResult(out, core_start, core_end, noise.db, snr_db, trimmed)
