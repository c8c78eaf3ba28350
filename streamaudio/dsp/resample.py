"""Sample-rate conversion for every backend (clip decoding, TTS, generators, CLAP):
one resampler and one quality setting, so a clip resampled anywhere has the same
samples."""

from __future__ import annotations

import numpy as np
import soxr

RESAMPLE_QUALITY = "HQ"  # part of the decoded-clip cache key (retrieve/audio_io.py)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """`audio` at `to_rate` as float32; the same array if the rates already agree."""
    if from_rate == to_rate:
        return audio
    return soxr.resample(audio, from_rate, to_rate, quality=RESAMPLE_QUALITY).astype(np.float32)
