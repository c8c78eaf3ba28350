"""Proactive response: speak up unprompted when a sound matters, and stay
silent through benign ones (verified silence)."""

from __future__ import annotations

from streamaudio.plan.brief import SceneBrief
from streamaudio.plan.grammar import Setting
from streamaudio.schema import EventPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, sound_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "proactive_response"


def _benign_events(
    ctx: PlanContext, setting: Setting, foreground: int, background: int
) -> list[EventPlan]:
    """Benign foreground turns (verified silent), background sounds, maybe ambience."""
    rng = ctx.rng
    events = [
        sound_event(f"fg{i}", cls, "foreground", setting, ctx.catalog, verified_silent=True)
        for i, cls in enumerate(pick(rng, setting.benign, foreground))
    ]
    events += [
        sound_event(f"bg{i}", cls, "background", setting, ctx.catalog)
        for i, cls in enumerate(pick(rng, setting.benign, background))
    ]
    if rng.uniform() < 0.5:
        ambient = pick(rng, setting.ambience, 1)[0]
        events.append(sound_event("amb0", ambient, "ambient", setting, ctx.catalog))
    return events


HAZARD_BRIEF = SceneBrief(
    subtask="hazard_alert", ability=ABILITY, min_events=4, max_events=9, triggers="one",
    description="An everyday place with several ordinary sounds, and one sound that signals "
    "danger (glass breaking, an alarm, fire, a scream, a crash) somewhere after the first.",
    trigger_hint="the dangerous sound; its response is one short spoken warning telling the "
    "listener what was heard and what to check, with emotion urgent",
    max_total_s=22.0,
)
SILENCE_BRIEF = SceneBrief(
    subtask="benign_silence", ability=ABILITY, min_events=3, max_events=8, triggers="none",
    verified_silent=True, max_total_s=22.0,
    description="An everyday place with only ordinary, harmless sounds and ambience: nothing "
    "that needs a response (no alarms, breaking, screams or calls for help).",
)


@register("hazard_alert", ABILITY, negatives=True, summary=
          "A safety-relevant sound among benign ones; the response is a warning in the "
          "chunk holding the hazard's last core sample.", brief=HAZARD_BRIEF)
def hazard_alert(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng, need_hazard=True)
    events = _benign_events(ctx, setting, int(rng.integers(2, 5)), int(rng.integers(1, 4)))
    hazard = pick(rng, setting.hazards, 1)[0]
    cls = ctx.catalog.classes[hazard]
    alert = sound_event("hazard", hazard, "foreground", setting, ctx.catalog,
                        response=cls.warning or "", emotion=cls.emotion)
    foreground = [event for event in events if event.role == "foreground"]
    others = [event for event in events if event.role != "foreground"]
    foreground.insert(int(rng.integers(1, len(foreground) + 1)), alert)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="hazard_alert",
                     setting=setting.name, seed=ctx.seed, events=foreground + others)


@register("benign_silence", ABILITY,
          "Verified silence: ambience and benign everyday sounds only; every chunk is silent.",
          brief=SILENCE_BRIEF)
def benign_silence(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    events = _benign_events(ctx, setting, int(rng.integers(2, 5)), int(rng.integers(1, 4)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="benign_silence",
                     setting=setting.name, seed=ctx.seed, verified_silent=True, events=events)


@register("multi_event_alert", ABILITY,
          "Two different hazards with at least one benign turn between them; each gets its "
          "class's warning in its own chunk (ProactiveSound Multiple tier).")
def multi_event_alert(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng, need_hazard=True)
    if len(setting.hazards) >= 2:
        hazards = pick(rng, setting.hazards, 2)
    else:  # a second hazard from anywhere in the catalog that has clips
        others = [name for name in ctx.catalog.classes_where(hazard=True)
                  if name not in setting.hazards and ctx.catalog.by_class(name)]
        if not others:
            return Drop("no_second_hazard", f"setting {setting.name!r} has one hazard "
                        "and no other hazard class has clips")
        hazards = [setting.hazards[0], pick(rng, others, 1)[0]]
    # 2-4 benign turns and 1-2 background sounds (+ an optional ambience): 5-9 events
    events = _benign_events(ctx, setting, int(rng.integers(2, 5)), int(rng.integers(1, 3)))
    benign = [event for event in events if event.role == "foreground"]
    others_ = [event for event in events if event.role != "foreground"]
    alerts = []
    for index, hazard in enumerate(hazards):
        cls = ctx.catalog.classes[hazard]
        alerts.append(sound_event(f"hazard{index}", hazard, "foreground", setting, ctx.catalog,
                                  response=cls.warning or "", emotion=cls.emotion))
    # after the first benign turn, with at least one benign turn between the two hazards
    first = int(rng.integers(1, len(benign)))
    second = int(rng.integers(first + 1, len(benign) + 1))
    foreground = [*benign[:first], alerts[0], *benign[first:second], alerts[1],
                  *benign[second:]]
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="multi_event_alert",
                     setting=setting.name, seed=ctx.seed, events=foreground + others_)


# Human sound signals. Emotion: a scream may mean danger, so the check-in is urgent; a cry
# of pain calls for sympathy first, so it is sad (the taxonomy's "urgent or sad").
DISTRESS: dict[str, tuple[str, tuple[str, ...]]] = {
    "scream": ("urgent", (
        "I heard someone scream. Are you all right?",
        "That was a scream. Is everyone safe?",
        "Someone screamed just now. Do you need help?",
    )),
    "pain_cry": ("sad", (
        "That sounded painful. Are you all right?",
        "Oh no, that sounded like it hurt. Are you okay?",
        "I heard a cry of pain. Do you need any help?",
    )),
}
LAUGHTER = "laughter"
LAUGHTER_SHARE = 0.4  # streams with a laugh that must not trigger (ProactiveSound IGNORE)


@register("care_response", ABILITY,
          "A distress signal (scream or cry of pain) among benign sounds gets a caring "
          "check-in; laughter, when present, is ignored.")
def care_response(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    distress = [name for name in DISTRESS if ctx.catalog.by_class(name)]
    if not distress:
        return Drop("no_distress_clips", "no scream or pain_cry clips are installed")
    signal = pick(rng, distress, 1)[0]
    emotion, check_ins = DISTRESS[signal]
    setting = ctx.grammar.choose(rng)
    benign = [name for name in setting.benign if name != LAUGHTER]
    if not benign:
        return Drop("no_benign_sounds", f"setting {setting.name!r} has only laughter")
    count = int(rng.integers(2, 5))  # 2-4 benign events, the first in the foreground
    n_fg = int(rng.integers(1, count + 1))
    classes = pick(rng, benign, count)
    foreground = [sound_event(f"fg{i}", cls, "foreground", setting, ctx.catalog,
                              verified_silent=True) for i, cls in enumerate(classes[:n_fg])]
    background = [sound_event(f"bg{i}", cls, "background", setting, ctx.catalog)
                  for i, cls in enumerate(classes[n_fg:])]
    cry = sound_event("distress", signal, "foreground", setting, ctx.catalog,
                      response=check_ins[int(rng.integers(0, len(check_ins)))], emotion=emotion)
    foreground.insert(int(rng.integers(1, len(foreground) + 1)), cry)
    if ctx.catalog.by_class(LAUGHTER) and rng.uniform() < LAUGHTER_SHARE:
        laugh = sound_event("laughter", LAUGHTER, "foreground", setting, ctx.catalog,
                            verified_silent=True)
        foreground.insert(int(rng.integers(0, len(foreground) + 1)), laugh)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="care_response",
                     setting=setting.name, seed=ctx.seed, events=foreground + background)
