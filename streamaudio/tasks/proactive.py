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
    rng = ctx.rng
    events = [
        sound_event(f"fg{i}", cls, "foreground", setting, ctx.catalog)
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


@register("hazard_alert", ABILITY,
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
