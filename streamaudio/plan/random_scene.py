"""planner.mode=random: the paper's "without event selection" ablation, as a naive builder
would make scenes. Each subtask's plan keeps what its labels depend on (triggers, speech,
the classes its instruction and responses name), and everything else is drawn without
regard to the scene: every other sound becomes a clip of any class from any domain, and
the bed comes from a setting drawn at random. Labels stay true; coherence is gone."""

from __future__ import annotations

import numpy as np

from streamaudio.plan.grammar import SceneGrammar
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import EventPlan, ScenePlan


def _named(scene: ScenePlan, catalog: Catalog) -> set[str]:
    """Classes the labels depend on: a trigger's class, and any class whose label the
    instruction or a response says."""
    said = " ".join([scene.instruction, *(e.response for e in scene.events)]).lower()
    named = {e.sound_class for e in scene.events if e.trigger and e.sound_class}
    named |= {name for name, cls in catalog.classes.items() if cls.label.lower() in said}
    return named


def _random_event(event: EventPlan, sound_class: str, catalog: Catalog) -> EventPlan:
    label = catalog.classes[sound_class].label
    caption = f"A recording of {label}."
    return event.model_copy(update={"sound_class": sound_class, "caption": caption,
                                    "query": label, "fallback_caption": caption})


def scramble_scene(scene: ScenePlan, catalog: Catalog) -> ScenePlan:
    """The scene with every sound its labels do not depend on replaced by a clip of a
    class drawn uniformly from those with clips (never a hazard, which would need a
    response, nor a class the labels name, which would change the answer)."""
    rng = np.random.default_rng([scene.seed, 7])
    named = _named(scene, catalog)
    pool = sorted(name for name, cls in catalog.classes.items()
                  if catalog.by_class(name) and not cls.hazard and not cls.ambience
                  and name not in named)
    if not pool:
        return scene
    events = [
        _random_event(event, pool[int(rng.integers(0, len(pool)))], catalog)
        if event.kind != "speech" and not event.trigger and event.sound_class not in named
        else event
        for event in scene.events]
    return scene.model_copy(update={"events": events})


def random_bed_setting(scene: ScenePlan, grammar: SceneGrammar) -> str:
    """The setting whose ambience makes the bed: any setting, whatever the scene is."""
    rng = np.random.default_rng([scene.seed, 8])
    return grammar.settings[int(rng.integers(0, len(grammar.settings)))].name
