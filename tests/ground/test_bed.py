"""The ambience a setting's bed is drawn from, and the layers drawn."""

import numpy as np

from streamaudio.config import Config
from streamaudio.ground.bed import bed_classes, draw_bed
from streamaudio.pipeline import CorpusBuilder
from streamaudio.stage import Drop


def test_a_known_setting_names_its_ambience_and_a_free_one_all(world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    catalog, grammar = builder.store.catalog, builder.grammar
    setting = grammar.settings[0]
    assert bed_classes(setting.name, grammar, catalog, None) == list(setting.ambience)
    # by class (no retriever): a free-text setting draws from every ambience class
    assert bed_classes("a lighthouse in a gale", grammar, catalog, None) == ["rain"]


def test_a_bed_is_a_real_clip_over_coloured_noise(world_config: Config) -> None:
    store = CorpusBuilder(world_config).store
    layers = draw_bed(["rain"], store, np.random.default_rng(0), world_config, 0.0)
    assert not isinstance(layers, Drop) and [layer.kind for layer in layers] == [
        "clip", "coloured"]
    noise_only = draw_bed([], store, np.random.default_rng(0), world_config, 0.0)
    assert isinstance(noise_only, list) and [layer.kind for layer in noise_only] == ["coloured"]
