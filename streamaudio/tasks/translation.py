"""Streaming translation: English speech, a Chinese translation of each sentence
in the chunk where that sentence ends."""

from __future__ import annotations

from streamaudio.schema import EventPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import background_sounds, pick_voice, speech_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "translation"
INSTRUCTIONS = (
    "Translate what you hear into Chinese.",
    "Please give me a Chinese translation of each sentence.",
    "Interpret this speaker into Mandarin for me.",
)


@register("en_zh_translation", ABILITY,
          "One English speaker, one to four sentences (often a short passage); each sentence's "
          "Chinese translation comes in the chunk holding its last word.")
def en_zh_translation(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.en_zh:
        return Drop("no_text_catalog", "catalogs/text/en_zh_pairs.jsonl is missing")
    rng = ctx.rng
    groups = ctx.texts.passages()
    sentences = groups[int(rng.integers(0, len(groups)))][:4]
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    events: list[EventPlan] = [
        speech_event(f"s{i}", pair.en, voice, response=pair.zh, emotion="normal")
        for i, pair in enumerate(sentences)
    ]
    setting, background = background_sounds(ctx, max(1, 3 - len(events)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="en_zh_translation",
                     setting=setting, seed=ctx.seed,
                     instruction=INSTRUCTIONS[int(rng.integers(0, len(INSTRUCTIONS)))],
                     events=events + background)
