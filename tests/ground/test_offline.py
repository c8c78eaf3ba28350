from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf

from streamaudio.config import Config
from streamaudio.ground.offline import _turn_budget, ground_scene
from streamaudio.ground.store import CatalogClipStore, ClipChanged
from streamaudio.pipeline import CorpusBuilder
from streamaudio.retrieve.audio_io import clear_cache
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import GroundedPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.registry import get_subtask


def _scene(builder: CorpusBuilder, index: int) -> ScenePlan:
    scene = builder.plan(get_subtask("hazard_alert"), index, 0, 0)
    assert isinstance(scene, ScenePlan)
    return scene


def test_grounded_events_fit_the_stream_and_keep_the_trigger_core(world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    for index in range(6):
        plan = builder.ground(_scene(builder, index))
        assert isinstance(plan, GroundedPlan), plan
        assert plan.num_samples <= world_config.audio.max_stream_samples
        kinds = Counter(layer.kind for layer in plan.bed)
        assert kinds == {"clip": 1, "coloured": 1}
        for event in plan.events:
            assert event.offset <= plan.num_samples
            assert event.length % world_config.audio.grid_samples == 0 or event.loop
            assert event.evidence["selection"] == "offline_class"
        hazard = next(e for e in plan.events if e.event_id == "hazard")
        assert hazard.core_end <= hazard.length


def test_turn_budget_always_fits_the_longest_draws() -> None:
    cfg = Config()
    for turns in range(1, 9):
        budget = _turn_budget(turns, cfg)
        worst = (turns * budget + (turns - 1) * int(2.4 * 16_000) + int(1.2 * 16_000)
                 + int(1.6 * 16_000))
        assert worst <= cfg.audio.max_stream_samples
        assert budget % cfg.audio.grid_samples == 0


def test_a_changed_clip_is_refused_at_render_time(world: Path, world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    plan = builder.ground(_scene(builder, 0))
    assert isinstance(plan, GroundedPlan)
    # a fresh worker whose file under the same id changed since planning
    clip_id = plan.events[0].clip.clip_id
    entry = builder.store.entry(clip_id)
    path = Path(entry.root or "/") / entry.path
    data, rate = sf.read(path)
    sf.write(path, data[::-1] * 0.5, rate)
    clear_cache()
    fresh = CorpusBuilder(world_config)
    with pytest.raises(ClipChanged, match="changed"):
        fresh.render(plan)


def test_missing_class_is_a_counted_drop(world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    scene = _scene(builder, 1)
    empty = Catalog((), builder.store.catalog.classes)
    store = CatalogClipStore(empty, [], world_config)
    result = ground_scene(scene, ["rain"], store, world_config)
    assert isinstance(result, Drop) and result.reason == "no_clip_for_class"
