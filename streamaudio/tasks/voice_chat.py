"""Voice chatting: a spoken question, answered in the chunk that holds its last
sample."""

from __future__ import annotations

from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import background_sounds, pick_voice, speech_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "voice_chat"


@register("single_turn_chat", ABILITY,
          "One spoken question among quiet everyday sounds; the answer (with the catalog's "
          "emotion) comes in the chunk holding the question's last word.", speech=True)
def single_turn_chat(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.qa:
        return Drop("no_text_catalog", "catalogs/text/qa_pairs.jsonl is missing")
    rng = ctx.rng
    pair = ctx.texts.qa[int(rng.integers(0, len(ctx.texts.qa)))]
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    setting, background = background_sounds(ctx, int(rng.integers(2, 4)))
    question = speech_event("question", pair.question, voice, response=pair.answer,
                            emotion=pair.emotion)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="single_turn_chat",
                     setting=setting, seed=ctx.seed, events=[question, *background])
