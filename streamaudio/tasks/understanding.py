"""Streaming audio understanding: an instruction at the start asks about
sounds; the answer comes in the chunk where the sound asked about has ended."""

from __future__ import annotations

from streamaudio.plan.brief import SceneBrief
from streamaudio.schema import Emotion, ScenePlan
from streamaudio.speech.voices import describe_voice, voice_traits
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, pick_voice, sound_event, speech_event
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


# Music: what every clip of the class is played on (the label says it too). background_music
# is left out: its tracks (orchestral, chiptune, a piano piece) have no one instrument.
INSTRUMENTS = {
    "keyboard_instrument": "a piano or a harpsichord",
    "plucked_strings": "a guitar or a harp",
    "brass_horn": "a horn or a trumpet",
    "bowed_strings": "a cello",
    "mallet_percussion": "a xylophone",
    "drums_percussion": "drums",
}
_ASK_INSTRUMENT = (
    "What instrument is playing? Tell me when it ends.",
    "Name the instrument you hear.",
    "When the music stops, tell me which instrument it was.",
)
_INSTRUMENT_ANSWERS: tuple[tuple[str, Emotion], ...] = (
    ("That was {instrument}.", "normal"),
    ("It was played on {instrument}.", "normal"),
    ("Lovely, that was {instrument}!", "happy"),
    ("That sounded like {instrument}, nice!", "happy"),
)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


@register("music_qa", ABILITY, stretches=False, summary=(
          "An instruction asks which instrument plays; 0-2 other sounds of the setting "
          "(silent turns), then a music excerpt of one instrument class, whose end brings "
          "the answer naming the instrument (normal or happy)."))
def music_qa(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    playable = [name for name in INSTRUMENTS if ctx.catalog.by_class(name)]
    if not playable:
        return Drop("no_music_clips", "no instrument class has installed clips")
    music = pick(rng, playable, 1)[0]
    settings = [s for s in ctx.grammar.settings if music in s.benign]
    setting = (settings[int(rng.integers(0, len(settings)))] if settings
               else ctx.grammar.choose(rng))
    others = [name for name in setting.benign
              if ctx.catalog.classes[name].domain != "music"]
    if not others:
        return Drop("setting_too_small", f"{setting.name}: no sound that is not music")
    n_fg = int(rng.integers(0, 3))
    fg = [sound_event(f"fg{i}", name, "foreground", setting, ctx.catalog).model_copy(
              update={"verified_silent": True})
          for i, name in enumerate(pick(rng, others, n_fg))]
    text, emotion = _INSTRUMENT_ANSWERS[int(rng.integers(0, len(_INSTRUMENT_ANSWERS)))]
    excerpt = sound_event("music", music, "foreground", setting, ctx.catalog,
                          response=_sentence(text.format(instrument=INSTRUMENTS[music])),
                          emotion=emotion).model_copy(update={"kind": "music"})
    n_bg = max(int(rng.integers(1, 3)), 2 - n_fg)  # a plan has at least three events
    bg = [sound_event(f"bg{i}", name, "background", setting, ctx.catalog)
          for i, name in enumerate(pick(rng, others, n_bg))]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="music_qa",
                     setting=setting.name, seed=ctx.seed,
                     instruction=_choice(ctx, _ASK_INSTRUMENT), events=[*fg, excerpt, *bg])


# The place and the speaker. A setting is named from its description and the two most
# telling sounds heard (those listed in the fewest settings: footsteps say little).
_WHERE = ("Where do you think I am?", "Can you guess where I am right now?",
          "Where does it sound like I am?")
_WHO = ("Am I a man or a woman, do you think?", "Do I sound like a man or a woman?",
        "What can you tell about my voice?")
_VOICE_ANSWERS = ("You sound like {who}.", "I would say you are {who}.")


def _telling(ctx: PlanContext, heard: list[str], count: int) -> list[str]:
    """The `count` heard classes listed in the fewest settings, in the order heard."""
    spread = {name: sum(name in s.benign for s in ctx.grammar.settings) for name in heard}
    chosen = sorted(dict.fromkeys(heard), key=lambda name: (spread[name], heard.index(name)))
    return sorted(chosen[:count], key=heard.index)


@register("speaker_scene_qa", ABILITY, speech=True, summary=(
          "2-4 sounds of one setting (silent turns), then the user asks where they are "
          "(answer: the setting's description and two of the sounds heard) or whether they "
          "sound like a man or a woman (answer: the locked voice's gender and accent); "
          "answered in the chunk holding the question's last word."))
def speaker_scene_qa(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    heard = pick(rng, setting.benign, int(rng.integers(2, 5)))
    about_voice = bool(rng.uniform() < 0.5)
    voice = pick_voice(ctx, "en")
    if isinstance(voice, Drop):
        return voice
    if about_voice:
        known = [v for v in ctx.voices.get("en", ()) if voice_traits(v) is not None]
        if not known:
            return Drop("no_voice_traits", "no configured English voice has known traits")
        if voice_traits(voice) is None:  # redraw among the voices whose traits are known
            voice = known[int(rng.integers(0, len(known)))].model_copy(
                update={"speed": voice.speed})
        traits = voice_traits(voice)
        assert traits is not None
        question = _choice(ctx, _WHO)
        answer = _choice(ctx, _VOICE_ANSWERS).format(who=describe_voice(traits))
    else:
        question = _choice(ctx, _WHERE)
        labels = [ctx.catalog.classes[name].label for name in _telling(ctx, heard, 2)]
        answer = (f"It sounds like {setting.description}; I can hear "
                  f"{' and '.join(labels)}.")
    events = [sound_event(f"fg{i}", name, "foreground", setting, ctx.catalog).model_copy(
                  update={"verified_silent": True}) for i, name in enumerate(heard)]
    events.append(speech_event("question", question, voice, response=answer,
                               emotion="normal", voice_locked=about_voice))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="speaker_scene_qa",
                     setting=setting.name, seed=ctx.seed, events=events)
