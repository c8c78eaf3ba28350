"""multi_event_alert, care_response, alarm_action and agent_ignore on the real catalogs
(the tiny world has no alarms or human signals)."""

import json
from pathlib import Path

import numpy as np
import pytest
from support import build_small_corpus

from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.schema import ScenePlan
from streamaudio.tasks.environment_agent import ACTIONABLE, ALARMS
from streamaudio.tasks.proactive import DISTRESS, LAUGHTER
from streamaudio.tasks.registry import PlanContext, get_subtask

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
RESPONSES = {"multi_event_alert": 2, "care_response": 1, "alarm_action": 1, "agent_ignore": 0}


@pytest.fixture(scope="module")
def real() -> tuple[Catalog, SceneGrammar]:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    return catalog, load_grammar(CATALOGS, set(catalog.classes)).usable(catalog)


def _plans(real: tuple[Catalog, SceneGrammar], subtask: str, count: int = 10,
           catalog: Catalog | None = None) -> list[ScenePlan]:
    catalog = catalog or real[0]
    plans = []
    for seed in range(count):
        ctx = PlanContext(stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed),
                          grammar=real[1], catalog=catalog)
        plan = get_subtask(subtask).build(ctx)
        assert isinstance(plan, ScenePlan), plan
        assert plan.subtask == subtask and 3 <= len(plan.events) <= 15
        plans.append(plan)
    return plans


def test_multi_event_alert_warns_twice_with_a_benign_turn_between(real) -> None:
    classes = real[0].classes
    for plan in _plans(real, "multi_event_alert"):
        assert 5 <= len(plan.events) <= 9
        triggers = [e for e in plan.events if e.trigger]
        assert len(triggers) == 2 and triggers[0].sound_class != triggers[1].sound_class
        for event in triggers:
            cls = classes[event.sound_class]
            assert cls.hazard and event.role == "foreground"
            assert event.response == cls.warning and event.emotion == cls.emotion
        assert not any(classes[e.sound_class].hazard for e in plan.events if not e.trigger)
        foreground = [e for e in plan.events if e.role == "foreground"]
        first, second = (foreground.index(e) for e in triggers)
        assert first >= 1 and second - first >= 2


def test_care_response_checks_in_on_distress_and_ignores_laughter(real) -> None:
    catalog = real[0]
    if not any(catalog.by_class(name) for name in DISTRESS):
        pytest.skip("no scream or pain_cry clips installed")
    # laughter may not be installed: lend it one clip so the IGNORE case is planned
    laugh = catalog.entries[0].model_copy(update={"id": "test/laugh", "sound_class": LAUGHTER})
    with_laughter = Catalog((*catalog.entries, laugh), catalog.classes)
    laughs = 0
    for plan in _plans(real, "care_response", 20, with_laughter):
        (trigger,) = [e for e in plan.events if e.trigger]
        emotion, check_ins = DISTRESS[trigger.sound_class]
        assert trigger.role == "foreground" and trigger.emotion == emotion
        assert trigger.response in check_ins
        benign = [e for e in plan.events if not e.trigger and e.sound_class != LAUGHTER]
        assert 2 <= len(benign) <= 4
        assert not any(catalog.classes[e.sound_class].hazard for e in benign)
        for event in plan.events:
            if event.sound_class == LAUGHTER:
                laughs += 1
                assert not event.trigger and event.role == "foreground"
    assert 0 < laughs < 20  # about 40 % of streams


def test_alarm_action_responds_with_a_compact_notify_call(real) -> None:
    classes = real[0].classes
    for plan in _plans(real, "alarm_action"):
        (trigger,) = [e for e in plan.events if e.trigger]
        assert trigger.sound_class in ALARMS and trigger.emotion == "urgent"
        call = json.loads(trigger.response)
        assert call == {"tool": "notify",
                        "args": {"event": trigger.sound_class, "urgency": "high"}}
        assert trigger.response == json.dumps(call, separators=(",", ":"), sort_keys=True)
        benign = [e for e in plan.events if not e.trigger]
        assert 2 <= len(benign) <= 4
        assert not any(classes[e.sound_class].hazard for e in benign)


def test_agent_ignore_is_verified_silent_household_sound(real) -> None:
    classes = real[0].classes
    for plan in _plans(real, "agent_ignore"):
        assert plan.verified_silent and not any(e.trigger for e in plan.events)
        for event in plan.events:
            assert not classes[event.sound_class].hazard
            assert not any(fragment in event.sound_class for fragment in ACTIONABLE)


@pytest.mark.parametrize("subtask", sorted(RESPONSES))
def test_builds_validate_with_the_expected_response_chunks(real, subtask: str,
                                                           tmp_path: Path) -> None:
    records = build_small_corpus(subtask, tmp_path)
    for record in records:
        assert int(record.decisions.sum()) == RESPONSES[subtask]
        assert record.verified_silent == (subtask == "agent_ignore")
