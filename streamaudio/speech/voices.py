"""What a listener can tell from a TTS voice: whether it sounds like a man or a
woman, and its accent. Only voices whose speaker is documented are listed; a
response built from these traits must plan its speech with voice_locked=True,
so that grounding never swaps the voice for another one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streamaudio.schema import VoicePlan
from streamaudio.speech.piper_tts import VOICE_ID as PIPER_VOICE

Gender = Literal["man", "woman"]


@dataclass(frozen=True)
class VoiceTraits:
    gender: Gender
    accent: str  # an adjective: "American", "Scottish"


# (backend, voice) -> traits. Piper's joe is a US man; flite's CMU Arctic voices are slt
# (US woman), rms (US man) and awb (Scottish man); kal16 is CMU's Kevin Lenzo (US man).
VOICE_TRAITS: dict[tuple[str, str], VoiceTraits] = {
    ("piper", PIPER_VOICE): VoiceTraits("man", "American"),
    ("flite", "slt"): VoiceTraits("woman", "American"),
    ("flite", "kal16"): VoiceTraits("man", "American"),
    ("flite", "awb"): VoiceTraits("man", "Scottish"),
    ("flite", "rms"): VoiceTraits("man", "American"),
}


def voice_traits(voice: VoicePlan) -> VoiceTraits | None:
    """The traits of a planned voice (None for a voice not in the table)."""
    return VOICE_TRAITS.get((voice.backend, voice.voice))


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe_voice(traits: VoiceTraits) -> str:
    """'a woman with an American accent'"""
    return f"a {traits.gender} with {article(traits.accent)} {traits.accent} accent"
