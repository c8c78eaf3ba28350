"""notify_on_sound, count_events and scene_description on the real catalogs."""

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from support import build_small_corpus

from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.schema import ScenePlan
from streamaudio.tasks.instruction_following import COUNT_WORDS, MAX_FOREGROUND
from streamaudio.tasks.registry import PlanContext, get_subtask

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"
SUBTASKS = ("notify_on_sound", "count_events", "scene_description")


@pytest.fixture(scope="module")
def real() -> tuple[Catalog, SceneGrammar]:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    return catalog, load_grammar(CATALOGS, set(catalog.classes)).usable(catalog)


def _plans(real: tuple[Catalog, SceneGrammar], subtask: str, count: int = 20) -> list[ScenePlan]:
    plans = []
    for seed in range(count):
        ctx = PlanContext(stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed),
                          grammar=real[1], catalog=real[0])
        plan = get_subtask(subtask).build(ctx)
        assert isinstance(plan, ScenePlan), plan
        assert plan.subtask == subtask and 3 <= len(plan.events) <= 15
        assert sum(e.trigger for e in plan.events) == 1
        plans.append(plan)
    return plans


def test_notify_on_sound_names_the_cue_after_the_distractors(real) -> None:
    classes = real[0].classes
    for plan in _plans(real, "notify_on_sound"):
        (cue,) = [e for e in plan.events if e.trigger]
        cls = classes[cue.sound_class]
        assert cls.label in plan.instruction and cls.label in cue.response
        foreground = [e for e in plan.events if e.role == "foreground"]
        assert foreground[-1] is cue and 2 <= len(foreground) - 1 <= 4
        assert not any(e.sound_class == cue.sound_class for e in plan.events if e is not cue)
        assert not any(classes[e.sound_class].hazard for e in plan.events if e is not cue)
        assert 1 <= sum(e.role == "background" for e in plan.events) <= 2
        if cls.hazard:
            assert cue.emotion == "urgent" and cue.response.endswith(cls.warning)
        else:
            assert cue.emotion == "normal"


def test_count_events_counts_every_occurrence(real) -> None:
    classes = real[0].classes
    counts = set()
    for plan in _plans(real, "count_events"):
        (trigger,) = [e for e in plan.events if e.trigger]
        label = classes[trigger.sound_class].label
        assert label in plan.instruction and trigger.emotion == "normal"
        occurrences = [e for e in plan.events if e.sound_class == trigger.sound_class]
        assert all(e.role == "foreground" for e in occurrences)
        assert occurrences[-1] is trigger
        n = len(occurrences)
        counts.add(n)
        assert 1 <= n <= 5
        assert trigger.response == f"I heard {label} {COUNT_WORDS[n - 1]} " \
            f"{'time' if n == 1 else 'times'}."
        foreground = [e for e in plan.events if e.role == "foreground"]
        assert len(foreground) <= MAX_FOREGROUND and len(foreground) > n
        assert any(e.role == "background" for e in plan.events)
    assert len(counts) >= 3


def test_scene_description_lists_the_sounds_in_order(real) -> None:
    classes = real[0].classes
    for plan in _plans(real, "scene_description"):
        assert plan.instruction
        foreground = [e for e in plan.events if e.role == "foreground"]
        assert foreground == plan.events and 3 <= len(foreground) <= 5
        assert foreground[-1].trigger and foreground[-1].emotion == "normal"
        labels = [classes[e.sound_class].label for e in foreground]
        response = foreground[-1].response
        assert response.startswith(f"First {labels[0]}, then ")
        assert response.endswith(f", and finally {labels[-1]}.")
        position = 0
        for label in labels:
            position = response.index(label, position) + len(label)
        assert all(a.sound_class != b.sound_class for a, b in pairwise(foreground))


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_builds_validate_with_one_response_chunk(real, subtask: str, tmp_path: Path) -> None:
    records = build_small_corpus(subtask, tmp_path)
    for record in records:
        assert int(record.decisions.sum()) == 1
