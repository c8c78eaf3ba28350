"""What a subtask asks of a scene planner, and the check that a plan honours it.
The LLM planner feeds `check_scene`'s violations back to the model and
re-plans; any planner's output can be checked the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streamaudio.schema import EMOTIONS, MAX_EVENTS, MIN_EVENTS, Role, ScenePlan

TriggerRule = Literal["none", "one", "one_or_more"]
MIN_GAP_S = 0.8  # the shortest gap between two foreground turns (compose.gap_s low end)


@dataclass(frozen=True)
class SceneBrief:
    subtask: str
    ability: str
    description: str  # what the stream contains and what triggers a response
    min_events: int = MIN_EVENTS
    max_events: int = MAX_EVENTS
    triggers: TriggerRule = "none"
    trigger_role: Role = "foreground"
    trigger_hint: str = ""  # what a trigger event and its response look like
    verified_silent: bool = False  # every chunk silent: no trigger at all
    instruction_hint: str = ""  # what the stream-start instruction asks ("" if none)
    max_total_s: float = 24.0

    def __post_init__(self) -> None:
        if not MIN_EVENTS <= self.min_events <= self.max_events <= MAX_EVENTS:
            raise ValueError(
                f"brief {self.subtask}: need {MIN_EVENTS} <= min_events <= max_events "
                f"<= {MAX_EVENTS}, got {self.min_events}..{self.max_events}"
            )
        if self.verified_silent and self.triggers != "none":
            raise ValueError(f"brief {self.subtask}: a verified-silent scene has no triggers")
        if self.max_total_s <= 0:
            raise ValueError(f"brief {self.subtask}: max_total_s must be positive")


def _trigger_count_ok(rule: TriggerRule, count: int) -> bool:
    return {"none": count == 0, "one": count == 1, "one_or_more": count >= 1}[rule]


def check_scene(plan: ScenePlan, brief: SceneBrief) -> list[str]:
    """Every way `plan` breaks `brief`, as short sentences a model can act on;
    [] when it honours it. Works on unvalidated plans (`model_construct`)."""
    problems: list[str] = []
    events = plan.events
    if not brief.min_events <= len(events) <= brief.max_events:
        problems.append(
            f"the scene has {len(events)} events; it needs {brief.min_events} to {brief.max_events}"
        )
    if plan.verified_silent != brief.verified_silent:
        problems.append(f"verified_silent must be {brief.verified_silent}")
    if not plan.setting.strip():
        problems.append("the setting is empty")
    if brief.instruction_hint and not plan.instruction.strip():
        problems.append("the instruction is empty; this subtask needs one")

    triggers = [event for event in events if event.trigger]
    if brief.verified_silent and triggers:
        problems.append("a verified-silent scene must have no trigger events")
    elif not _trigger_count_ok(brief.triggers, len(triggers)):
        wanted = {"none": "no", "one": "exactly one", "one_or_more": "at least one"}
        problems.append(
            f"the scene has {len(triggers)} trigger events; it needs {wanted[brief.triggers]}"
        )
    for event in triggers:
        if event.role != brief.trigger_role:
            problems.append(
                f"event {event.event_id}: only {brief.trigger_role} events may trigger, "
                f"not {event.role}"
            )
        if not event.response.strip():
            problems.append(f"event {event.event_id}: a trigger needs a response")
        if event.emotion not in EMOTIONS:
            problems.append(f"event {event.event_id}: emotion must be one of {', '.join(EMOTIONS)}")

    for event in events:
        for name in ("caption", "query", "fallback_caption"):
            if not getattr(event, name).strip():
                problems.append(f"event {event.event_id}: {name} is empty")
        if event.duration_s is None:
            problems.append(f"event {event.event_id}: duration_s is missing")
        elif not 0 < event.duration_s <= brief.max_total_s:
            problems.append(
                f"event {event.event_id}: duration_s {event.duration_s:g} is outside "
                f"(0, {brief.max_total_s:g}]"
            )

    foreground = [event for event in events if event.role == "foreground"]
    if not foreground:
        problems.append("the scene needs at least one foreground event")
    planned = sum(event.duration_s or 0.0 for event in foreground)
    total = planned + MIN_GAP_S * max(len(foreground) - 1, 0)
    if total > brief.max_total_s:
        problems.append(
            f"foreground events last {planned:g} s plus {MIN_GAP_S:g} s gaps = {total:g} s; "
            f"at most {brief.max_total_s:g} s fit in the stream"
        )
    return problems
