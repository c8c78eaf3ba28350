"""Streaming audio understanding: an instruction at the start asks about
sounds; the answer comes in the chunk where the sound asked about has ended."""

from __future__ import annotations

from streamaudio.plan.brief import SceneBrief
from streamaudio.schema import ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, sound_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "audio_understanding"

_WAIT_FOR = (
    "Tell me when you hear {label}.",
    "Let me know as soon as there is {label}.",
    "Listen out for {label} and tell me when it happens.",
    "Can you say something when you hear {label}?",
)
_HEARD = (
    "There it is: {label}.",
    "I just heard {label}.",
    "That was {label}, just now.",
)
_NEXT_SOUND = (
    "What is the next sound you hear? Tell me once it's over.",
    "Describe the next thing you hear.",
    "Tell me what the next sound is.",
)
_IDENTIFIED = (
    "That was {label}.",
    "It sounded like {label}.",
    "I heard {label}.",
)


def _choice(ctx: PlanContext, options: tuple[str, ...]) -> str:
    return options[int(ctx.rng.integers(0, len(options)))]


QA_BRIEF = SceneBrief(
    subtask="sound_event_qa", ability=ABILITY, min_events=3, max_events=7, triggers="one",
    description="A text instruction at the start asks the listener about a sound (to say when "
    "a named sound happens, or to name the next sound); several sounds follow in one place.",
    trigger_hint="the sound the instruction asks about; its response answers the instruction "
    "in one short sentence naming the sound, emotion normal",
    instruction_hint="one short request about a sound, e.g. 'Tell me when you hear the kettle.'",
    max_total_s=22.0,
)


@register("sound_event_qa", ABILITY, brief=QA_BRIEF, stretches=False, summary=(
          "A text instruction asks about a sound (wait for a named sound, or name the next "
          "sound); the answer comes in the chunk holding that sound's last core sample."))
def sound_event_qa(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    candidates = setting.benign + setting.hazards
    target = pick(rng, candidates, 1)[0]
    label = ctx.catalog.classes[target].label
    others = [cls for cls in setting.benign if cls != target]
    if len(others) < 1:
        return Drop("setting_too_small", f"{setting.name}: no distractor classes")
    foreground_others = pick(rng, others, int(rng.integers(1, 4)))
    wait_for_named = bool(rng.uniform() < 0.6)
    if wait_for_named:
        instruction = _choice(ctx, _WAIT_FOR).format(label=label)
        response = _choice(ctx, _HEARD).format(label=label)
        position = int(rng.integers(1, len(foreground_others) + 1))
    else:
        instruction = _choice(ctx, _NEXT_SOUND)
        response = _choice(ctx, _IDENTIFIED).format(label=label)
        position = 0
    answer = sound_event("target", target, "foreground", setting, ctx.catalog,
                         response=response[0].upper() + response[1:], emotion="normal")
    events = [sound_event(f"fg{i}", cls, "foreground", setting, ctx.catalog)
              for i, cls in enumerate(foreground_others)]
    events.insert(position, answer)
    events += [sound_event(f"bg{i}", cls, "background", setting, ctx.catalog)
               for i, cls in enumerate(pick(rng, others, int(rng.integers(1, 3))))]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="sound_event_qa",
                     setting=setting.name, seed=ctx.seed, instruction=instruction,
                     events=events)


_DESCRIBE = (
    "Describe what happens.",
    "Listen, and tell me what you heard, in order, once it's over.",
    "Describe the sounds in the order they happen.",
)


def describe_in_order(labels: list[str]) -> str:
    """'First a, then b, and finally c.' from the labels in order."""
    middle = "".join(f", then {label}" for label in labels[1:-1])
    return f"First {labels[0]}{middle}, and finally {labels[-1]}."


@register("scene_description", ABILITY, stretches=False, summary=(
          "An instruction asks for a description; 3-5 sounds from one setting follow, and the "
          "sentence listing them in order comes in the chunk holding the last one's last "
          "core sample."))
def scene_description(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    count = int(rng.integers(3, 6))
    # a cycle through a shuffled setting: no repeats while there are enough classes,
    # and never the same sound twice in a row
    order = [setting.benign[int(i)] for i in rng.permutation(len(setting.benign))]
    classes = [order[i % len(order)] for i in range(count)]
    labels = [ctx.catalog.classes[name].label for name in classes]
    events = [sound_event(f"fg{i}", name, "foreground", setting, ctx.catalog)
              for i, name in enumerate(classes[:-1])]
    events.append(sound_event(f"fg{count - 1}", classes[-1], "foreground", setting,
                              ctx.catalog, response=describe_in_order(labels),
                              emotion="normal"))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="scene_description",
                     setting=setting.name, seed=ctx.seed,
                     instruction=_choice(ctx, _DESCRIBE), events=events)
