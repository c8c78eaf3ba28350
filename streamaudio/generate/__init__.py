"""Fallback generation: when no retrieved clip passes verification, an event's sound
is made from its fallback caption (ElevenLabs, an AudioX server, or the offline
synth), cached, and catalogued with its provenance. Service clients are imported
only when configured (see store.make_generator)."""

from streamaudio.generate.store import (
    GeneratedClip,
    GeneratedClips,
    GeneratedRecord,
    GeneratorChain,
    make_generator,
)
from streamaudio.generate.synth import RECIPES, SynthGenerator, classify_prompt
from streamaudio.generate.types import GenerationError, GeneratorUnavailable, SoundGenerator

__all__ = [
    "RECIPES",
    "GeneratedClip",
    "GeneratedClips",
    "GeneratedRecord",
    "GenerationError",
    "GeneratorChain",
    "GeneratorUnavailable",
    "SoundGenerator",
    "SynthGenerator",
    "classify_prompt",
    "make_generator",
]
