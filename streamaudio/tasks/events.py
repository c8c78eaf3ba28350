"""Turning a sound class into a planned event: caption, retrieval query and
fallback caption, written from the class label and the setting."""

from __future__ import annotations

import numpy as np

from streamaudio.plan.grammar import Setting
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import Emotion, EventPlan, Role, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.registry import PlanContext

_DISTANCE = {"foreground": "close by", "background": "in the background",
             "ambient": "all around"}


def sound_event(
    event_id: str,
    sound_class: str,
    role: Role,
    setting: Setting,
    catalog: Catalog,
    response: str = "",
    emotion: Emotion | None = None,
    verified_silent: bool = False,
) -> EventPlan:
    label = catalog.classes[sound_class].label
    return EventPlan(
        event_id=event_id,
        role=role,
        kind="sound",
        sound_class=sound_class,
        caption=f"{label.capitalize()} {_DISTANCE[role]}, in {setting.description}.",
        query=label,
        fallback_caption=f"A realistic recording of {label} {_DISTANCE[role]}, "
        f"as heard in {setting.description}.",
        trigger=bool(response),
        response=response,
        emotion=emotion,
        verified_silent=verified_silent,
    )


def pick(rng: np.random.Generator, names: list[str], count: int) -> list[str]:
    """`count` draws from `names`, without repeats while there are enough."""
    if count <= len(names):
        return [names[int(i)] for i in rng.permutation(len(names))[:count]]
    return [names[int(i)] for i in rng.integers(0, len(names), size=count)]



def pick_voice(ctx: PlanContext, language: str) -> VoicePlan | Drop:
    """A voice and speed for one speaker, drawn in the plan."""
    voices = ctx.voices.get(language, ())
    if not voices:
        return Drop("no_voice", f"no configured TTS voice speaks {language!r}")
    voice = voices[int(ctx.rng.integers(0, len(voices)))]
    speed = ctx.speeds[int(ctx.rng.integers(0, len(ctx.speeds)))]
    return voice.model_copy(update={"speed": speed})


def pick_voices(ctx: PlanContext, language: str, count: int) -> list[VoicePlan] | Drop:
    """`count` different voices (each at a drawn speed) for people who talk in turns."""
    voices = ctx.voices.get(language, ())
    if len(voices) < count:
        return Drop("too_few_voices", f"{count} speakers need {count} {language!r} voices, "
                    f"{len(voices)} configured")
    chosen = [voices[int(i)] for i in ctx.rng.permutation(len(voices))[:count]]
    return [voice.model_copy(update={"speed": ctx.speeds[int(ctx.rng.integers(
        0, len(ctx.speeds)))]}) for voice in chosen]


def speech_event(
    event_id: str,
    text: str,
    voice: VoicePlan,
    response: str = "",
    emotion: Emotion | None = None,
    emit_words: bool = False,
    language: str = "en",
    continues_turn: bool = False,
    speaker: str = "",
    voice_locked: bool = False,
    verified_silent: bool = False,
) -> EventPlan:
    return EventPlan(
        event_id=event_id,
        role="foreground",
        kind="speech",
        caption=f"A person says: \"{text}\"",
        query="a person speaking clearly",
        fallback_caption=f"Clear speech: {text}",
        text=text,
        language=language,
        voice=voice,
        trigger=bool(response),
        response=response,
        emotion=emotion,
        emit="words" if emit_words else "end",
        continues_turn=continues_turn,
        speaker=speaker,
        voice_locked=voice_locked,
        verified_silent=verified_silent,
    )


def background_sounds(ctx: PlanContext, count: int) -> tuple[str, list[EventPlan]]:
    """(setting name, `count` quiet benign background sounds from one setting)."""
    setting = ctx.grammar.choose(ctx.rng)
    events = [sound_event(f"bg{i}", cls, "background", setting, ctx.catalog)
              for i, cls in enumerate(pick(ctx.rng, setting.benign, count))]
    return setting.name, events


def fit_words(sentences: list[str], max_words: int, max_sentences: int) -> list[str]:
    """The leading sentences that stay within a word budget: a stream is at most
    24 s, and speech is never cut."""
    kept: list[str] = []
    for sentence in sentences[:max_sentences]:
        if sum(len(s.split()) for s in kept) + len(sentence.split()) > max_words:
            break
        kept.append(sentence)
    return kept


NOISY_BED_DB = (3.0, 13.0)  # above compose.bed_lufs: roughly 10 down to 0 dB SNR for speech


def noisy_bed_db(ctx: PlanContext) -> float:
    """A loud bed for the noisy variants, drawn in the plan."""
    return round(float(ctx.rng.uniform(*NOISY_BED_DB)), 2)
