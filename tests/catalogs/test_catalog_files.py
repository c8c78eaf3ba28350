"""Checks of the committed real-recording catalogs (catalogs/clips/*.jsonl, catalogs/rirs.jsonl,
catalogs/sound_classes.yaml). File checks are skipped, with the reason, for packages that are
not installed on this machine."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
import yaml

from streamaudio.schema import EMOTIONS

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"
CLIP_FILES = sorted((CATALOGS / "clips").glob("*.jsonl"))
RIRS_FILE = CATALOGS / "rirs.jsonl"
TOOL = CATALOGS / "tools" / "build_catalogs.py"
KEYS = {
    "id",
    "source",
    "source_kind",
    "path",
    "sound_class",
    "caption",
    "tags",
    "duration_s",
    "sample_rate",
    "channels",
    "license",
    "loopable",
    "split",
}
DOMAINS = {"daily_living", "human_signals", "equipment", "nature_environment", "traffic", "music"}
ID_RE = re.compile(r"^[a-z0-9_.-]+/[a-z0-9_/.-]+$")
RIR_CLASS = "room_impulse_response"


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


CLIPS: list[dict[str, Any]] = [row for path in CLIP_FILES for row in _rows(path)]
RIRS: list[dict[str, Any]] = _rows(RIRS_FILE) if RIRS_FILE.exists() else []
CLASSES: dict[str, dict[str, Any]] = yaml.safe_load((CATALOGS / "sound_classes.yaml").read_text())


def _root(row: dict[str, Any]) -> Path | None:
    """Where `path` is relative to, or None if the package is not installed."""
    if row["source_kind"] == "deb":
        return Path("/")
    if row["source_kind"] == "pypi":
        try:
            return Path(str(importlib.metadata.distribution(row["source"]).locate_file("")))
        except importlib.metadata.PackageNotFoundError:
            return None
    return Path(row["root"])


def _installed(row: dict[str, Any]) -> bool:
    root = _root(row)
    if root is None:
        return False
    # A deb package counts as installed when its file's directory exists.
    return (root / row["path"]).parent.is_dir()


def test_catalog_files_exist() -> None:
    assert CLIP_FILES, "no clip catalogs under catalogs/clips/"
    assert RIRS, "catalogs/rirs.jsonl is missing or empty"


def _shape_problems(row: dict[str, Any]) -> list[str]:
    checks = {
        "keys": set(row) == KEYS,
        "id": isinstance(row.get("id"), str) and bool(ID_RE.match(row["id"])),
        "source_kind": row.get("source_kind") in {"deb", "pypi"},
        "source": isinstance(row.get("source"), str) and bool(row["source"]),
        "path": isinstance(row.get("path"), str) and not row["path"].startswith("/"),
        "caption": isinstance(row.get("caption"), str)
        and row["caption"].endswith(".")
        and len(row["caption"].split()) >= 3,
        "tags": isinstance(row.get("tags"), list)
        and bool(row["tags"])
        and all(isinstance(t, str) and t == t.lower() for t in row["tags"]),
        "duration_s": isinstance(row.get("duration_s"), float)
        and 0.1 <= row["duration_s"] <= 120.0
        and round(row["duration_s"], 3) == row["duration_s"],
        "sample_rate": isinstance(row.get("sample_rate"), int) and row["sample_rate"] >= 8000,
        "channels": isinstance(row.get("channels"), int) and row["channels"] >= 1,
        "license": isinstance(row.get("license"), str) and bool(row["license"]),
        "loopable": isinstance(row.get("loopable"), bool),
    }
    return [f"{row.get('id')}: bad {key}" for key, ok in checks.items() if not ok]


def test_row_shape() -> None:
    problems = [p for row in CLIPS + RIRS for p in _shape_problems(row)]
    assert not problems, problems[:20]


def test_ids_unique() -> None:
    ids = [row["id"] for row in CLIPS + RIRS]
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicated


def test_one_source_per_catalog_file() -> None:
    for path in CLIP_FILES:
        sources = {row["source"] for row in _rows(path)}
        assert sources == {path.stem}, path.name


def test_every_sound_class_is_known() -> None:
    unknown = sorted({row["sound_class"] for row in CLIPS} - set(CLASSES))
    assert not unknown
    assert RIR_CLASS not in CLASSES  # impulse responses are not events


def test_rirs() -> None:
    for row in RIRS:
        assert row["sound_class"] == RIR_CLASS
        assert row["loopable"] is False


def test_class_specs() -> None:
    for name, spec in CLASSES.items():
        assert spec["domain"] in DOMAINS, name
        assert isinstance(spec["label"], str) and spec["label"], name
        assert isinstance(spec["hazard"], bool), name
        assert isinstance(spec["ambience"], bool), name
        if spec["hazard"]:
            assert isinstance(spec.get("warning"), str) and spec["warning"].strip(), name
            assert spec.get("emotion") in EMOTIONS, name
        else:
            assert "warning" not in spec and "emotion" not in spec, name


def test_counts() -> None:
    used = {row["sound_class"] for row in CLIPS}
    assert len(CLIPS) >= 300
    assert len(used) >= 40


def test_every_domain_has_clips() -> None:
    by_domain: defaultdict[str, int] = defaultdict(int)
    for row in CLIPS:
        by_domain[CLASSES[row["sound_class"]]["domain"]] += 1
    assert set(by_domain) == DOMAINS


def test_ambience_beds() -> None:
    beds = [r for r in CLIPS if CLASSES[r["sound_class"]]["ambience"] and r["loopable"]]
    assert len(beds) >= 20
    assert sum(r["duration_s"] for r in beds) >= 300
    for name, spec in CLASSES.items():
        if spec["ambience"]:
            assert any(r["sound_class"] == name and r["loopable"] for r in CLIPS), name


def test_hazard_classes_have_clips() -> None:
    for name, spec in CLASSES.items():
        if spec["hazard"]:
            assert any(r["sound_class"] == name for r in CLIPS), name


def _by_source() -> dict[str, list[dict[str, Any]]]:
    out: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in CLIPS + RIRS:
        out[row["source"]].append(row)
    return dict(sorted(out.items()))


@pytest.mark.parametrize("source", sorted(_by_source()))
def test_files_exist_and_durations_match(source: str) -> None:
    rows = _by_source()[source]
    if not _installed(rows[0]):
        pytest.skip(f"package {source} is not installed")
    root = _root(rows[0])
    assert root is not None
    missing = [r["path"] for r in rows if not (root / r["path"]).is_file()]
    assert not missing, f"{source}: {len(missing)} catalogued files not installed: {missing[:3]}"
    step = max(1, len(rows) // 6)
    for row in rows[::step]:
        path = root / row["path"]
        audio, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
        assert sample_rate == row["sample_rate"], row["id"]
        assert audio.shape[1] == row["channels"], row["id"]
        assert abs(audio.shape[0] / sample_rate - row["duration_s"]) <= 0.01, row["id"]


def test_catalogs_are_up_to_date() -> None:
    """The committed output equals what the curation tool produces from the installed
    packages (packages that are missing keep their committed catalog)."""
    if not all(_installed(rows[0]) for rows in _by_source().values()):
        pytest.skip("not every source package is installed")
    result = subprocess.run(
        [sys.executable, str(TOOL), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_classes_without_clips_are_made_by_the_synth() -> None:
    """A class no package records (doorbell, knock, appliance beeps) is generated when
    grounded: the offline synth must have a recipe for its caption, as a planner
    writes it, and it is never a hazard (those need real recordings) or a bed."""
    from streamaudio.generate.synth import classify_prompt

    recorded = {row["sound_class"] for row in CLIPS}
    unrecorded = sorted(set(CLASSES) - recorded)
    assert unrecorded == ["door_knock", "doorbell", "microwave_beeping", "oven_timer_beeping"]
    recipes = {}
    for name in unrecorded:
        spec = CLASSES[name]
        assert not spec["hazard"] and not spec["ambience"], name
        caption = f"A realistic recording of {spec['label']} close by, as heard in a kitchen."
        recipes[name] = classify_prompt(caption)
    assert recipes == {"door_knock": "knock", "doorbell": "doorbell",
                       "microwave_beeping": "beeps", "oven_timer_beeping": "beeps"}
