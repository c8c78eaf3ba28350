"""Shared STFT / ISTFT for TFJP.

Window, dual window and frame layout are scipy's `ShortTimeFFT` (periodic Hann,
frame p centred on sample p*hop, frames from the first to the last one touching
the signal). scipy's own `stft`/`istft` loop over frames in Python (about 10 ms
each way for 5 s of audio), so the same transform runs here as one batched
scipy.fft rFFT in float32 (numpy's float32 rfft is ~10x slower) plus a strided
overlap-add; tests check both against scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft


@dataclass(frozen=True)
class StftPlan:
    n_fft: int
    hop: int
    window: np.ndarray  # float32 analysis window (periodic Hann)
    dual: np.ndarray  # float32 synthesis window: perfect reconstruction with `window`
    mid: int  # index of the window sample that sits on the frame's centre
    p_min: int  # first frame index (negative: frames start before the signal)
    nonzero: int  # first window index that is not 0 (periodic Hann: 1)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def p_max(self, n: int) -> int:
        """One past the last frame that touches a signal of n samples."""
        return -(-(n + self.mid - self.nonzero) // self.hop)

    def frame_starts(self, n: int) -> np.ndarray:
        return np.arange(self.p_min, self.p_max(n)) * self.hop - self.mid

    def coverage(self, n: int) -> np.ndarray:
        """Share of each frame's window energy that lies on the signal (1.0 for a
        full frame, less at the edges and for clips shorter than n_fft)."""
        cum = np.concatenate(([0.0], np.cumsum(self.window.astype(np.float64) ** 2)))
        starts = self.frame_starts(n)
        lo = np.clip(-starts, 0, self.n_fft)
        hi = np.clip(n - starts, 0, self.n_fft)
        return ((cum[hi] - cum[lo]) / cum[-1]).astype(np.float32)


@lru_cache(maxsize=8)
def make_plan(n_fft: int, hop: int) -> StftPlan:
    if n_fft <= 0 or hop <= 0 or n_fft % hop:
        raise ValueError(f"n_fft ({n_fft}) must be a positive multiple of hop ({hop})")
    # here, not at the top: scipy.signal takes ~2 s to import and a warm build never
    # runs TFJP (its results are cached)
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    sft = ShortTimeFFT(hann(n_fft, sym=False), hop=hop, fs=1.0, fft_mode="onesided")
    if not sft.invertible:
        raise ValueError(f"Hann n_fft={n_fft}, hop={hop} is not invertible")
    window = sft.win.astype(np.float32)
    dual = sft.dual_win.astype(np.float32)
    window.flags.writeable = False
    dual.flags.writeable = False
    nonzero = int(np.flatnonzero(window)[0])
    return StftPlan(n_fft, hop, window, dual, sft.m_num_mid, sft.p_min, nonzero)


def stft(x: np.ndarray, plan: StftPlan) -> np.ndarray:
    """Complex64 spectrogram, shape (frames, bins): time-major so per-frame work is
    row-wise. Frame p (0-based) is scipy's slice p + p_min."""
    n = x.shape[0]
    left = plan.mid - plan.p_min * plan.hop
    frames = plan.p_max(n) - plan.p_min
    padded = np.zeros((frames - 1) * plan.hop + plan.n_fft, dtype=np.float32)
    padded[left : left + n] = x
    view = np.lib.stride_tricks.sliding_window_view(padded, plan.n_fft)[:: plan.hop]
    return scipy.fft.rfft(view * plan.window, axis=1)


def frame_range(plan: StftPlan, n: int, start: int, stop: int) -> tuple[int, int]:
    """Frames [q0, q1) (0-based) whose windows touch samples [start, stop)."""
    q0 = (start + plan.mid - plan.n_fft) // plan.hop - plan.p_min + 1
    q1 = -(-(stop + plan.mid) // plan.hop) - plan.p_min
    return max(q0, 0), min(q1, plan.p_max(n) - plan.p_min)


def istft(spec: np.ndarray, plan: StftPlan, n: int) -> np.ndarray:
    """Inverse of `stft` for a signal of n samples."""
    return istft_span(spec, plan, 0, 0, n)


def istft_span(spec: np.ndarray, plan: StftPlan, first: int, start: int, stop: int) -> np.ndarray:
    """Samples [start, stop) from frames first, first+1, ... (all frames of
    `frame_range` for that span): irFFT, dual window, then overlap-add as
    n_fft/hop strided block sums instead of a loop over frames."""
    frames = spec.shape[0]
    ratio = plan.n_fft // plan.hop
    seg = scipy.fft.irfft(spec, n=plan.n_fft, axis=1).astype(np.float32, copy=False)
    seg *= plan.dual
    blocks = np.zeros((frames + ratio - 1, plan.hop), dtype=np.float32)
    for r in range(ratio):  # ratio (4) shifted sums, not a loop over frames
        blocks[r : r + frames] += seg[:, r * plan.hop : (r + 1) * plan.hop]
    origin = (first + plan.p_min) * plan.hop - plan.mid  # input sample of blocks[0, 0]
    return blocks.reshape(-1)[start - origin : stop - origin]  # a view of a private buffer
