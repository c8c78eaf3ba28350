import numpy as np
import pytest
from scipy.signal import fftconvolve

from streamaudio.dsp.convolve import convolve_full


@pytest.mark.parametrize(("n", "m", "dtype"), [
    (16_000, 4_000, np.float32), (1, 1, np.float64), (7, 300, np.float32),
    (48_001, 12_345, np.float64), (5, 5, np.int16),
])
def test_bit_identical_to_scipy_fftconvolve(n: int, m: int, dtype: type) -> None:
    rng = np.random.default_rng(n + m)
    a = (rng.standard_normal(n) * 1000).astype(dtype)
    b = rng.standard_normal(m)
    ours = convolve_full(a, b)
    theirs = fftconvolve(a, b, mode="full")
    assert ours.dtype == theirs.dtype
    assert ours.tobytes() == theirs.tobytes()


def test_refuses_what_it_does_not_compute() -> None:
    with pytest.raises(ValueError, match="1-D"):
        convolve_full(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="real"):
        convolve_full(np.zeros(3, complex), np.zeros(2))
    assert convolve_full(np.zeros(0), np.ones(3)).size == 0
