"""Instruction following: a text instruction at the start sets up what to listen
for; the response comes in the chunk where the instruction is fulfilled."""

from __future__ import annotations

from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, sound_event
from streamaudio.tasks.registry import PlanContext, register

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
