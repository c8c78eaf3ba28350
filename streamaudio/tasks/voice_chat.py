"""Voice chatting: a spoken question, answered in the chunk that holds its last
sample; quietly, or over a loud bed and busy background; several turns of one
conversation; or a chat whose last question recalls a fact stated turns before."""

from __future__ import annotations

from collections.abc import Sequence

from streamaudio.schema import MIN_HISTORY_TURNS, EventPlan, ScenePlan, VoicePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import background_sounds, noisy_bed_db, pick_voice, speech_event
from streamaudio.tasks.registry import PlanContext, register
from streamaudio.tasks.texts import ChatExchange, Conversation

ABILITY = "voice_chat"

# Worst-case timing of spoken turns, so a plan fits a 24 s stream before any speech is
# synthesised (grounding checks the real lengths, and a Retry there wastes the TTS): the
# slowest voice at speed 0.9 measured 0.94 s + 0.29 s a word, up to 0.9 s more with pauses
# at commas; the stream keeps room for the longest lead-in (1.2 s), tail (1.6 s) and gaps
# between turns (2.4 s) of the default compose settings.
TURN_S = 1.0  # per spoken turn: the voice's silence either side, and pauses
WORD_S = 0.36  # per word
GAP_S = 2.4
FREE_S = 24.0 - 1.2 - 1.6
MIN_SOUND_S = 0.2  # a foreground sound's shortest placed length (the grid)
MIN_EXCHANGES, MAX_EXCHANGES = 3, 7
MAX_FILLERS = 3  # answered turns between a history statement and its review question


def turns_fit(texts: Sequence[str], sounds: int = 0) -> bool:
    """Whether spoken turns (and `sounds` foreground sounds) fit a stream at the
    slowest voice and the longest gaps."""
    turns = len(texts) + sounds
    seconds = sum(TURN_S + WORD_S * len(text.split()) for text in texts)
    return seconds + MIN_SOUND_S * sounds + GAP_S * max(turns - 1, 0) <= FREE_S


def fitting_prefix(exchanges: Sequence[ChatExchange], most: int,
                   reserved: Sequence[str] = ()) -> int:
    """How many leading exchanges (at most `most`) fit a stream with the `reserved` turns.
    A conversation is taken from its start, so no turn refers to one left out."""
    count = 0
    while count < min(most, len(exchanges)) and turns_fit(
            [*reserved, *(e.user for e in exchanges[:count + 1])]):
        count += 1
    return count


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


def _answered(event_id: str, exchange: ChatExchange, voice: VoicePlan) -> EventPlan:
    return speech_event(event_id, exchange.user, voice, response=exchange.assistant,
                        emotion=exchange.emotion)


# a stretch of sounds before the first turn would take the time of one or two turns
@register("multi_turn_chat", ABILITY, speech=True, stretches=False, summary=(
          "Three or more consecutive exchanges from the start of one conversation, one "
          "speaker; each user turn is answered (with the exchange's emotion) in the chunk "
          "holding its last word, before the next turn; one or two quiet background sounds."))
def multi_turn_chat(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.conversations:
        return Drop("no_text_catalog", "catalogs/text/conversations.jsonl is missing")
    rng = ctx.rng
    conversation = ctx.texts.conversations[int(rng.integers(0, len(ctx.texts.conversations)))]
    longest = fitting_prefix(conversation.exchanges, MAX_EXCHANGES)
    if longest < MIN_EXCHANGES:
        return Drop("conversation_too_long", f"{conversation.id}: {longest} exchanges fit "
                    f"a stream, {MIN_EXCHANGES} needed")
    count = int(rng.integers(MIN_EXCHANGES, longest + 1))
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    turns = [_answered(f"turn{i}", exchange, voice)
             for i, exchange in enumerate(conversation.exchanges[:count])]
    setting, background = background_sounds(ctx, int(rng.integers(1, 3)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="multi_turn_chat",
                     setting=setting, seed=ctx.seed, events=[*turns, *background])


def _fillers(ctx: PlanContext, reserved: list[str]) -> tuple[Conversation, int] | Drop:
    """A conversation whose first exchanges fit between the reserved turns, and how many."""
    conversations = ctx.texts.conversations if ctx.texts is not None else ()
    least = MIN_HISTORY_TURNS - 1
    for index in ctx.rng.permutation(len(conversations)):
        conversation = conversations[int(index)]
        most = fitting_prefix(conversation.exchanges, MAX_FILLERS, reserved)
        if most >= least:
            return conversation, int(ctx.rng.integers(least, most + 1))
    return Drop("history_too_long", f"no conversation fits {least} turns between "
                f"{reserved!r}")


@register("history_review_chat", ABILITY, speech=True, stretches=False, summary=(
          "A user states a fact (acknowledged), chats for two or three answered turns from "
          "one conversation, then asks about the fact; the answer, recalling the statement "
          "at least three spoken turns back, comes in the chunk holding the question's last "
          "word. Emotion normal (the chat turns keep their exchange's emotion)."))
def history_review_chat(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.history or not ctx.texts.conversations:
        return Drop("no_text_catalog", "catalogs/text/history_facts.jsonl or "
                    "conversations.jsonl is missing")
    rng = ctx.rng
    fact = ctx.texts.history[int(rng.integers(0, len(ctx.texts.history)))]
    chosen = _fillers(ctx, [fact.statement, fact.question])
    if isinstance(chosen, Drop):
        return chosen
    conversation, count = chosen
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    # "When does my train leave?" is answered from the statement only if the same person
    # made it: the two turns keep the planned voice (the round trip may vary its speed)
    statement = speech_event("statement", fact.statement, voice, voice_locked=True,
                             response=fact.acknowledgement, emotion="normal")
    fillers = [_answered(f"chat{i}", exchange, voice)
               for i, exchange in enumerate(conversation.exchanges[:count])]
    review = EventPlan.model_validate(
        speech_event("review", fact.question, voice, response=fact.answer, emotion="normal",
                     voice_locked=True).model_dump() | {"recalls": statement.event_id})
    setting, background = background_sounds(ctx, int(rng.integers(1, 3)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="history_review_chat",
                     setting=setting, seed=ctx.seed,
                     events=[statement, *fillers, review, *background])
