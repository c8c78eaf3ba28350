"""Linear convolution by FFT, without importing scipy.signal (about 2 s at start-up,
which a warm build would otherwise pay only to add reverb).

`convolve_full` is the computation of `scipy.signal.fftconvolve(a, b, mode="full")`
for 1-D real input, step for step (same transform lengths, same scipy.fft calls), so
its output is bit-identical to it; tests/dsp/test_convolve.py checks that."""

from __future__ import annotations

import numpy as np
import scipy.fft


def convolve_full(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The full linear convolution of two 1-D real arrays (length a + b - 1)."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"1-D arrays only, not {a.ndim}-D and {b.ndim}-D")
    if not a.size or not b.size:
        return np.zeros(0)
    if np.iscomplexobj(a) or np.iscomplexobj(b):
        raise ValueError("real arrays only")
    a = a.astype(np.float64) if np.issubdtype(a.dtype, np.integer) else a
    b = b.astype(np.float64) if np.issubdtype(b.dtype, np.integer) else b
    size = a.size + b.size - 1
    length = [scipy.fft.next_fast_len(size, True)]
    spectrum = scipy.fft.rfftn(a, length, axes=[0]) * scipy.fft.rfftn(b, length, axes=[0])
    return scipy.fft.irfftn(spectrum, length, axes=[0])[:size]
