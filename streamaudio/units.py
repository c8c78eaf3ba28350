"""Explicit units. Time inside the library is always integer samples; seconds and
decibels appear only at the edges (config, captions, reports)."""

from __future__ import annotations

import math
from typing import NewType

Samples = NewType("Samples", int)
Seconds = float
Decibels = float
Hertz = int


def seconds_to_samples(seconds: Seconds, sample_rate: Hertz) -> Samples:
    """Round to the nearest sample; the one place seconds become samples."""
    return Samples(round(seconds * sample_rate))


def samples_to_seconds(samples: int, sample_rate: Hertz) -> Seconds:
    return samples / sample_rate


def db_to_gain(db: Decibels) -> float:
    return float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> Decibels:
    return float(20.0 * math.log10(max(gain, 1e-12)))


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
