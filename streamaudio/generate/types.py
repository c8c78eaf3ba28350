"""The contract every sound generator shares: a prompt, a duration and a seed in,
16 kHz float32 mono out. A failed request is a `GenerationError` (counted, the next
backend is tried); a backend that cannot run at all is `GeneratorUnavailable`."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from streamaudio.stage import StageError


class GenerationError(RuntimeError):
    """One request failed (HTTP error, timeout, undecodable audio, a prompt the
    backend cannot make). `reason` is a short stable key for counting."""

    def __init__(self, message: str, reason: str = "failed") -> None:
        super().__init__(message)
        self.reason = reason


class GeneratorUnavailable(StageError):
    """The backend is misconfigured (no key, no URL, unknown format): the run
    cannot use it. The message names the setting to fix."""


class SoundGenerator(Protocol):
    name: str

    def version(self) -> str:
        """What decides the output besides the inputs (model, format, settings);
        part of the cache key and of the provenance."""
        ...

    def generate(self, prompt: str, duration_s: float, seed: int) -> np.ndarray:
        """float32 mono at the corpus rate (16 kHz), about `duration_s` long."""
        ...
