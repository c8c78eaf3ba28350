"""The shared resampler: float32 out, the input itself when the rates agree, and a
tone keeps its frequency and level."""

from __future__ import annotations

import numpy as np

from streamaudio.dsp.resample import resample


def test_same_rate_returns_the_input_unchanged() -> None:
    audio = np.linspace(-1, 1, 100)  # float64: not even converted
    assert resample(audio, 16_000, 16_000) is audio


def test_a_tone_keeps_its_frequency_and_level() -> None:
    rate, target, hz = 22_050, 16_000, 440.0
    t = np.arange(rate) / rate
    out = resample((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, target)
    assert out.dtype == np.float32 and abs(out.size - target) <= 1
    expected = 0.5 * np.sin(2 * np.pi * hz * np.arange(out.size) / target)
    middle = slice(target // 4, -target // 4)  # away from the resampler's edges
    assert np.max(np.abs(out[middle] - expected[middle])) < 1e-2
