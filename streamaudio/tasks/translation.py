"""Streaming translation: English speech, a Chinese translation of each sentence
in the chunk where that sentence ends."""

from __future__ import annotations

from streamaudio.schema import EventPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import (
    background_sounds,
    fit_words,
    noisy_bed_db,
    pick_voice,
    speech_event,
)
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "translation"
MAX_WORDS = 40
INSTRUCTIONS = (
    "Translate what you hear into Chinese.",
    "Please give me a Chinese translation of each sentence.",
    "Interpret this speaker into Mandarin for me.",
)


def _translation(ctx: PlanContext, subtask: str, noisy: bool) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.en_zh:
        return Drop("no_text_catalog", "catalogs/text/en_zh_pairs.jsonl is missing")
    rng = ctx.rng
    groups = ctx.texts.passages()
    group = groups[int(rng.integers(0, len(groups)))]
    kept = fit_words([pair.en for pair in group], MAX_WORDS, 4)
    if not kept:
        return Drop("passage_too_long", f"the first sentence exceeds {MAX_WORDS} words")
    sentences = group[: len(kept)]
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    events: list[EventPlan] = [
        speech_event(f"s{i}", pair.en, voice, response=pair.zh, emotion="normal",
                     continues_turn=i > 0)
        for i, pair in enumerate(sentences)
    ]
    extra = int(rng.integers(1, 3)) if noisy else 0
    setting, background = background_sounds(ctx, max(1, 3 - len(events)) + extra)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask=subtask,
                     setting=setting, seed=ctx.seed,
                     instruction=INSTRUCTIONS[int(rng.integers(0, len(INSTRUCTIONS)))],
                     events=events + background,
                     bed_offset_db=noisy_bed_db(ctx) if noisy else 0.0)


@register("en_zh_translation", ABILITY,
          "One English speaker, one to four sentences (often a short passage); each sentence's "
          "Chinese translation comes in the chunk holding its last word.", speech=True)
def en_zh_translation(ctx: PlanContext) -> ScenePlan | Drop:
    return _translation(ctx, "en_zh_translation", noisy=False)


@register("translation_in_noise", ABILITY,
          "English sentences over a loud bed and background sounds (roughly 0-10 dB SNR); "
          "each sentence's Chinese in the chunk holding its last word.", speech=True)
def translation_in_noise(ctx: PlanContext) -> ScenePlan | Drop:
    return _translation(ctx, "translation_in_noise", noisy=True)
