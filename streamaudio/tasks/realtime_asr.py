"""Real-time ASR: clean or noisy speech, each word emitted in the chunk where it
ends."""

from __future__ import annotations

from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import (
    background_sounds,
    fit_words,
    noisy_bed_db,
    pick_voice,
    speech_event,
)
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "realtime_asr"
CLEAN_BED_OFFSET_DB = -12.0  # clean speech: the room tone well below the usual bed
MAX_WORDS = 40  # about 16 s at a slow speaking rate: fits 24 s with pauses
INSTRUCTION = "Transcribe what you hear."


def _passage(ctx: PlanContext, subtask: str, noisy: bool) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.asr:
        return Drop("no_text_catalog", "catalogs/text/asr_passages.jsonl is missing")
    rng = ctx.rng
    passages = ctx.texts.asr
    sentences = list(passages[int(rng.integers(0, len(passages)))].sentences)
    while len(sentences) < 4:  # a scene holds at least three events
        sentences += passages[int(rng.integers(0, len(passages)))].sentences
    sentences = fit_words(sentences, MAX_WORDS, 4)
    if len(sentences) < 3:
        return Drop("passage_too_long", f"only {len(sentences)} sentences fit {MAX_WORDS} words")
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    events = [speech_event(f"u{i}", text, voice, emit_words=True, continues_turn=i > 0)
              for i, text in enumerate(sentences)]
    if noisy:
        setting_name, background = background_sounds(ctx, int(rng.integers(1, 3)))
        return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask=subtask,
                         setting=setting_name, seed=ctx.seed, instruction=INSTRUCTION,
                         bed_offset_db=noisy_bed_db(ctx), events=events + background)
    setting = ctx.grammar.choose(rng)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask=subtask,
                     setting=setting.name, seed=ctx.seed, instruction=INSTRUCTION,
                     bed_offset_db=CLEAN_BED_OFFSET_DB, events=events)


@register("asr_clean", ABILITY,
          "One speaker reads three or four sentences in a quiet room; every word is emitted "
          "in the chunk where it ends.", speech=True)
def asr_clean(ctx: PlanContext) -> ScenePlan | Drop:
    return _passage(ctx, "asr_clean", noisy=False)


@register("asr_noisy", ABILITY,
          "One speaker over a loud ambience bed and background sounds (roughly 0-10 dB SNR); "
          "every word is emitted in the chunk where it ends.", speech=True)
def asr_noisy(ctx: PlanContext) -> ScenePlan | Drop:
    return _passage(ctx, "asr_noisy", noisy=True)
