"""Environment agent: act on a sound with a tool call, or stay silent when
nothing in the household needs an action."""

from __future__ import annotations

import json

from streamaudio.plan.grammar import Setting
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import EventPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, sound_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "environment_agent"
ALARMS = ("alarm_siren", "alarm_clock")
# name fragments of classes that are (or could be read as) an actionable cue for an agent:
# alarms, phones, bells, timers/beeps, chimes, knocks and kettles
ACTIONABLE = ("alarm", "phone", "bell", "beep", "chime", "knock", "kettle")


def tool_call(tool: str, **args: str) -> str:
    """A compact, deterministic JSON tool call: the response text of an agent trigger."""
    return json.dumps({"tool": tool, "args": args}, separators=(",", ":"), sort_keys=True)


def household(setting: Setting, catalog: Catalog) -> list[str]:
    """The setting's benign classes with no actionable cue (and no hazard)."""
    return [name for name in setting.benign
            if not catalog.classes[name].hazard
            and not any(fragment in name for fragment in ACTIONABLE)]


def _quiet_events(ctx: PlanContext, setting: Setting, classes: list[str],
                  n_fg: int) -> list[EventPlan]:
    return [sound_event(f"fg{i}" if i < n_fg else f"bg{i - n_fg}", cls,
                        "foreground" if i < n_fg else "background", setting, ctx.catalog)
            for i, cls in enumerate(classes)]


def _setting(ctx: PlanContext, prefer: str = "") -> Setting | Drop:
    """A setting with at least two household classes, preferably one listing `prefer`."""
    pool = [s for s in ctx.grammar.settings if len(household(s, ctx.catalog)) >= 2]
    if not pool:
        return Drop("no_household_setting", "no setting has two non-actionable benign classes")
    preferred = [s for s in pool if prefer in s.hazards or prefer in s.benign]
    pool = preferred or pool
    return pool[int(ctx.rng.integers(0, len(pool)))]


@register("alarm_action", ABILITY, negatives=True, summary=
          "An alarm among 2-4 benign sounds; the response is a JSON notify tool call in the "
          "chunk holding the alarm's last core sample.")
def alarm_action(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    alarms = [name for name in ALARMS if ctx.catalog.by_class(name)]
    if not alarms:
        return Drop("no_alarm_clips", "no alarm_siren or alarm_clock clips are installed")
    alarm = pick(rng, alarms, 1)[0]
    setting = _setting(ctx, prefer=alarm)
    if isinstance(setting, Drop):
        return setting
    count = int(rng.integers(2, 5))
    n_fg = int(rng.integers(1, count + 1))
    events = _quiet_events(ctx, setting, pick(rng, household(setting, ctx.catalog), count), n_fg)
    call = tool_call("notify", event=alarm, urgency="high")
    cue = sound_event("alarm", alarm, "foreground", setting, ctx.catalog,
                      response=call, emotion="urgent")
    events.insert(int(rng.integers(1, n_fg + 1)), cue)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="alarm_action",
                     setting=setting.name, seed=ctx.seed, events=events)


@register("agent_ignore", ABILITY,
          "Household sounds with no actionable cue (no hazards, alarms, phones or bells); "
          "every chunk is silent.")
def agent_ignore(ctx: PlanContext) -> ScenePlan | Drop:
    rng = ctx.rng
    setting = _setting(ctx)
    if isinstance(setting, Drop):
        return setting
    n_fg, n_bg = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    events = _quiet_events(ctx, setting, pick(rng, household(setting, ctx.catalog), n_fg + n_bg),
                           n_fg)
    if rng.uniform() < 0.5:
        ambient = pick(rng, setting.ambience, 1)[0]
        events.append(sound_event("amb0", ambient, "ambient", setting, ctx.catalog))
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask="agent_ignore",
                     setting=setting.name, seed=ctx.seed, verified_silent=True, events=events)
