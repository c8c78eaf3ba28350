from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamaudio.compose.mix import ProcessedClip
from streamaudio.config import Config, load_config
from streamaudio.ground.offline import _Bound, _fit_lengths, ground_scene
from streamaudio.ground.speech import utterance_store
from streamaudio.ground.store import CatalogClipStore, ClipChanged
from streamaudio.pipeline import CorpusBuilder
from streamaudio.retrieve.audio_io import clear_cache
from streamaudio.retrieve.catalog import Catalog, SoundClass
from streamaudio.schema import ClipRef, EventPlan, GroundedPlan, ScenePlan, VoicePlan
from streamaudio.stage import Drop, Retry
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


def _bound(kind: str, seconds: float, continues: bool = False) -> _Bound:
    audio = np.zeros(int(seconds * 16_000), dtype=np.float32)
    voice = VoicePlan(backend="flite", voice="slt") if kind == "speech" else None
    event = EventPlan(event_id=f"e{seconds}{kind}", role="foreground", kind=kind,  # type: ignore[arg-type]
                      caption="c", query="q", fallback_caption="f", voice=voice,
                      text="words" if kind == "speech" else "", continues_turn=continues)
    ref = ClipRef(clip_id="t/x", sha256="0" * 64, source="t", license="CC0-1.0")
    return _Bound(event, ProcessedClip(audio, 0, audio.size, -20.0, 30.0), ref, False, {})


def _worst_case(bound: list[_Bound], lengths: list[int], cfg: Config) -> int:
    gaps = sum(int((cfg.compose.pause_s if b.event.continues_turn else cfg.compose.gap_s)[1]
                   * 16_000) for b in bound[1:])
    return sum(lengths) + gaps + int(1.2 * 16_000) + int(1.6 * 16_000)


def test_lengths_always_fit_the_longest_draws_and_speech_is_never_cut() -> None:
    cfg = Config()
    for turns in range(1, 9):
        bound = [_bound("sound", 6.0) for _ in range(turns)]
        lengths = _fit_lengths(bound, cfg)
        assert isinstance(lengths, list)
        assert _worst_case(bound, lengths, cfg) <= cfg.audio.max_stream_samples
        assert all(length % cfg.audio.grid_samples == 0 for length in lengths)
    passage = [_bound("speech", 4.0)] + [_bound("speech", 4.0, continues=True) for _ in range(3)]
    scene = [*passage, _bound("sound", 5.0)]
    lengths = _fit_lengths(scene, cfg)
    # 16 s of speech kept whole; the sound gets what is left: 24 - 16 - 7 s of gaps
    assert isinstance(lengths, list) and lengths == [64_000] * 4 + [16_000]
    assert _worst_case(scene, lengths, cfg) <= cfg.audio.max_stream_samples
    too_long = _fit_lengths([_bound("speech", 12.0), _bound("speech", 12.0)], cfg)
    assert isinstance(too_long, Retry) and too_long.reason == "speech_too_long"


def test_a_sound_shorter_than_the_grid_is_placed_whole() -> None:
    """Without TFJP nothing snaps a clip to the 200 ms grid: a 130 ms click asked for
    more samples than it has, and the render failed the whole build."""
    cfg = load_config(overrides=["tfjp.enabled=false"])
    click, sound = _bound("sound", 0.13), _bound("sound", 1.0)
    lengths = _fit_lengths([click, sound], cfg)
    assert lengths == [click.clip.audio.size, 16_000]


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


def _unrecorded(world: Path, tmp_path: Path, label: str) -> tuple[Config, ScenePlan,
                                                                CatalogClipStore]:
    """A hazard_alert scene of the tiny world that opens with an event of a class
    with no clip (first, so no neighbour's continuity decides the outcome)."""
    cfg = load_config(overrides=[f"catalog.directory={world}", "retrieval.mode=class",
                                 f"cache.directory={tmp_path / 'cache'}"])
    builder = CorpusBuilder(cfg)
    scene = _scene(builder, 0)
    cue = EventPlan(event_id="cue", role="foreground", kind="sound", sound_class="unrecorded",
                    caption=f"{label} close by.", query=label,
                    fallback_caption=f"A realistic recording of {label} close by.",
                    duration_s=3.0)
    catalog = builder.store.catalog
    classes = {**catalog.classes, "unrecorded": SoundClass(domain="daily_living", label=label)}
    store = CatalogClipStore(Catalog(catalog.entries, classes), [], cfg,
                             generated=utterance_store(cfg))
    return cfg, scene.model_copy(update={"events": [cue, *scene.events]}), store


def test_a_class_without_clips_is_generated_and_verified(world: Path, tmp_path: Path) -> None:
    cfg, scene, store = _unrecorded(world, tmp_path, "a doorbell ringing")
    stats: Counter[str] = Counter()
    plan = ground_scene(scene, ["rain"], store, cfg, stats=stats)
    assert isinstance(plan, GroundedPlan), plan
    cue = next(e for e in plan.events if e.event_id == "cue")
    assert cue.evidence["selection"] == "generated:synth"
    assert cue.evidence["identity"] == "by_class"
    assert float(cue.evidence["tfjp_snr_db"]) >= cfg.verify.min_snr_db
    assert cue.clip.clip_id.startswith("generated/")
    assert stats["generated:synth"] == 1
    # rendering finds it by content hash; the other events kept their catalog clips
    assert store.event_clip(cue.clip).audio.size >= cue.length
    assert {e.evidence["selection"] for e in plan.events if e.event_id != "cue"} == {
        "offline_class"}


def test_a_class_nothing_can_make_is_a_counted_drop(world: Path, tmp_path: Path) -> None:
    cfg, scene, store = _unrecorded(world, tmp_path, "a cat purring")
    result = ground_scene(scene, ["rain"], store, cfg)
    assert isinstance(result, Drop) and result.reason == "no_clip_for_class"
    assert "unsupported_prompt" in result.detail
