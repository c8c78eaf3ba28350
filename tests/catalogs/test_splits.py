"""The committed split (streamaudio/split.py): every clip, room and text row carries one,
each group of two or more has both sides, and the split tool finds nothing to add."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"
CLIP_FILES = [p for p in sorted((CATALOGS / "clips").glob("*.jsonl"))
              if not p.name.endswith(".quarantine.jsonl")]
TEXT_FILES = sorted((CATALOGS / "text").glob("*.jsonl"))


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_row_carries_a_split() -> None:
    for path in [*CLIP_FILES, CATALOGS / "rirs.jsonl", *TEXT_FILES]:
        for row in _rows(path):
            assert row.get("split") in ("train", "heldout"), (path.name, row.get("id"))


def test_classes_of_two_or_more_clips_have_both_sides_and_single_clips_train() -> None:
    by_class: dict[str, list[str]] = defaultdict(list)
    for path in CLIP_FILES:
        for row in _rows(path):
            by_class[row["sound_class"]].append(row["split"])
    assert len(by_class) > 50
    for name, splits in by_class.items():
        if len(splits) == 1:
            assert splits == ["train"], name
        else:
            assert set(splits) == {"train", "heldout"}, name
            assert splits.count("heldout") <= max(1, round(len(splits) * 0.2)), name


@pytest.mark.parametrize("path", [*TEXT_FILES, CATALOGS / "rirs.jsonl"], ids=lambda p: p.name)
def test_each_text_catalog_and_the_rooms_have_both_sides(path: Path) -> None:
    rows = _rows(path)
    assert {row["split"] for row in rows} == {"train", "heldout"}
    passages: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.get("passage"):
            passages[row["passage"]].add(row["split"])
    assert all(len(sides) == 1 for sides in passages.values())  # a passage is not cut


def test_catalog_split_has_nothing_to_add() -> None:
    done = subprocess.run([sys.executable, "-m", "streamaudio", "catalog", "split", "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_the_loaded_catalogs_split_into_disjoint_halves() -> None:
    from streamaudio.retrieve.catalog import load_catalogs
    from streamaudio.tasks.texts import load_texts

    catalog = load_catalogs(CATALOGS)
    train, held = catalog.in_split("train"), catalog.in_split("heldout")
    assert len(train) + len(held) == len(catalog)
    assert not {e.id for e in train} & {e.id for e in held}
    assert len(held) >= 0.15 * len(catalog)
    texts = load_texts(CATALOGS)
    assert {r.id for r in texts.in_split("heldout").qa}.isdisjoint(
        r.id for r in texts.in_split("train").qa)
    assert texts.in_split("heldout").dialogues and texts.in_split("train").dialogues
