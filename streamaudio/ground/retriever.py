"""The one interface a plan's sound events are bound through: class mode
(ground/by_class.py) and embedding mode (ground/retrieval.py) both take an event,
the sound events bound before it and grounding's generator of draws, and return
the chosen clip or a counted Drop."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from streamaudio.ground.types import Chosen
from streamaudio.retrieve.verify import ClipFeatures, features
from streamaudio.schema import EventPlan
from streamaudio.stage import Drop

CANDIDATES_PER_EVENT = 3  # the paper verifies the top 3 candidates
NEIGHBOURS = 2  # continuity is checked against the sound events placed just before


class SoundRetriever(Protocol):
    def bind(self, event: EventPlan, before: Sequence[Chosen], rng: np.random.Generator,
             stats: Counter[str]) -> Chosen | Drop:
        """`before`: the scene's sound events already bound, in plan order. Every draw
        comes from `rng` (grounding's own stream), so the plan stays reproducible."""
        ...


def clip_features(chosen: Chosen, rate: int) -> ClipFeatures:
    """What continuity compares for a bound clip: the raw features its retriever
    measured, else its processed audio's (class mode keeps no raw audio)."""
    return chosen.features if chosen.features is not None else features(chosen.clip.audio, rate)


def neighbour_features(before: Sequence[Chosen], rate: int) -> list[ClipFeatures]:
    """The features continuity is checked against: the last NEIGHBOURS sound events."""
    return [clip_features(chosen, rate) for chosen in before[-NEIGHBOURS:]]
