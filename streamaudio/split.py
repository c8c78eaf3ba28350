"""The train / held-out split of the catalogs: which clips, rooms, texts and voices a
training corpus may use, and which only a held-out corpus may (learning is measured
on data never trained on).

The split is data: every clip, RIR and text row in catalogs/ carries its `split`, written
by the rule below, so it is the same on every machine and a row never changes side when
others are added. The rule, per group (a sound class, the RIRs, one text catalog): order
the ids by the sha256 of the id and hold out the first `heldout_count(n)` of them, at
least one and never all, so a group of two or more has both splits and a group of one
stays in train."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from streamaudio.atomic import write_text_atomic

Split = Literal["train", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "heldout")
HELDOUT_SHARE = 0.2


def split_rank(row_id: str) -> str:
    """The order the rule holds rows out in: a hash, so it is fixed by the id alone."""
    return hashlib.sha256(f"split:{row_id}".encode()).hexdigest()


def heldout_count(n: int, share: float = HELDOUT_SHARE) -> int:
    """How many of a group of n are held out: none of one, else at least 1 and at most n - 1."""
    if n < 2:
        return 0
    return min(n - 1, max(1, round(n * share)))


def assign_splits(groups: Mapping[str, Iterable[str]], share: float = HELDOUT_SHARE
                  ) -> dict[str, Split]:
    """id -> split, stratified by group (e.g. sound class -> clip ids). Ids are unique
    across groups."""
    splits: dict[str, Split] = {}
    for ids in groups.values():
        ranked = sorted(set(ids), key=split_rank)
        held = heldout_count(len(ranked), share)
        for index, row_id in enumerate(ranked):
            if row_id in splits:
                raise ValueError(f"id {row_id!r} is in more than one group")
            splits[row_id] = "heldout" if index < held else "train"
    return splits


def extend_splits(existing: Mapping[str, Split], groups: Mapping[str, Iterable[str]],
                  share: float = HELDOUT_SHARE) -> dict[str, Split]:
    """Splits for every id in `groups`, keeping those already in `existing` (a row never
    changes side): new ids get the rule's split over their whole group, and a group of
    two or more left with one split has its lowest-ranked new id moved to the other."""
    ruled = assign_splits(groups, share)
    splits: dict[str, Split] = {}
    for ids in groups.values():
        members = sorted(set(ids), key=split_rank)
        new = [row_id for row_id in members if row_id not in existing]
        for row_id in members:
            splits[row_id] = existing.get(row_id, ruled[row_id])
        sides = {splits[row_id] for row_id in members}
        if len(members) >= 2 and len(sides) == 1 and new:
            missing: Split = "train" if sides == {"heldout"} else "heldout"
            splits[new[0]] = missing
    return splits


# ---------------------------------------------------------------- catalog files

QUARANTINE_SUFFIX = ".quarantine.jsonl"  # ingestion's report beside a catalog
Rows = list[dict[str, object]]


def read_rows(path: Path) -> Rows:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def render_rows(rows: Rows) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _unit(row: dict[str, object], path: Path) -> str:
    """What is split as one: a clip or text row by its id, a parallel sentence by its passage."""
    if path.name == "en_zh_pairs.jsonl" and row.get("passage"):
        return f"passage:{row['passage']}"
    return str(row["id"])


def split_rows(files: Mapping[Path, Rows], group_of: Mapping[Path, str] | None = None
               ) -> dict[Path, Rows]:
    """The rows of `files` with a split each (rows that have one keep it). Groups: a
    clip's sound class, or the name in `group_of` for every row of that file."""
    group_of = group_of or {}
    groups: dict[str, set[str]] = {}
    existing: dict[str, Split] = {}
    for path, rows in files.items():
        for row in rows:
            unit = _unit(row, path)
            groups.setdefault(group_of.get(path, f"class:{row.get('sound_class')}"),
                              set()).add(unit)
            if row.get("split") in SPLITS:
                existing.setdefault(unit, row["split"])  # type: ignore[arg-type]
    splits = extend_splits(existing, groups)
    return {path: [row | {"split": splits[_unit(row, path)]} for row in rows]
            for path, rows in files.items()}


def catalog_files(directory: Path) -> tuple[dict[Path, Rows], dict[Path, str]]:
    """Every clip, RIR and text catalog under a catalog directory, and the group of the
    files split as a whole (the RIRs, each text catalog)."""
    clips = [p for p in sorted((directory / "clips").glob("*.jsonl"))
             if not p.name.endswith(QUARANTINE_SUFFIX)]
    rirs = [directory / "rirs.jsonl"]
    texts = sorted((directory / "text").glob("*.jsonl"))
    files = {path: read_rows(path) for path in [*clips, *rirs, *texts] if path.is_file()}
    return files, {path: f"file:{path.name}" for path in [*rirs, *texts]}


def split_catalogs(directory: Path, write: bool = True) -> dict[Path, Counter[str]]:
    """Give every row of the catalogs under `directory` without a split its split; returns
    the files that changed (or would, with write=False) and their rows per split."""
    files, group_of = catalog_files(Path(directory))
    split = split_rows(files, group_of)
    changed: dict[Path, Counter[str]] = {}
    for path, rows in files.items():
        text = render_rows(split[path])
        if text == render_rows(rows):
            continue
        if write:
            write_text_atomic(path, text)
        changed[path] = Counter(str(row["split"]) for row in split[path])
    return changed
