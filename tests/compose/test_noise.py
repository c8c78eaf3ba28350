import itertools

import numpy as np
import pytest

from streamaudio.compose.noise import coloured_noise, unit_noise_lufs


def _slope_db_per_octave(noise: np.ndarray, rate: int = 16_000) -> float:
    """Fit of band power against log2 frequency between 100 Hz and 4 kHz."""
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(noise.size, 1 / rate)
    edges = 100 * 2 ** np.arange(0, 5.5, 0.5)
    centres, powers = [], []
    for low, high in itertools.pairwise(edges):
        band = (freqs >= low) & (freqs < high)
        centres.append(np.log2(np.sqrt(low * high)))
        powers.append(10 * np.log10(spectrum[band].mean()))
    return float(np.polyfit(centres, powers, 1)[0])


@pytest.mark.parametrize(("colour", "slope"), [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_colours_have_their_spectral_slope(colour: str, slope: float) -> None:
    measured = _slope_db_per_octave(coloured_noise(colour, 3, 160_000))  # type: ignore[arg-type]
    assert measured == pytest.approx(slope, abs=0.8)


def test_noise_is_unit_rms_and_deterministic() -> None:
    first = coloured_noise("pink", 11, 32_000)
    assert first.dtype == np.float32
    # a 2 s slice of a unit-RMS bank: within a few percent of 1
    assert float(np.sqrt(np.mean(first.astype(np.float64) ** 2))) == pytest.approx(1.0, rel=0.1)
    assert np.array_equal(first, coloured_noise("pink", 11, 32_000))
    assert not np.array_equal(first, coloured_noise("pink", 12, 32_000))
    # longer than the bank: generated fresh, still unit RMS
    long = coloured_noise("white", 3, 70 * 16_000)
    assert float(np.sqrt(np.mean(long.astype(np.float64) ** 2))) == pytest.approx(1.0, rel=1e-3)


def test_k_weighting_makes_loudness_colour_dependent() -> None:
    # brown noise has its energy below 100 Hz, which K-weighting discounts
    assert unit_noise_lufs("brown", 16_000) < unit_noise_lufs("white", 16_000) - 3
