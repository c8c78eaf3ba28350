"""Instruction following: a text instruction at the start sets up what to listen
for; the response comes in the chunk where the instruction is fulfilled."""

from __future__ import annotations

import re

from streamaudio.plan.grammar import Setting
from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.environment_agent import household
from streamaudio.tasks.events import (
    background_sounds,
    pick,
    pick_voices,
    sound_event,
    speech_event,
)
from streamaudio.tasks.registry import PlanContext, register
from streamaudio.tasks.texts import TextCatalog
from streamaudio.tasks.voice_chat import turns_fit

ABILITY = "instruction_following"

_NOTIFY_ME = (
    "Tell me when you hear {label}.",
    "Let me know when there's {label}.",
    "Please notify me as soon as you hear {label}.",
    "Keep an ear out for {label} and tell me when it happens.",
    "I'm waiting for {label}; say something when you hear it.",
)
_NOTIFICATION = (
    "There it is: {label}.",
    "Heads up: {label}, just now.",
    "You asked me to listen for it: {label}.",
    "That's {label} now, as you asked.",
)
_COUNT = (
    "Count how many times you hear {label}.",
    "How many times do you hear {label}? Keep count for me.",
    "Please keep count of {label} and tell me the total.",
)
COUNT_WORDS = ("one", "two", "three", "four", "five")
MAX_OCCURRENCES = len(COUNT_WORDS)
MAX_FOREGROUND = 7  # so the turns fit a 24 s stream


def _choice(ctx: PlanContext, options: tuple[str, ...]) -> str:
    return options[int(ctx.rng.integers(0, len(options)))]


def count_response(label: str, count: int) -> str:
    times = "time" if count == 1 else "times"
    return f"I heard {label} {COUNT_WORDS[count - 1]} {times}."


@register("notify_on_sound", ABILITY, negatives=True, summary=(
          "An instruction asks to be told when a named sound happens; unrelated sounds come "
          "first, then the cue, answered with a notification (urgent for hazards) in the "
          "chunk holding the cue's last core sample."))
def notify_on_sound(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    cue = pick(rng, setting.benign + setting.hazards, 1)[0]
    cls = ctx.catalog.classes[cue]
    others = [name for name in setting.benign if name != cue]
    if not others:
        return Drop("setting_too_small", f"{setting.name}: no distractor classes")
    response = _choice(ctx, _NOTIFICATION).format(label=cls.label)
    if cls.hazard:
        response = f"{response} {cls.warning}"
    cue_event = sound_event("cue", cue, "foreground", setting, ctx.catalog,
                            response=response, emotion="urgent" if cls.hazard else "normal")
    events = [sound_event(f"fg{i}", name, "foreground", setting, ctx.catalog)
              for i, name in enumerate(pick(rng, others, int(rng.integers(2, 5))))]
    events.append(cue_event)
    events += [sound_event(f"bg{i}", name, "background", setting, ctx.catalog)
               for i, name in enumerate(pick(rng, others, int(rng.integers(1, 3))))]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="notify_on_sound",
                     setting=setting.name, seed=ctx.seed,
                     instruction=_choice(ctx, _NOTIFY_ME).format(label=cls.label),
                     events=events)


@register("count_events", ABILITY, summary=(
          "An instruction asks to count a sound; 1-5 occurrences come among distractors and "
          "the count, in words, is given in the chunk holding the last occurrence's last "
          "core sample."))
def count_events(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    target = pick(rng, setting.benign, 1)[0]
    label = ctx.catalog.classes[target].label
    others = [name for name in setting.benign if name != target]
    if not others:
        return Drop("setting_too_small", f"{setting.name}: no distractor classes")
    count = int(rng.integers(1, MAX_OCCURRENCES + 1))
    n_distractors = int(rng.integers(1, min(3, MAX_FOREGROUND - count) + 1))
    # the last foreground turn is the last occurrence; the rest are shuffled before it
    turns = [True] * (count - 1) + [False] * n_distractors
    turns = [turns[int(i)] for i in rng.permutation(len(turns))] + [True]
    distractors = iter(pick(rng, others, n_distractors))
    events = []
    occurrence = 0
    for index, is_target in enumerate(turns):
        if not is_target:
            events.append(sound_event(f"fg{index}", next(distractors), "foreground", setting,
                                      ctx.catalog))
            continue
        occurrence += 1
        last = occurrence == count
        events.append(sound_event(
            f"occ{occurrence}", target, "foreground", setting, ctx.catalog,
            response=count_response(label, count) if last else "",
            emotion="normal" if last else None))
    events += [sound_event(f"bg{i}", name, "background", setting, ctx.catalog)
               for i, name in enumerate(pick(rng, others, int(rng.integers(1, 3))))]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="count_events",
                     setting=setting.name, seed=ctx.seed,
                     instruction=_choice(ctx, _COUNT).format(label=label), events=events)


# first names that the TTS voices say and Whisper spells back alike, also at the start of
# a message (round trip, five voices); Sarah, Laura, Emma, Anna, Kate, Ben and Nick came
# back as "Sara", "Lord", "M", "And", "Gate", "Then" or "Next" too often to be used
NAMES = ("Alex", "Tom", "David", "Lucy", "Mark", "Peter", "Daniel", "Sophie", "Jack", "Helen",
         "Paul", "Chris", "Grace", "James", "Rachel", "Oliver")
_LISTEN_FOR_NAME = (
    "When someone says my name, {name}, summarise what they said.",
    "My name is {name}. If anyone speaks to me, tell me in one sentence what they said.",
    "I'm {name}. Listen for my name and sum up what was said to me.",
    "Listen out for my name, {name}, and give me a short summary of the message.",
)
MAX_DISTRACTORS = 3
MAX_DISTRACTOR_WORDS = 12


def mentions(text: str, name: str) -> bool:
    """Whether a word of `text` starts with `name` ("Mark", "mark", "market", "Mark's"):
    anything a listener could hear as the name."""
    return re.search(rf"\b{re.escape(name)}", text, re.IGNORECASE) is not None


def overheard(texts: TextCatalog) -> list[str]:
    """Short speech not addressed to the listener: spoken passages (not dictation, which
    says its formatting) and what people say in conversations."""
    passages = [sentence for passage in texts.asr if passage.style != "dictation"
                for sentence in passage.sentences]
    chat = [exchange.user for conversation in texts.conversations
            for exchange in conversation.exchanges]
    return [text for text in passages + chat if len(text.split()) <= MAX_DISTRACTOR_WORDS]


@register("name_trigger_summary", ABILITY, speech=True, negatives=True, stretches=False,
          summary=(
          "An instruction gives the listener's name and asks for a summary of what is said "
          "to them; one to three utterances without the name (other voices, verified silent) "
          "come first, then a message addressed by name, summarised in one sentence in the "
          "chunk holding its last word."))
def name_trigger_summary(ctx: PlanContext) -> ScenePlan | Drop:
    if ctx.texts is None or not ctx.texts.name_messages:
        return Drop("no_text_catalog", "catalogs/text/name_messages.jsonl is missing")
    rng = ctx.rng
    message = ctx.texts.name_messages[int(rng.integers(0, len(ctx.texts.name_messages)))]
    names = [name for name in NAMES if not mentions(message.message, name)]
    if not names:
        return Drop("name_in_message", f"{message.id} could be heard to say every name")
    name = names[int(rng.integers(0, len(names)))]
    addressed = message.message.replace("{name}", name)
    pool = [text for text in overheard(ctx.texts) if not mentions(text, name)]
    wanted = int(rng.integers(1, MAX_DISTRACTORS + 1))
    distractors: list[str] = []
    for index in rng.permutation(len(pool)):
        if len(distractors) == wanted:
            break
        if pool[int(index)] not in distractors and turns_fit(
                [*distractors, pool[int(index)], addressed]):
            distractors.append(pool[int(index)])
    if not distractors:
        return Drop("message_too_long", f"{message.id}: no other speech fits beside it")
    count = min(1 + len(distractors), len(ctx.voices.get("en", ())))
    voices = pick_voices(ctx, "en", max(count, 2))
    if isinstance(voices, Drop):
        return voices
    others = voices[1:]
    events = [speech_event(f"talk{i}", text, others[i % len(others)],
                           speaker=chr(ord("B") + i % len(others)), verified_silent=True)
              for i, text in enumerate(distractors)]
    events.append(speech_event("named", addressed, voices[0], response=message.summary,
                               emotion="normal", speaker="A"))
    setting, background = background_sounds(ctx, int(rng.integers(1, 3)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="name_trigger_summary",
                     setting=setting, seed=ctx.seed,
                     instruction=_choice(ctx, _LISTEN_FOR_NAME).format(name=name),
                     events=[*events, *background])


# sounds that go on and then stop: (the condition as said, the reminder's opening)
CONDITIONS = {
    "background_music": ("the music stops", "The music has stopped"),
    "keyboard_instrument": ("the piano stops", "The piano has stopped"),
    "plucked_strings": ("the guitar stops", "The guitar has stopped"),
    "bowed_strings": ("the cello stops", "The cello has stopped"),
    "mallet_percussion": ("the xylophone stops", "The xylophone has stopped"),
    "drums_percussion": ("the drumming stops", "The drumming has stopped"),
    "brass_horn": ("the horn stops playing", "The horn has stopped playing"),
    "keyboard_typing": ("the typing stops", "The typing has stopped"),
    "phone_ringing": ("the phone stops ringing", "The phone has stopped ringing"),
    "sizzling_hiss": ("the sizzling stops", "The sizzling has stopped"),
    "water_splash": ("the splashing stops", "The splashing has stopped"),
    "wood_chopping": ("the chopping stops", "The chopping has stopped"),
    "digging": ("the digging stops", "The digging has stopped"),
    "bees_buzzing": ("the buzzing stops", "The buzzing has stopped"),
}
TASKS = ("call Mum", "hang out the washing", "take my tablets", "feed the cat",
         "water the plants", "put the kettle on", "text Sarah back", "take the bins out",
         "ring the garage about my car", "start my homework", "phone Grandma",
         "check the bread in the oven", "pay the electricity bill", "stretch my legs",
         "move the washing into the dryer", "book the dentist", "send the email to Tom",
         "walk the dog")
_REMIND_ME = (
    "Remind me to {task} when {condition}.",
    "When {condition}, remind me to {task}.",
    "Once {condition}, tell me to {task}.",
    "I need to {task} after {condition}. Remind me then.",
)
_REMINDER = (
    "{stopped}: time to {task}.",
    "{stopped}. Don't forget to {task}.",
    "{stopped}, so now is the time to {task}.",
)


def your(task: str) -> str:
    """The task as the reminder says it back: "take my tablets" -> "take your tablets"."""
    return re.sub(r"\bmy\b", "your", task)


MIN_CONDITION_S = 1.5  # a condition must go on for a while before it can stop


def sustained(ctx: PlanContext, sound_class: str) -> bool:
    """Whether every installed clip of a class lasts long enough to be heard stopping
    (grounding may pick any of them; many instrument and typing clips are single
    notes or keystrokes)."""
    entries = ctx.catalog.by_class(sound_class)
    return bool(entries) and all(entry.duration_s >= MIN_CONDITION_S for entry in entries)


def _condition_setting(ctx: PlanContext) -> tuple[Setting, list[str], list[str]] | Drop:
    """A setting with a sustained condition sound and two quiet classes that are not
    condition sounds."""
    pool = []
    for setting in ctx.grammar.settings:
        conditions = [name for name in setting.benign if name in CONDITIONS
                      and not ctx.catalog.classes[name].hazard and sustained(ctx, name)]
        quiet = [name for name in household(setting, ctx.catalog) if name not in CONDITIONS]
        if conditions and len(quiet) >= 2:
            pool.append((setting, conditions, quiet))
    if not pool:
        return Drop("no_condition_setting", "no setting has a sustained sound that stops "
                    f"(clips of {MIN_CONDITION_S:g} s or more) and two quiet classes")
    return pool[int(ctx.rng.integers(0, len(pool)))]


# the verified-silent sounds already precede the condition; a stretch could add another
# condition-like sound (a piano before "when the music stops")
@register("delayed_instruction", ABILITY, negatives=True, stretches=False, summary=(
          "An instruction to be reminded of a task when a sound stops (music, typing, a "
          "phone ringing...); two or three other sounds (verified silent) come first, then "
          "the condition sound, and the reminder comes in the chunk holding its last core "
          "sample."))
def delayed_instruction(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    chosen = _condition_setting(ctx)
    if isinstance(chosen, Drop):
        return chosen
    setting, conditions, quiet = chosen
    condition = pick(rng, conditions, 1)[0]
    said, stopped = CONDITIONS[condition]
    task = _choice(ctx, TASKS)
    events = [sound_event(f"fg{i}", name, "foreground", setting, ctx.catalog).model_copy(
                  update={"verified_silent": True})
              for i, name in enumerate(pick(rng, quiet, int(rng.integers(2, min(3, len(
                  quiet)) + 1))))]
    events.append(sound_event("condition", condition, "foreground", setting, ctx.catalog,
                              response=_choice(ctx, _REMINDER).format(stopped=stopped,
                                                                       task=your(task)),
                              emotion="normal"))
    events += [sound_event(f"bg{i}", name, "background", setting, ctx.catalog)
               for i, name in enumerate(pick(rng, quiet, int(rng.integers(1, 3))))]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="delayed_instruction",
                     setting=setting.name, seed=ctx.seed,
                     instruction=_choice(ctx, _REMIND_ME).format(task=task, condition=said),
                     events=events)
