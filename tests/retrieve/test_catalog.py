"""Clip catalogs: loading, lookups, path resolution and loud errors on bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamaudio.retrieve.catalog import (
    Catalog,
    CatalogError,
    ClipEntry,
    PackageMissing,
    load_catalogs,
    load_rirs,
    resolve_path,
)

CLASSES = """\
dog_bark: {domain: nature_environment, label: a dog barking, hazard: false, ambience: false}
smoke_alarm:
  domain: equipment
  label: a smoke alarm
  hazard: true
  warning: The smoke alarm is going off.
  emotion: urgent
  ambience: false
rain: {domain: nature_environment, label: rain, hazard: false, ambience: true}
"""


def entry(clip_id: str, sound_class: str = "dog_bark", **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": clip_id,
        "source": "minetest-data",
        "source_kind": "deb",
        "path": f"usr/share/nothing/{clip_id.split('/')[-1]}.ogg",
        "sound_class": sound_class,
        "caption": "A dog barks twice.",
        "tags": ["dog"],
        "duration_s": 1.25,
        "sample_rate": 44100,
        "channels": 1,
        "license": "CC0-1.0",
        "loopable": False,
    }
    base.update(over)
    return base


def write_catalog_dir(root: Path, files: dict[str, list[object]]) -> Path:
    (root / "clips").mkdir(parents=True)
    (root / "sound_classes.yaml").write_text(CLASSES)
    for name, rows in files.items():
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        (root / "clips" / name).write_text("\n".join(lines) + "\n")
    return root


def test_load_and_lookups(tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "r.wav").write_bytes(b"x")
    root = write_catalog_dir(
        tmp_path / "cat",
        {
            "a.jsonl": [entry("mt/dog1"), entry("mt/alarm", "smoke_alarm")],
            "b.jsonl": [
                entry(
                    "mine/rain",
                    "rain",
                    source="mine",
                    source_kind="local",
                    root=str(local),
                    path="r.wav",
                    loopable=True,
                ),
            ],
        },
    )
    catalog = load_catalogs(root)
    assert len(catalog) == 3
    assert [e.id for e in catalog] == ["mt/dog1", "mt/alarm", "mine/rain"]  # files sorted
    assert catalog.by_id("mt/alarm").sound_class == "smoke_alarm"
    assert "mt/dog1" in catalog and "nope/x" not in catalog
    with pytest.raises(KeyError, match="nope/x"):
        catalog.by_id("nope/x")
    assert [e.id for e in catalog.by_class("rain")] == ["mine/rain"]
    assert catalog.by_class("unknown") == ()
    assert catalog.classes_where(hazard=True) == ["smoke_alarm"]
    assert catalog.classes_where(ambience=True) == ["rain"]
    assert catalog.classes_where(domain="nature_environment", ambience=False) == ["dog_bark"]
    assert catalog.classes_where() == ["dog_bark", "rain", "smoke_alarm"]
    assert catalog.classes["smoke_alarm"].emotion == "urgent"
    assert catalog.resolve_path(catalog.by_id("mine/rain")) == local / "r.wav"
    assert resolve_path(catalog.by_id("mt/dog1")) == Path("/usr/share/nothing/dog1.ogg")

    installed, missing = catalog.filter_installed()
    assert [e.id for e in installed] == ["mine/rain"]
    assert [e.id for e in missing] == ["mt/dog1", "mt/alarm"]
    assert installed.classes == catalog.classes


def test_pypi_paths_resolve_through_the_distribution(tmp_path: Path) -> None:
    here = ClipEntry.model_validate(
        entry("np/init", source="numpy", source_kind="pypi", path="numpy/__init__.py")
    )
    assert resolve_path(here).is_file()
    gone = ClipEntry.model_validate(
        entry("zz/x", source="no-such-distribution-xyz", source_kind="pypi", path="a.wav")
    )
    with pytest.raises(PackageMissing):
        resolve_path(gone)
    installed, missing = Catalog((here, gone), {}).filter_installed()
    assert [e.id for e in installed] == ["np/init"] and missing == [gone]


def test_json_line_round_trip_omits_root_outside_local() -> None:
    clip = ClipEntry.model_validate(entry("mt/dog1"))
    data = json.loads(clip.to_json_line())
    assert "root" not in data and data["tags"] == ["dog"]
    assert ClipEntry.model_validate_json(clip.to_json_line()) == clip


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "b.jsonl:2"),
        (entry("mt/x", colour="red"), r"b.jsonl:2: colour"),
        ({k: v for k, v in entry("mt/x").items() if k != "license"}, "b.jsonl:2: license"),
        (entry("MT/Upper"), "b.jsonl:2: id"),
        (entry("mt/x", path="../../etc/passwd"), "b.jsonl:2: .*relative"),
        (entry("mt/x", source_kind="local"), "b.jsonl:2: .*absolute root"),
        (entry("mt/x", root="/tmp"), "b.jsonl:2: .*only for local"),
        (entry("mt/x", duration_s=-1), "b.jsonl:2: duration_s"),
        (entry("mt/x", "dragon"), "b.jsonl:2: sound_class 'dragon'"),
        (entry("mt/dog1"), r"b.jsonl:2: duplicate id 'mt/dog1' \(first at .*a.jsonl:1\)"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    root = write_catalog_dir(
        tmp_path, {"a.jsonl": [entry("mt/dog1")], "b.jsonl": [entry("mt/ok"), bad]}
    )
    with pytest.raises(CatalogError, match=message):
        load_catalogs(root)


def test_bad_class_table_and_missing_files_are_loud(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"sound_classes\.yaml"):
        load_catalogs(tmp_path)
    (tmp_path / "sound_classes.yaml").write_text(
        "fire: {domain: equipment, label: fire, hazard: true, ambience: false}\n"
    )
    with pytest.raises(CatalogError, match=r"class 'fire'.*warning"):
        load_catalogs(tmp_path)
    with pytest.raises(CatalogError, match=r"rirs\.jsonl"):
        load_rirs(tmp_path)


def test_extra_catalogs_and_rirs(tmp_path: Path) -> None:
    root = write_catalog_dir(tmp_path / "cat", {"a.jsonl": [entry("mt/dog1")]})
    extra = tmp_path / "mine.jsonl"
    extra.write_text(json.dumps(entry("mine/dog2")) + "\n\n")  # blank lines are fine
    assert [e.id for e in load_catalogs(root, extra=[extra])] == ["mt/dog1", "mine/dog2"]
    (root / "rirs.jsonl").write_text(json.dumps(entry("psg/rir1", "room_ir")) + "\n")
    assert [r.id for r in load_rirs(root)] == ["psg/rir1"]  # RIR classes are not checked
