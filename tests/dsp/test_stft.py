"""The vectorised STFT is scipy's ShortTimeFFT, frame for frame, and inverts exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import ShortTimeFFT
from scipy.signal.windows import hann

from streamaudio.dsp.stft import frame_range, istft, istft_span, make_plan, stft

N_FFT, HOP = 512, 128


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


@pytest.fixture(scope="module")
def scipy_sft() -> ShortTimeFFT:
    # phase_shift=None: plain FFT of each windowed slice, as stft() computes it
    return ShortTimeFFT(hann(N_FFT, sym=False), hop=HOP, fs=1.0, phase_shift=None)


@pytest.mark.parametrize("n", [256, 511, 512, 513, 514, 16_001])
def test_matches_scipy_short_time_fft(n: int, scipy_sft: ShortTimeFFT) -> None:
    x = _noise(n, n)
    ours = stft(x, make_plan(N_FFT, HOP))
    ref = scipy_sft.stft(x.astype(np.float64)).T  # scipy is (bins, frames)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()
    # and scipy's own inverse reads our spectrum back to the signal
    back = scipy_sft.istft(ours.T.astype(np.complex128), k1=n)
    assert np.abs(back - x).max() < 1e-5


@pytest.mark.parametrize("n", [1, 2, 100, 511, 512, 513, 16_000, 16_001])
def test_perfect_reconstruction(n: int) -> None:
    plan = make_plan(N_FFT, HOP)
    x = _noise(n, n)
    y = istft(stft(x, plan), plan, n)
    assert y.dtype == np.float32 and y.shape == (n,)
    assert np.abs(y - x).max() < 2e-6  # float32 round-off on unit-variance noise


@pytest.mark.parametrize(("start", "stop"), [(0, 1), (0, 700), (1234, 5678), (9_999, 10_000)])
def test_span_inverse_equals_slice_of_full_inverse(start: int, stop: int) -> None:
    plan, n = make_plan(N_FFT, HOP), 10_000
    spec = stft(_noise(n), plan)
    q0, q1 = frame_range(plan, n, start, stop)
    assert q1 - q0 < spec.shape[0] or (start, stop) == (0, n)
    part = istft_span(spec[q0:q1], plan, q0, start, stop)
    assert np.abs(part - istft(spec, plan, n)[start:stop]).max() < 1e-6


def test_coverage_is_one_inside_and_partial_at_edges() -> None:
    plan = make_plan(N_FFT, HOP)
    coverage = plan.coverage(16_000)
    assert np.allclose(coverage[3:-3], 1.0)
    assert 0 < coverage[0] < 0.1 and 0.45 < coverage[1] < 0.55  # frame centred on sample 0
    assert (plan.coverage(100) < 0.5).all()  # nothing is a full frame of a short clip


def test_plan_rejects_hop_that_does_not_divide_n_fft() -> None:
    with pytest.raises(ValueError, match="multiple of hop"):
        make_plan(512, 100)
