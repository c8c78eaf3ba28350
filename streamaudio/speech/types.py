"""The speech contracts every backend and the round trip share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from streamaudio.stage import StageError


class SpeechUnavailable(StageError):
    """No configured backend can speak this language or voice (e.g. Chinese offline).
    The message names the backend to configure."""


class BackendError(RuntimeError):
    """A backend failed on one request (HTTP 500, timeout, malformed audio): the
    round trip counts it and may retry with another voice."""


@dataclass(frozen=True)
class VoiceSpec:
    """Who speaks and how: decided in the plan, per utterance."""

    backend: str  # "piper", "flite", "cosyvoice"
    voice: str  # backend-specific voice / speaker id, e.g. "en_US-joe-medium", "slt"
    speed: float = 1.0  # 1.0 = the voice's natural rate; 1.15 = 15 % faster
    language: str = "en"  # "en" or "zh"

    def key(self) -> str:
        return f"{self.backend}:{self.voice}:{self.speed:.3f}:{self.language}"


@dataclass(frozen=True)
class Synthesis:
    audio: np.ndarray  # float32 mono at the corpus sample rate (16 kHz)
    sample_rate: int
    voice: VoiceSpec
    backend_version: str  # e.g. "piper-tts 1.8.0 / en_US-joe-medium"


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: int  # samples, relative to the audio that was transcribed
    end: int  # exclusive


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    words: tuple[WordTiming, ...] = field(default_factory=tuple)


class TtsBackend(Protocol):
    name: str

    def version(self) -> str: ...

    def voices(self, language: str) -> list[str]: ...

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        """Raise BackendError for a failed request, SpeechUnavailable when the
        backend cannot speak `voice.language` at all."""
        ...


class AsrModel(Protocol):
    def version(self) -> str: ...

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript: ...
