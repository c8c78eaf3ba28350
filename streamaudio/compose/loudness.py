"""Loudness on active regions: ITU-R BS.1770 integrated loudness (pyloudnorm),
whose absolute and relative gates leave out the quiet parts of a clip."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np

from streamaudio.units import Decibels

SILENCE_LUFS: Decibels = -70.0  # BS.1770's absolute gate


@lru_cache(maxsize=16)
def _meter(sample_rate: int, block_samples: int) -> Any:
    import pyloudnorm  # here: it imports scipy.signal (~2 s), which a warm build never needs

    return pyloudnorm.Meter(sample_rate, block_size=block_samples / sample_rate)


def measure_lufs(audio: np.ndarray, sample_rate: int) -> Decibels:
    """Integrated loudness; clips shorter than the 400 ms gating block are measured
    with one block of their own length so short hits still get a level."""
    if audio.size == 0:
        return SILENCE_LUFS
    block = min(audio.size, sample_rate * 2 // 5)
    with warnings.catch_warnings(), np.errstate(divide="ignore"):
        warnings.simplefilter("ignore")  # pyloudnorm warns on clipping-prone input
        value = _meter(sample_rate, block).integrated_loudness(audio.astype(np.float64))
    return float(value) if np.isfinite(value) else SILENCE_LUFS
