"""Verified silence by share: negatives (the trigger never comes) and benign
stretches before the first turn, drawn from each stream's seed."""

import json
from pathlib import Path

import numpy as np
import pytest

from streamaudio.config import Config, SilenceConfig, load_config
from streamaudio.corpus import build_corpus
from streamaudio.plan.grammar import SceneGrammar, load_grammar
from streamaudio.retrieve.catalog import Catalog, load_catalogs
from streamaudio.schema import GroundedPlan, ScenePlan
from streamaudio.shards.reader import iter_streams
from streamaudio.tasks.registry import PlanContext, get_subtask
from streamaudio.tasks.silence import apply_silence, as_negative, silence_rng, with_stretch
from streamaudio.validate import validate_corpus

CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


@pytest.fixture(scope="module")
def real_world() -> tuple[Catalog, SceneGrammar]:
    catalog, _ = load_catalogs(CATALOGS).filter_installed()
    if len(catalog) < 100:
        pytest.skip("fewer than 100 installed clips (run `make setup`)")
    return catalog, load_grammar(CATALOGS, set(catalog.classes)).usable(catalog)


def _real_config(tmp_path: Path, negative: float, stretch: float) -> Config:
    return load_config(overrides=[
        "retrieval.mode=class", "shards.streams_per_shard=4", f"cache.directory={tmp_path}",
        f"silence.negative_share={negative}", f"silence.stretch_share={stretch}"])


def _hazard_plans(world: tuple[Catalog, SceneGrammar], count: int = 12) -> list[ScenePlan]:
    catalog, grammar = world
    plans = []
    for seed in range(count):
        plan = get_subtask("hazard_alert").build(PlanContext(
            stream_id=f"s{seed}", seed=seed, rng=np.random.default_rng(seed), grammar=grammar,
            catalog=catalog))
        assert isinstance(plan, ScenePlan)
        plans.append(plan)
    return plans


def test_a_negative_keeps_everything_but_the_trigger(real_world) -> None:
    catalog, grammar = real_world
    for plan in _hazard_plans(real_world):
        negative = as_negative(plan, grammar, catalog, silence_rng(plan.seed))
        assert negative is not None and negative.verified_silent
        assert not any(event.trigger for event in negative.events)
        kept = [e for e in plan.events if not e.trigger]
        assert negative.events[:len(kept)] == kept
        assert len(negative.events) >= 3
        assert any(event.role == "foreground" for event in negative.events)
        assert negative.instruction == plan.instruction


def test_a_stretch_comes_before_the_first_turn_and_is_silent(real_world) -> None:
    catalog, grammar = real_world
    made = 0
    for plan in _hazard_plans(real_world, 30):
        stretched = with_stretch(plan, grammar, catalog, silence_rng(plan.seed))
        added = [e for e in stretched.events if e.event_id.startswith("quiet")]
        if not added:  # every household class of the setting is already a turn
            assert stretched == plan
            continue
        made += 1
        assert len(added) <= 2
        assert all(e.verified_silent and e.role == "foreground" and not e.trigger
                   for e in added)
        turns = stretched.foreground_turns()
        assert turns[:len(added)] == added  # heard before anything else
        turns = {e.sound_class for e in plan.foreground_turns()}
        assert not {e.sound_class for e in added} & turns
        assert not any(catalog.classes[e.sound_class].hazard for e in added)
    assert made >= 20


def test_shares_decide_per_stream_and_zero_changes_nothing(real_world) -> None:
    catalog, grammar = real_world
    plans = _hazard_plans(real_world, 40)
    off = SilenceConfig(negative_share=0.0, stretch_share=0.0)
    assert [apply_silence(p, True, True, off, grammar, catalog) for p in plans] == plans
    always = SilenceConfig(negative_share=1.0, stretch_share=0.0)
    assert all(apply_silence(p, True, True, always, grammar, catalog).verified_silent
               for p in plans)
    # a subtask that does not allow negatives never gets one
    assert [apply_silence(p, False, False, always, grammar, catalog) for p in plans] == plans
    half = SilenceConfig(negative_share=0.5, stretch_share=0.0)
    made = [apply_silence(p, True, True, half, grammar, catalog) for p in plans]
    assert made == [apply_silence(p, True, True, half, grammar, catalog) for p in plans]
    assert 10 <= sum(p.verified_silent for p in made) <= 30


def test_built_stretches_validate_and_are_counted(tmp_path: Path, real_world) -> None:
    cfg = _real_config(tmp_path / "cache", 0.0, 1.0)
    root = tmp_path / "corpus"
    report = build_corpus(root, [get_subtask("hazard_alert")], 4, 0, cfg)
    checked, failures = validate_corpus(root)
    assert checked == 4 and failures == []
    totals = report.manifest["totals"]
    assert totals["verified_silent_chunks"] > 0 and 0 < totals["verified_silent_share"] < 1
    stretches = 0
    for record in iter_streams(root):
        plan = GroundedPlan.model_validate_json(record.plan)
        quiet = [e for e in plan.events if plan.event_plan(e.event_id).verified_silent]
        stretches += any(e.event_id.startswith("quiet") for e in quiet)
        chunk = cfg.audio.chunk_samples
        for event in quiet:  # no response starts while a stretch plays
            first, last = -(-event.onset // chunk), -(-event.offset // chunk)
            assert not any(record.decisions[first:last])
    assert stretches >= 2


def test_negatives_are_whole_silent_streams(tmp_path: Path, real_world) -> None:
    cfg = _real_config(tmp_path / "cache", 1.0, 0.0)
    root = tmp_path / "corpus"
    report = build_corpus(root, [get_subtask("hazard_alert")], 4, 0, cfg)
    assert validate_corpus(root)[1] == []
    assert report.manifest["totals"]["verified_silent_streams"] == 4
    assert report.manifest["totals"]["verified_silent_share"] == 1.0
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["totals"]["response_chunks"] == 0
