from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamaudio.tasks.registry import all_subtasks
from streamaudio.taxonomy import load_taxonomy, mixture_counts

CATALOGS = Path(__file__).resolve().parents[1] / "catalogs"
PAPER_SHARES = {"voice_chat": 23.1, "instruction_following": 20.8, "audio_understanding": 16.4,
                "translation": 15.3, "realtime_asr": 11.6, "proactive_response": 7.3,
                "environment_agent": 5.5}


def test_seven_abilities_of_four_subtasks_with_the_papers_shares() -> None:
    taxonomy = load_taxonomy(CATALOGS)
    assert {a: s.share for a, s in taxonomy.abilities.items()} == PAPER_SHARES
    assert all(len(spec.subtasks) == 4 for spec in taxonomy.abilities.values())
    assert len(taxonomy.subtasks()) == 28


def test_built_subtasks_are_exactly_the_registered_builders() -> None:
    taxonomy = load_taxonomy(CATALOGS)
    registered = {(s.ability, s.name) for s in all_subtasks()}
    built = {(taxonomy.ability_of(name), name) for name in taxonomy.subtasks("built")}
    assert registered == built


def test_weights_follow_ability_shares_over_built_subtasks() -> None:
    taxonomy = load_taxonomy(CATALOGS)
    weights = taxonomy.weights()
    assert sum(weights.values()) == pytest.approx(1.0)
    assert set(weights) == set(taxonomy.subtasks("built"))
    per_subtask = {}
    for ability, spec in taxonomy.abilities.items():
        built = [n for n, sub in spec.subtasks.items() if sub.status == "built"]
        for name in built:  # an ability's share, split evenly over its built subtasks
            per_subtask[name] = PAPER_SHARES[ability] / len(built)
    for name, weight in weights.items():
        assert weight / weights["hazard_alert"] == pytest.approx(
            per_subtask[name] / per_subtask["hazard_alert"])


@given(st.integers(0, 10_000), st.dictionaries(st.sampled_from("abcdefgh"),
                                               st.floats(0.01, 1.0), min_size=1))
def test_mixture_counts_sum_and_stay_within_one_of_the_share(total: int,
                                                              raw: dict[str, float]) -> None:
    weights = {k: v / sum(raw.values()) for k, v in raw.items()}
    counts = mixture_counts(total, weights)
    assert sum(counts.values()) == total
    assert all(abs(counts[k] - total * weights[k]) < 1 for k in weights)
