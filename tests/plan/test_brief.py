"""check_scene: one test per rule, on plans that break exactly that rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from streamaudio.plan.brief import SceneBrief, check_scene
from streamaudio.schema import EventPlan, ScenePlan

HAZARD = SceneBrief(
    subtask="hazard_alert",
    ability="proactive_response",
    description="benign sounds and one hazard",
    min_events=3,
    max_events=6,
    triggers="one",
    trigger_hint="a safety-relevant sound",
)


def event(i: int, role: str = "foreground", trigger: bool = False, **update: Any) -> EventPlan:
    fields: dict[str, Any] = {
        "event_id": f"e{i}",
        "role": role,
        "kind": "sound",
        "caption": f"sound {i}",
        "query": f"query {i}",
        "fallback_caption": f"a recording of sound {i}",
        "duration_s": 2.0,
        "trigger": trigger,
    }
    if trigger:
        fields |= {"response": "Watch out!", "emotion": "urgent"}
    return EventPlan.model_construct(**(fields | update))


def scene(events: list[EventPlan], **update: Any) -> ScenePlan:
    fields: dict[str, Any] = {
        "stream_id": "s0",
        "ability": "proactive_response",
        "subtask": "hazard_alert",
        "setting": "a kitchen",
        "seed": 1,
        "events": events,
    }
    return ScenePlan.model_construct(**(fields | update))


def good() -> list[EventPlan]:
    return [event(0), event(1, trigger=True), event(2, "background"), event(3, "ambient")]


def test_a_good_plan_has_no_violations() -> None:
    plan = ScenePlan.model_validate(scene(good()).model_dump())  # really valid
    assert check_scene(plan, HAZARD) == []


Case = tuple[Callable[[], ScenePlan], SceneBrief, str]
CASES: dict[str, Case] = {
    "too_few": (lambda: scene(good()[:2]), HAZARD, "has 2 events; it needs 3 to 6"),
    "too_many": (
        lambda: scene(good() + [event(i, "background") for i in range(4, 7)]),
        HAZARD,
        "has 7 events",
    ),
    "no_trigger": (
        lambda: scene([event(0), event(1), event(2)]),
        HAZARD,
        "0 trigger events; it needs exactly one",
    ),
    "two_triggers": (
        lambda: scene([event(0, trigger=True), event(1, trigger=True), event(2)]),
        HAZARD,
        "2 trigger events; it needs exactly one",
    ),
    "one_or_more": (
        lambda: scene([event(0), event(1), event(2)]),
        SceneBrief("s", "a", "d", triggers="one_or_more"),
        "needs at least one",
    ),
    "none_wanted": (lambda: scene(good()), SceneBrief("s", "a", "d"), "needs no"),
    "trigger_role": (
        lambda: scene([event(0), event(1, "background", trigger=True), event(2)]),
        HAZARD,
        "only foreground events may trigger, not background",
    ),
    "silent_trigger": (
        lambda: scene(good(), verified_silent=True),
        SceneBrief("s", "a", "d", verified_silent=True),
        "verified-silent scene must have no trigger",
    ),
    "silent_flag": (
        lambda: scene([event(0), event(1), event(2)]),
        SceneBrief("s", "a", "d", verified_silent=True),
        "verified_silent must be True",
    ),
    "too_long": (
        lambda: scene(
            [
                event(0, duration_s=8.0),
                event(1, trigger=True, duration_s=8.0),
                event(2, duration_s=8.0),
            ]
        ),
        HAZARD,
        "= 25.6 s; at most 24 s",
    ),
    "no_duration": (
        lambda: scene([*good()[:3], event(3, "ambient", duration_s=None)]),
        HAZARD,
        "e3: duration_s is missing",
    ),
    "bad_duration": (
        lambda: scene([*good()[:3], event(3, "ambient", duration_s=0.0)]),
        HAZARD,
        "e3: duration_s 0 is outside",
    ),
    "empty_caption": (
        lambda: scene([event(0, caption=" "), *good()[1:]]),
        HAZARD,
        "e0: caption is empty",
    ),
    "empty_query": (lambda: scene([event(0, query=""), *good()[1:]]), HAZARD, "e0: query is empty"),
    "empty_fallback": (
        lambda: scene([event(0, fallback_caption=""), *good()[1:]]),
        HAZARD,
        "e0: fallback_caption is empty",
    ),
    "bad_emotion": (
        lambda: scene([event(0), event(1, trigger=True, emotion="scared"), event(2)]),
        HAZARD,
        "e1: emotion must be one of happy",
    ),
    "no_response": (
        lambda: scene([event(0), event(1, trigger=True, response=""), event(2)]),
        HAZARD,
        "e1: a trigger needs a response",
    ),
    "no_foreground": (
        lambda: scene([event(0, "background"), event(1, "ambient"), event(2, "background")]),
        SceneBrief("s", "a", "d"),
        "needs at least one foreground",
    ),
    "no_setting": (lambda: scene(good(), setting=""), HAZARD, "the setting is empty"),
    "no_instruction": (
        lambda: scene([event(0), event(1), event(2)]),
        SceneBrief("s", "a", "d", instruction_hint="ask to count dog barks"),
        "the instruction is empty",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_is_reported(name: str) -> None:
    make, brief, expected = CASES[name]
    problems = check_scene(make(), brief)
    assert any(expected in problem for problem in problems), problems


def test_gaps_count_between_foreground_events_only() -> None:
    # 3 x 7.4 s + 2 gaps x 0.8 s = 23.8 s fits; background length does not count
    events = [
        event(0, duration_s=7.4),
        event(1, trigger=True, duration_s=7.4),
        event(2, duration_s=7.4),
        event(3, "background", duration_s=20.0),
    ]
    assert check_scene(scene(events), HAZARD) == []
    assert check_scene(scene(events), SceneBrief(**{**HAZARD.__dict__, "max_total_s": 23.7}))


@pytest.mark.parametrize(
    "fields",
    [
        {"min_events": 2},
        {"max_events": 16},
        {"min_events": 8, "max_events": 5},
        {"verified_silent": True, "triggers": "one"},
        {"max_total_s": 0.0},
    ],
)
def test_impossible_briefs_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SceneBrief("s", "a", "d", **fields)
