"""Every bound sound names the paper's four criteria: each retrieval candidate has a
score or a reason for each, and every chosen sound has a duration fit against its slot
and a continuity score (the first sound's against the ambience bed it sits on)."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from streamaudio.compose.timeline import Placement
from streamaudio.config import Config, load_config
from streamaudio.ground.evidence import NO_CLIP_BED, duration_evidence
from streamaudio.ground.offline import ground_scene
from streamaudio.ground.types import ProcessedClip
from streamaudio.pipeline import CorpusBuilder
from streamaudio.retrieve.verify import CRITERIA, NO_NEIGHBOURS, continuity, features
from streamaudio.schema import EventPlan, GroundedPlan, ScenePlan
from streamaudio.stage import Drop
from streamaudio.tasks.registry import get_subtask

RATE = 16_000


def _embedding(world: Path, tmp_path: Path) -> Config:
    # the tiny world's tones are unlike each other: loose continuity so scenes ground
    return load_config(overrides=[f"catalog.directory={world}", f"cache.directory={tmp_path}",
                                  "retrieval.mode=embedding", "verify.max_spectral_jump=1.0",
                                  "verify.max_level_jump_db=60"])


def _plans(builder: CorpusBuilder, count: int) -> list[GroundedPlan]:
    plans = []
    for index in range(count):
        scene = builder.plan(get_subtask("hazard_alert"), index, 0, 0)
        assert isinstance(scene, ScenePlan)
        plan = builder.ground(scene, Counter())
        assert isinstance(plan, GroundedPlan), plan
        plans.append(plan)
    return plans


def test_every_candidate_and_every_chosen_sound_names_all_four_criteria(
        world: Path, tmp_path: Path) -> None:
    builder = CorpusBuilder(_embedding(world, tmp_path))
    checked = 0
    for plan in _plans(builder, 4):
        sounds = [e for e in plan.events if plan.event_plan(e.event_id).kind != "speech"]
        for position, event in enumerate(sounds):
            for candidate in json.loads(str(event.evidence["candidates"])):
                for criterion, names in CRITERIA.items():
                    scored = any(name in candidate["scores"] for name in names)
                    assert scored or candidate["unscored"].get(criterion), (criterion, candidate)
                assert "duration_s" in candidate["scores"]  # the span is always scored
                if position == 0:
                    assert candidate["unscored"]["continuity"] == NO_NEIGHBOURS
                checked += 1
            fit = float(event.evidence["duration_fit"])
            assert fit > 0 and event.evidence["duration_target"] in {"planned", "placed",
                                                                     "tiled"}
            assert event.evidence["continuity"] == ("bed" if position == 0
                                                    else "previous_events")
            assert float(event.evidence["level_jump_db"]) >= 0
    assert checked >= 12


def test_the_first_sound_is_scored_against_its_real_bed(world: Path, tmp_path: Path) -> None:
    builder = CorpusBuilder(_embedding(world, tmp_path))
    rate = builder.cfg.audio.sample_rate
    for plan in _plans(builder, 3):
        first = next(e for e in plan.events if plan.event_plan(e.event_id).kind != "speech")
        bed = next(layer for layer in plan.bed if layer.kind == "clip")
        assert bed.clip is not None
        # measured afresh from the files: the first clip's raw audio and the bed's
        raw = builder.store.raw(first.clip.clip_id)
        ambience = builder.store.raw(bed.clip.clip_id)
        assert not isinstance(raw, Drop) and not isinstance(ambience, Drop)
        scores, passed = continuity(features(raw.audio, rate), [features(ambience.audio, rate)],
                                    builder.cfg)
        assert first.evidence["continuity"] == "bed"
        assert first.evidence["level_jump_db"] == round(scores["level_jump_db"], 3)
        assert first.evidence["spectral_jump"] == round(scores["spectral_jump"], 3)
        assert first.evidence["continuity_ok"] == int(all(passed.values()))
        assert scores["level_jump_db"] > 0.01  # a tone against rain: not trivially equal


def test_a_noise_only_bed_says_why_the_first_sound_is_unscored(world_config: Config) -> None:
    builder = CorpusBuilder(world_config)
    scene = builder.plan(get_subtask("hazard_alert"), 0, 0, 0)
    assert isinstance(scene, ScenePlan)
    plan = ground_scene(scene, [], builder.store, world_config)
    assert isinstance(plan, GroundedPlan), plan
    assert [layer.kind for layer in plan.bed] == ["coloured"]
    sounds = [e for e in plan.events if plan.event_plan(e.event_id).kind != "speech"]
    assert sounds[0].evidence["continuity"] == NO_CLIP_BED
    assert "level_jump_db" not in sounds[0].evidence
    assert all(e.evidence["continuity"] == "previous_events" for e in sounds[1:])
    assert all("duration_fit" in e.evidence for e in sounds)


@pytest.mark.parametrize(("planned", "loop", "target", "fit"), [
    (2.0, False, "planned", 0.75),  # 1.5 s of active audio for a 2 s plan
    (None, False, "placed", 1.25),  # unplanned: against the 1.2 s placed
    (None, True, "tiled", 1.5 / 6.0),  # a loop tiles its 6 s slot
])
def test_duration_fit_is_the_span_over_its_slot(planned: float | None, loop: bool, target: str,
                                                fit: float) -> None:
    cfg = Config()
    audio = np.zeros(int(1.5 * RATE), dtype=np.float32)
    clip = ProcessedClip(audio, 800, 4000, -20.0, 30.0)
    event = EventPlan(event_id="e", role="foreground", kind="sound", caption="c", query="q",
                      fallback_caption="f", duration_s=planned)
    length = int((6.0 if loop else 1.2) * RATE)
    evidence = duration_evidence(event, clip, Placement("e", 0, length, loop), cfg)
    assert evidence == {"duration_s": 1.5, "duration_fit": round(fit, 4),
                        "duration_target": target}
    core = cfg.model_copy(update={"verify": cfg.verify.model_copy(
        update={"duration_span": "core"})})
    assert duration_evidence(event, clip, Placement("e", 0, length, loop), core)[
        "duration_s"] == 0.2
