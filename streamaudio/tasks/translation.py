"""Streaming translation: speech in one language, the translation of each sentence
(or each turn of a dialogue) in the chunk where it ends. English -> Chinese from
one speaker or two alternating; Chinese -> English needs a Chinese TTS voice."""

from __future__ import annotations

import re

from streamaudio.schema import EventPlan, ScenePlan
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
from streamaudio.tasks.texts import Dialogue, DialogueLine

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


# Chinese -> English. Spoken Chinese runs at about four characters a second; 60
# characters leave room for the pauses, a lead-in, a tail and benign sounds.
MAX_CHARS = 60
ZH_INSTRUCTIONS = (
    "Translate what you hear into English.",
    "Please give me an English translation of each sentence.",
    "Interpret this speaker into English for me.",
)
_CJK = re.compile(r"[\u3400-\u9fff]")


def spoken_chars(text: str) -> int:
    """Chinese characters that are spoken (punctuation is not)."""
    return len(_CJK.findall(text))


@register("zh_en_translation", ABILITY,
          "One Chinese speaker, one to four sentences (often a short passage); each sentence's "
          "English translation comes in the chunk holding its last character. Needs a Chinese "
          "TTS voice (CosyVoice).", speech=True, languages=("zh",))
def zh_en_translation(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.en_zh:
        return Drop("no_text_catalog", "catalogs/text/en_zh_pairs.jsonl is missing")
    rng = ctx.rng
    groups = ctx.texts.passages()
    group = groups[int(rng.integers(0, len(groups)))]
    sentences = []
    for pair in group[:4]:
        if sum(spoken_chars(p.zh) for p in sentences) + spoken_chars(pair.zh) > MAX_CHARS:
            break
        sentences.append(pair)
    if not sentences:
        return Drop("passage_too_long", f"the first sentence exceeds {MAX_CHARS} characters")
    voice = pick_voice(ctx, "zh")
    if isinstance(voice, Drop):
        return voice
    events: list[EventPlan] = [
        speech_event(f"s{i}", pair.zh, voice, response=pair.en, emotion="normal",
                     language="zh", continues_turn=i > 0)
        for i, pair in enumerate(sentences)
    ]
    setting, background = background_sounds(ctx, max(1, 3 - len(events)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="zh_en_translation",
                     setting=setting, seed=ctx.seed,
                     instruction=ZH_INSTRUCTIONS[int(rng.integers(0, len(ZH_INSTRUCTIONS)))],
                     events=events + background)


# Dialogues: every line is a turn after a 0.8-2.4 s gap. A line is budgeted at
# 0.3 s a word plus 0.5 s of clip edges (the slowest offline voices at speed 0.9
# come close to that); the turns, the longest gaps, a lead-in, a tail and one
# benign sound before the first turn must fit 24 s, else grounding retries.
SECONDS_PER_WORD = 0.3
SECONDS_PER_CLIP = 0.5
TURN_BUDGET_S = 24.0 - 1.2 - 1.6 - 2.4  # stream minus longest lead-in, tail, one stretch
GAP_S = 2.4  # the longest gap between turns
DIALOGUE_INSTRUCTIONS = (
    "Translate what each person says into Chinese.",
    "Two people are talking; give me the Chinese of every line.",
    "Interpret this conversation into Mandarin, line by line.",
)


def line_seconds(line: DialogueLine) -> float:
    return SECONDS_PER_WORD * len(line.en.split()) + SECONDS_PER_CLIP


def dialogue_turns(dialogue: Dialogue, min_lines: int) -> list[DialogueLine]:
    """The leading lines of a dialogue whose turns and gaps fit a stream (fewer
    than `min_lines`: none)."""
    kept: list[DialogueLine] = []
    spent = -GAP_S  # the first turn follows the lead-in, not a gap
    for line in dialogue.lines:
        spent += GAP_S + line_seconds(line)
        if spent > TURN_BUDGET_S:
            break
        kept.append(line)
    return kept if len(kept) >= min_lines else []


def speaker_count(lines: list[DialogueLine]) -> int:
    return len({line.speaker for line in lines})


@register("dialogue_translation", ABILITY,
          "Two English speakers talk in turns, each keeping one voice; the Chinese of every "
          "line comes in the chunk holding its last word.", speech=True)
def dialogue_translation(ctx: PlanContext) -> ScenePlan | Drop:
    dialogues = [d for d in (ctx.texts.dialogues if ctx.texts else ())
                 if speaker_count(list(d.lines)) == 2]
    if not dialogues:
        return Drop("no_text_catalog", "catalogs/text/dialogues.jsonl has no two-person dialogue")
    rng = ctx.rng
    dialogue = dialogues[int(rng.integers(0, len(dialogues)))]
    lines = dialogue_turns(dialogue, 2)
    if speaker_count(lines) < 2:
        return Drop("dialogue_too_long", f"{dialogue.id}: two turns do not fit a stream")
    voices = pick_voices(ctx, "en", 2)
    if isinstance(voices, Drop):
        return voices
    voice_of = dict(zip(("A", "B"), voices, strict=True))
    events: list[EventPlan] = [
        speech_event(f"t{i}", line.en, voice_of[line.speaker], response=line.zh,
                     emotion="normal", speaker=line.speaker, voice_locked=True)
        for i, line in enumerate(lines)
    ]
    setting, background = background_sounds(ctx, max(1, 3 - len(events)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="dialogue_translation",
                     setting=setting, seed=ctx.seed,
                     instruction=DIALOGUE_INSTRUCTIONS[
                         int(rng.integers(0, len(DIALOGUE_INSTRUCTIONS)))],
                     events=events + background)
