"""Each subtask's plan builder, checked on its own trigger rule."""

from pathlib import Path

import numpy as np
import pytest

from streamaudio.plan.grammar import load_grammar
from streamaudio.retrieve.catalog import load_catalogs
from streamaudio.schema import ScenePlan
from streamaudio.tasks.registry import PlanContext, all_subtasks, get_subtask


def _plans(world: Path, subtask: str, count: int = 12) -> list[ScenePlan]:
    catalog = load_catalogs(world)
    grammar = load_grammar(world, set(catalog.classes)).usable(catalog)
    plans = []
    for seed in range(count):
        ctx = PlanContext(stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed),
                          grammar=grammar, catalog=catalog)
        plan = get_subtask(subtask).build(ctx)
        assert isinstance(plan, ScenePlan), plan
        plans.append(plan)
    return plans


def test_registry_lists_the_slice() -> None:
    names = {(s.ability, s.name) for s in all_subtasks()}
    assert names >= {("proactive_response", "hazard_alert"),
                     ("proactive_response", "benign_silence"),
                     ("audio_understanding", "sound_event_qa")}
    with pytest.raises(KeyError, match="unknown subtask"):
        get_subtask("nope")


def test_hazard_alert_has_one_hazard_trigger_among_benign_sounds(world: Path) -> None:
    classes = load_catalogs(world).classes
    for plan in _plans(world, "hazard_alert"):
        triggers = [e for e in plan.events if e.trigger]
        assert len(triggers) == 1
        assert classes[triggers[0].sound_class].hazard
        assert triggers[0].role == "foreground" and triggers[0].emotion == "urgent"
        assert triggers[0].response == classes[triggers[0].sound_class].warning
        assert not any(classes[e.sound_class].hazard for e in plan.events if not e.trigger)
        assert 3 <= len(plan.events) <= 15
        assert plan.setting == "kitchen"  # the only setting with a hazard


def test_benign_silence_has_no_trigger_and_no_hazard(world: Path) -> None:
    classes = load_catalogs(world).classes
    for plan in _plans(world, "benign_silence"):
        assert plan.verified_silent
        assert not any(e.trigger or classes[e.sound_class].hazard for e in plan.events)


def test_sound_qa_asks_about_the_sound_it_answers(world: Path) -> None:
    classes = load_catalogs(world).classes
    forms = set()
    for plan in _plans(world, "sound_event_qa", 30):
        (target,) = [e for e in plan.events if e.trigger]
        label = classes[target.sound_class].label
        assert label in target.response
        foreground = [e for e in plan.events if e.role == "foreground"]
        if label in plan.instruction:  # "tell me when you hear X": no other X around
            forms.add("named")
            assert sum(e.sound_class == target.sound_class for e in plan.events) == 1
        else:  # "what is the next sound": the first turn is the answer
            forms.add("next")
            assert foreground[0] is target
    assert forms == {"named", "next"}
