from pathlib import Path

import numpy as np
import pytest
import yaml

from streamaudio.plan.grammar import load_grammar
from streamaudio.retrieve.catalog import load_catalogs, load_sound_classes
from streamaudio.stage import StageError

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


def test_the_shipped_grammar_has_30_settings_of_known_classes() -> None:
    classes = load_sound_classes(CATALOGS)
    grammar = load_grammar(CATALOGS, set(classes))
    assert len(grammar.settings) >= 30
    for setting in grammar.settings:
        assert all(classes[name].ambience for name in setting.ambience), setting.name
        assert not any(classes[name].hazard for name in setting.benign), setting.name
        assert all(classes[name].hazard for name in setting.hazards), setting.name


def test_unknown_classes_are_refused(world: Path) -> None:
    scenes = yaml.safe_load((world / "scenes.yaml").read_text())
    scenes["settings"][0]["benign"].append("unicorn")
    (world / "scenes.yaml").write_text(yaml.safe_dump(scenes))
    with pytest.raises(StageError, match="unicorn"):
        load_grammar(world, set(load_sound_classes(world)))


def test_usable_keeps_only_classes_with_clips(world: Path) -> None:
    catalog = load_catalogs(world)
    grammar = load_grammar(world, set(catalog.classes))
    without_glass = type(catalog)(tuple(e for e in catalog if e.sound_class != "glass_break"),
                                  catalog.classes)
    usable = grammar.usable(without_glass)
    assert all(not s.hazards for s in usable.settings)
    with pytest.raises(StageError, match="no usable setting"):
        usable.choose(np.random.default_rng(0), need_hazard=True)
