"""Real-time ASR: clean or noisy speech, several people taking turns, or one long
passage; each word emitted in the chunk where it ends."""

from __future__ import annotations

from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import (
    background_sounds,
    fit_words,
    noisy_bed_db,
    pick_voice,
    pick_voices,
    speech_event,
)
from streamaudio.tasks.registry import PlanContext, register
from streamaudio.tasks.texts import AsrPassage
from streamaudio.tasks.translation import dialogue_turns, speaker_count

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


SPEAKER_INSTRUCTION = ("Transcribe this conversation, and mark each change of speaker "
                       "with their tag: [A], [B] or [C].")


@register("asr_multi_speaker", ABILITY,
          "Two or three people take turns in a quiet room, each keeping one voice; every word "
          "is emitted in the chunk where it ends, a speaker's first word after a turn change "
          "tagged \"[A] \", \"[B] \" or \"[C] \".", speech=True)
def asr_multi_speaker(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.dialogues:
        return Drop("no_text_catalog", "catalogs/text/dialogues.jsonl is missing")
    rng = ctx.rng
    dialogue = ctx.texts.dialogues[int(rng.integers(0, len(ctx.texts.dialogues)))]
    lines = dialogue_turns(dialogue, 3)  # a scene holds at least three events
    if not lines:
        return Drop("dialogue_too_long", f"{dialogue.id}: three turns do not fit a stream")
    speakers = sorted({line.speaker for line in lines})
    voices = pick_voices(ctx, "en", speaker_count(lines))
    if isinstance(voices, Drop):
        return voices
    voice_of = dict(zip(speakers, voices, strict=True))
    events = [speech_event(f"u{i}", line.en, voice_of[line.speaker], emit_words=True,
                           speaker=line.speaker, voice_locked=True)
              for i, line in enumerate(lines)]
    setting = ctx.grammar.choose(rng)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="asr_multi_speaker",
                     setting=setting.name, seed=ctx.seed, instruction=SPEAKER_INSTRUCTION,
                     bed_offset_db=CLEAN_BED_OFFSET_DB, events=events)


# Long form: passages of one style back to back (the last one maybe cut after a
# sentence), until the estimated stream -- speech, the longest pauses, lead-in
# (1.2 s) and tail (1.6 s) -- reaches LONG_BUDGET_S. The estimate is the slow end
# of the offline voices (0.3 s a word at speed 1.0, plus 0.5 s of clip edges a
# sentence), so typical voices land near 18-21 s and the slowest near 23 s.
LONG_BUDGET_S = 23.2  # of 24 s: a margin for voices slower than the estimate
LONG_MIN_S = 19.0  # fewer estimated seconds is not long form
LONG_FIXED_S = 1.2 + 1.6  # longest lead-in and tail
PAUSE_S = 0.6  # the longest pause between sentences of one turn
SECONDS_PER_WORD = 0.3
SECONDS_PER_SENTENCE = 0.5
PACKING_TRIES = 8
LONG_INSTRUCTION = "Transcribe this talk as you hear it."


def long_form_seconds(sentences: list[str], speed: float) -> float:
    """Estimated stream seconds when one voice at `speed` reads `sentences` in a row."""
    speech = sum(SECONDS_PER_WORD * len(s.split()) / speed + SECONDS_PER_SENTENCE
                 for s in sentences)
    return LONG_FIXED_S + speech + PAUSE_S * max(len(sentences) - 1, 0)


def pack_passages(passages: list[AsrPassage], speed: float) -> list[str]:
    """Sentences of `passages` in order within the budget: whole passages while they
    fit, then the leading sentences of the next one that has any that fit."""
    sentences: list[str] = []
    for passage in passages:
        fitting = fit_budget(sentences, list(passage.sentences), speed)
        sentences += fitting
        if len(fitting) < len(passage.sentences) and fitting:
            break  # a passage cut short ends the talk
    return sentences


def fit_budget(before: list[str], more: list[str], speed: float) -> list[str]:
    """The leading sentences of `more` that still fit after `before`."""
    kept: list[str] = []
    for sentence in more:
        if long_form_seconds(before + kept + [sentence], speed) > LONG_BUDGET_S:
            break
        kept.append(sentence)
    return kept


@register("asr_long_form", ABILITY,
          "One speaker reads whole passages of one style back to back (about 18-23 s, short "
          "pauses between sentences, no sounds before the talk); every word is emitted in the "
          "chunk where it ends.", speech=True, stretches=False)
def asr_long_form(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.asr:
        return Drop("no_text_catalog", "catalogs/text/asr_passages.jsonl is missing")
    rng = ctx.rng
    styles = sorted({passage.style for passage in ctx.texts.asr})
    style = styles[int(rng.integers(0, len(styles)))]
    same = [passage for passage in ctx.texts.asr if passage.style == style]
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    # the fullest of a few drawn orders: sentences are long, so one order may stop short
    packings = [pack_passages([same[int(i)] for i in rng.permutation(len(same))], voice.speed)
                for _ in range(PACKING_TRIES)]
    sentences = max(packings, key=lambda packed: long_form_seconds(packed, voice.speed))
    if long_form_seconds(sentences, voice.speed) < LONG_MIN_S or len(sentences) < 3:
        return Drop("passages_too_short", f"{style} passages fill under {LONG_MIN_S:g} s")
    # one planned voice, not locked: as in asr_clean, a sentence the voice fails may be
    # read by another (the labels are the words either way); locking it made about a
    # quarter of attempts fail the round trip on some sentence
    events = [speech_event(f"u{i}", text, voice, emit_words=True, continues_turn=i > 0)
              for i, text in enumerate(sentences)]
    setting = ctx.grammar.choose(rng)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="asr_long_form",
                     setting=setting.name, seed=ctx.seed, instruction=LONG_INSTRUCTION,
                     bed_offset_db=CLEAN_BED_OFFSET_DB, events=events)
