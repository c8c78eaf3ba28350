"""Voice chatting: a spoken question, answered in the chunk that holds its last
sample; quietly, or over a loud bed and busy background."""

from __future__ import annotations

from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import background_sounds, noisy_bed_db, pick_voice, speech_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "voice_chat"


def _chat(ctx: PlanContext, subtask: str, noisy: bool) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.qa:
        return Drop("no_text_catalog", "catalogs/text/qa_pairs.jsonl is missing")
    rng = ctx.rng
    pair = ctx.texts.qa[int(rng.integers(0, len(ctx.texts.qa)))]
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    setting, background = background_sounds(ctx, int(rng.integers(2, 5 if noisy else 4)))
    question = speech_event("question", pair.question, voice, response=pair.answer,
                            emotion=pair.emotion)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask=subtask,
                     setting=setting, seed=ctx.seed, events=[question, *background],
                     bed_offset_db=noisy_bed_db(ctx) if noisy else 0.0)


@register("single_turn_chat", ABILITY,
          "One spoken question among quiet everyday sounds; the answer (with the catalog's "
          "emotion) comes in the chunk holding the question's last word.", speech=True)
def single_turn_chat(ctx: PlanContext) -> ScenePlan | Drop:
    return _chat(ctx, "single_turn_chat", noisy=False)


@register("chat_in_noise", ABILITY,
          "A spoken question at roughly 0-10 dB SNR over a loud real ambience bed and "
          "background sounds; answered where its last word ends.", speech=True)
def chat_in_noise(ctx: PlanContext) -> ScenePlan | Drop:
    return _chat(ctx, "chat_in_noise", noisy=True)
