"""Environment agent: act on a sound with a tool call, or stay silent when
nothing in the household needs an action."""

from __future__ import annotations

import json

from streamaudio.plan.grammar import Setting
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import Emotion, EventPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.events import pick, sound_event
from streamaudio.tasks.registry import PlanContext, register

ABILITY = "environment_agent"
ALARMS = ("alarm_siren", "alarm_clock")
# name fragments of classes that are (or could be read as) an actionable cue for an agent:
# alarms, phones, bells, timers/beeps, chimes, knocks and kettles
ACTIONABLE = ("alarm", "phone", "bell", "beep", "chime", "knock", "kettle")
# Someone at the door. Neither class has a recording here: grounding generates them
# (the synth's doorbell and knock recipes) and verifies them like any clip.
DOOR_CUES = ("doorbell", "door_knock")
# Planned length of a generated cue where the default (2 s) cuts it short: a chime rings
# out, and at 2 s TFJP takes its tail for the noise floor (SNR < 10 dB for 11 of 40
# seeds; none at 2.5 s or more).
CUE_SECONDS = {"doorbell": 3.0}
# Kitchen appliances that finished, each with the action an agent takes. The synth makes
# the two patterns distinctly (repeating groups of four short beeps; three long beeps);
# alarm_clock stays alarm_action's cue, and the catalog's electronic_beep clips (a sonar
# ping, a buzzer, a low-battery tone) are not an appliance finishing.
APPLIANCES = {
    "oven_timer_beeping": ("oven", {"power": "off"}),
    "microwave_beeping": ("notify", {"event": "microwave_done", "urgency": "normal"}),
}
# Where a door or a kitchen appliance is heard: homes, not farms, forests or markets.
# (The grammar given to a builder is restricted to classes with clips, so these cues
# cannot be listed in scenes.yaml: the settings are named here instead.)
HOME_SETTINGS = ("kitchen_morning", "living_room_evening", "home_office", "night_bedroom",
                 "stormy_night_house", "laundry_room")
KITCHEN_SETTINGS = ("kitchen_morning", "living_room_evening", "home_office")


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
    """The first `n_fg` classes as foreground turns the agent stays silent through,
    the rest as background."""
    return [sound_event(f"fg{i}", cls, "foreground", setting, ctx.catalog).model_copy(
                update={"verified_silent": True}) if i < n_fg
            else sound_event(f"bg{i - n_fg}", cls, "background", setting, ctx.catalog)
            for i, cls in enumerate(classes)]


def _setting(ctx: PlanContext, prefer: str = "", among: tuple[str, ...] = ()) -> Setting | Drop:
    """A setting with at least two household classes (one named in `among`, if
    given), preferably one listing `prefer`."""
    pool = [s for s in ctx.grammar.settings if len(household(s, ctx.catalog)) >= 2
            and (not among or s.name in among)]
    if not pool:
        return Drop("no_household_setting", "no setting has two non-actionable benign classes"
                    + (f" among {', '.join(among)}" if among else ""))
    preferred = [s for s in pool if prefer in s.hazards or prefer in s.benign]
    pool = preferred or pool
    return pool[int(ctx.rng.integers(0, len(pool)))]


def _cue_among_household(ctx: PlanContext, subtask: str, setting: Setting, cue: str,
                         response: str, emotion: Emotion) -> ScenePlan:
    """2-4 household sounds (1 or more of them foreground turns, silent) with the
    cue as a foreground turn after at least one of them."""
    rng = ctx.rng
    count = int(rng.integers(2, 5))
    n_fg = int(rng.integers(1, count + 1))
    events = _quiet_events(ctx, setting, pick(rng, household(setting, ctx.catalog), count), n_fg)
    trigger = sound_event("cue", cue, "foreground", setting, ctx.catalog,
                          response=response, emotion=emotion)
    if cue in CUE_SECONDS:
        trigger = trigger.model_copy(update={"duration_s": CUE_SECONDS[cue]})
    events.insert(int(rng.integers(1, n_fg + 1)), trigger)
    return ScenePlan(stream_id=ctx.stream_id, ability=ABILITY, subtask=subtask,
                     setting=setting.name, seed=ctx.seed, events=events)


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


@register("doorbell_action", ABILITY, negatives=True, summary=
          "A doorbell or a knock on the door (generated: no recording of either ships here) "
          "among 2-4 household sounds at home; the response is a JSON door_camera tool call "
          "in the chunk holding the cue's last core sample.")
def doorbell_action(ctx: PlanContext) -> ScenePlan | Drop:
    cue = pick(ctx.rng, list(DOOR_CUES), 1)[0]
    setting = _setting(ctx, among=HOME_SETTINGS)
    if isinstance(setting, Drop):
        return setting
    return _cue_among_household(ctx, "doorbell_action", setting, cue,
                                tool_call("door_camera", action="show"), "normal")


@register("appliance_action", ABILITY, negatives=True, summary=
          "An oven timer or a microwave beeping (generated) among 2-4 household sounds; the "
          "response is the appliance's JSON tool call (oven off, or a notify call) in the "
          "chunk holding the cue's last core sample.")
def appliance_action(ctx: PlanContext) -> ScenePlan | Drop:
    cue = pick(ctx.rng, sorted(APPLIANCES), 1)[0]
    setting = _setting(ctx, among=KITCHEN_SETTINGS)
    if isinstance(setting, Drop):
        return setting
    tool, args = APPLIANCES[cue]
    return _cue_among_household(ctx, "appliance_action", setting, cue,
                                tool_call(tool, **args), "normal")


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
