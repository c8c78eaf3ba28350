"""What grounding produces for one event, before layout: a processed clip and the
records that carry it (a chosen sound candidate, a spoken utterance). Grounding
makes these and composition reads them, so they live upstream of compose/ (plan ->
ground -> compose); this module imports nothing from either."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from streamaudio.schema import ClipRef, WordSpan

if TYPE_CHECKING:  # the verifier pulls in the index and its models: only its type here
    from streamaudio.retrieve.verify import ClipFeatures

Evidence = dict[str, float | int | str]


@dataclass(frozen=True)
class ProcessedClip:
    """A clip ready to place: TFJP output (or the raw clip for loopable textures)."""

    audio: np.ndarray  # float32 mono at the corpus rate
    core_start: int
    core_end: int
    lufs: float  # loudness of `audio`, for gain planning
    snr_db: float  # TFJP's estimate, kept as evidence


@dataclass(frozen=True)
class Chosen:
    """The clip a sound event is bound to, by whichever retriever chose it."""

    clip: ProcessedClip
    ref: ClipRef
    loopable: bool
    # what later events' continuity compares against: the raw clip's features where
    # the retriever measured them (embedding mode); None: measure the processed clip
    features: ClipFeatures | None
    evidence: Evidence


@dataclass(frozen=True)
class SpokenClip:
    """A speech event's utterance, ready to place: audio after TFJP, the words of
    its text timed by the ASR round trip (relative to the audio), and evidence."""

    clip: ProcessedClip
    ref: ClipRef
    words: tuple[WordSpan, ...]
    evidence: Evidence
