"""The train / held-out rule: stratified, deterministic by id, stable when rows are added."""

from __future__ import annotations

import pytest

from streamaudio.split import assign_splits, extend_splits, heldout_count, split_rank


@pytest.mark.parametrize(("n", "held"), [(0, 0), (1, 0), (2, 1), (3, 1), (5, 1), (8, 2),
                                         (10, 2), (100, 20)])
def test_heldout_count_is_a_fifth_at_least_one_and_never_all(n: int, held: int) -> None:
    assert heldout_count(n) == held


def test_assignment_is_stratified_and_fixed_by_the_ids() -> None:
    groups = {"dog": [f"dog/{i}" for i in range(10)], "rain": ["rain/0", "rain/1"],
              "siren": ["siren/0"]}
    splits = assign_splits(groups)
    assert [splits[i] for i in groups["siren"]] == ["train"]
    for name in ("dog", "rain"):
        assert {splits[i] for i in groups[name]} == {"train", "heldout"}
    assert sum(splits[i] == "heldout" for i in groups["dog"]) == 2
    # order of input does not matter: the rank is a hash of the id
    shuffled = {k: list(reversed(v)) for k, v in reversed(groups.items())}
    assert assign_splits(shuffled) == splits
    held = sorted(groups["dog"], key=split_rank)[:2]
    assert {i for i in groups["dog"] if splits[i] == "heldout"} == set(held)


def test_an_id_in_two_groups_is_an_error() -> None:
    with pytest.raises(ValueError, match="more than one group"):
        assign_splits({"a": ["x"], "b": ["x"]})


def test_existing_rows_keep_their_side_and_a_group_gets_both() -> None:
    existing = {"dog/0": "train"}
    splits = extend_splits(existing, {"dog": ["dog/0", "dog/1"]})
    assert splits["dog/0"] == "train" and splits["dog/1"] == "heldout"
    # a row stored as held out stays held out even where the rule says train
    ruled = assign_splits({"dog": ["dog/0", "dog/1", "dog/2"]})
    flipped = {i: ("train" if s == "heldout" else "heldout") for i, s in ruled.items()}
    kept = extend_splits(flipped, {"dog": [*ruled, "dog/3"]})
    assert all(kept[i] == flipped[i] for i in flipped)
    assert set(kept.values()) == {"train", "heldout"}
