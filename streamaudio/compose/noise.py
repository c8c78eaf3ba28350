"""Generated coloured noise for the noise bed, deterministic from a seed."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from streamaudio.cache import ContentStore, input_key
from streamaudio.compose.loudness import measure_lufs
from streamaudio.schema import Colour
from streamaudio.units import Decibels

# 1/f approximation by a 3-pole/3-zero filter (J. O. Smith, "Spectral Audio
# Signal Processing", pink noise section): flat within about 0.3 dB.
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)
_BROWN_POLE = 0.995  # leaky integrator: 1/f^2 above a few Hz, no DC drift


BANK_SECONDS = 64  # per colour, generated once per process
NOISE_VERSION = 1  # bump when the filters or the bank change: part of the cache key
_STORE: ContentStore | None = None  # where banks and their loudness are kept (optional)


def keep_noise_in(store: ContentStore | None) -> None:
    """Keep the noise banks and their loudness in `store` (by colour and rate), so a
    warm build reads them instead of filtering (scipy.signal: ~2 s to import) and
    measuring again. Process-wide, like the banks themselves."""
    global _STORE
    _STORE = store


def _key(kind: str, colour: Colour, sample_rate: int) -> str:
    return input_key({"kind": kind, "colour": colour, "rate": sample_rate,
                      "seconds": BANK_SECONDS, "version": NOISE_VERSION})


def _shaped(colour: Colour, seed: int, num_samples: int) -> np.ndarray:
    from scipy.signal import lfilter  # here: ~2 s to import, once per process at most

    white = np.random.default_rng(seed).standard_normal(num_samples)
    if colour == "pink":
        shaped = lfilter(_PINK_B, _PINK_A, white)
    elif colour == "brown":
        shaped = lfilter((1.0,), (1.0, -_BROWN_POLE), white)
    else:
        shaped = white
    rms = float(np.sqrt(np.mean(shaped**2))) or 1.0
    return (shaped / rms).astype(np.float32)


@lru_cache(maxsize=3)
def _bank(colour: Colour, sample_rate: int) -> np.ndarray:
    key = _key("bank", colour, sample_rate)
    bank = _STORE.get_array(key) if _STORE is not None else None
    if bank is None:
        bank = _shaped(colour, 0, BANK_SECONDS * sample_rate)
        if _STORE is not None:
            _STORE.put_array(key, bank)
    bank.setflags(write=False)
    return bank


def coloured_noise(colour: Colour, seed: int, num_samples: int, sample_rate: int = 16_000
                   ) -> np.ndarray:
    """Unit-RMS noise of a colour, float32. Streams read it from a per-colour bank
    at a seed-chosen start and sign (like drawing slices from a noise corpus):
    generating 24 s of filtered noise per stream would cost more than the mix."""
    bank = _bank(colour, sample_rate)
    if num_samples > bank.size:
        return _shaped(colour, seed, num_samples)
    start = seed % bank.size
    end = start + num_samples
    if end <= bank.size:
        segment = bank[start:end].copy()
    else:
        segment = np.concatenate((bank[start:], bank[: end - bank.size]))
    if (seed // bank.size) % 2:
        np.negative(segment, out=segment)
    return segment


@lru_cache(maxsize=8)
def unit_noise_lufs(colour: Colour, sample_rate: int) -> Decibels:
    """Loudness of unit-RMS noise of a colour (K-weighting makes it colour
    dependent), measured once, so a plan can turn a target level into a gain."""
    key = _key("unit-lufs", colour, sample_rate)
    kept = _STORE.get_json(key) if _STORE is not None else None
    if kept is not None:
        return float(kept)
    lufs = measure_lufs(coloured_noise(colour, 0, sample_rate * 10, sample_rate), sample_rate)
    if _STORE is not None:
        _STORE.put_json(key, lufs)
    return lufs
