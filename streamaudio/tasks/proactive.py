"""Proactive response: speak up unprompted when a sound matters, and stay
silent through benign ones (verified silence)."""

from __future__ import annotations

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


@register("hazard_alert", ABILITY,
          "A safety-relevant sound among benign ones; the response is a warning in the "
          "chunk holding the hazard's last core sample.")
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
          "Verified silence: ambience and benign everyday sounds only; every chunk is silent.")
def benign_silence(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = ctx.grammar.choose(rng)
    events = _benign_events(ctx, setting, int(rng.integers(2, 5)), int(rng.integers(1, 4)))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="benign_silence",
                     setting=setting.name, seed=ctx.seed, verified_silent=True, events=events)
