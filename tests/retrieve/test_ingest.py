"""Ingesting a user's folder: ESC-50-style CSV, generic CSV and JSONL metadata;
bad rows and files are quarantined by reason, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamaudio.config import CatalogConfig, Config
from streamaudio.retrieve.audio_io import LoadedClip, load_clip
from streamaudio.retrieve.catalog import load_catalogs, read_clip_lines
from streamaudio.retrieve.ingest import IngestError, ingest_directory
from streamaudio.retrieve.quarantine import Quarantine

SR = 16_000
CLASSES = """\
dog_bark: {domain: nature_environment, label: a dog barking, hazard: false, ambience: false}
rain: {domain: nature_environment, label: rain, hazard: false, ambience: true}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    catalogs = tmp_path / "catalogs"
    (catalogs / "clips").mkdir(parents=True)
    (catalogs / "sound_classes.yaml").write_text(CLASSES)
    return Config(catalog=CatalogConfig(directory=catalogs, max_clip_s=5.0, min_clip_s=0.05))


def tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    wave = 0.3 * np.sin(2 * np.pi * 330 * np.arange(int(rate * seconds)) / rate)
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def esc50_folder(root: Path) -> Path:
    audio = root / "audio"
    audio.mkdir(parents=True)
    sf.write(audio / "1-100-A-0.wav", tone(44_100, 1.0, channels=2), 44_100, subtype="PCM_16")
    sf.write(audio / "1-200-A-1.wav", tone(SR, 2.0), SR, subtype="PCM_16")
    sf.write(audio / "2-300-A-2.wav", tone(SR, 0.5), SR)
    sf.write(audio / "2-400-A-0.wav", np.zeros(SR), SR)  # silent
    (audio / "3-500-A-1.wav").write_bytes(b"\x00garbage" * 100)  # corrupt
    sf.write(audio / "9-999-A-9.wav", tone(SR, 1.0), SR)  # not in the CSV
    sf.write(audio / "._1-100-A-0.wav", tone(SR, 1.0), SR)  # macOS fork: ignored
    (root / "meta").mkdir()
    rows = [
        "filename,fold,target,category,esc10,src_file,take",
        "1-100-A-0.wav,1,0,dog_bark,True,100,A",
        "1-200-A-1.wav,1,1,rain,False,200,A",
        "2-300-A-2.wav,2,2,crackling_fire,False,300,A",
        "2-400-A-0.wav,2,0,dog_bark,True,400,A",
        "3-500-A-1.wav,3,1,rain,False,500,A",
        "4-600-A-1.wav,4,1,rain,False,600,A",  # missing file
    ]
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize("folder", ["audio", "."])  # bare names are found below too
def test_esc50_csv(tmp_path: Path, cfg: Config, folder: str) -> None:
    root = esc50_folder(tmp_path / "ESC-50")
    out = tmp_path / "out" / "esc.jsonl"
    report = ingest_directory(root / folder, root / "meta" / "esc50.csv", out, "esc50", cfg)

    assert report.ingested == 3
    assert report.quarantined == {"missing_file": 1, "silent": 1, "undecodable": 1}
    assert report.unlisted == [("" if folder == "audio" else "audio/") + "9-999-A-9.wav"]
    assert report.new_classes == {"crackling_fire": 1}
    entries = [e for _, e in read_clip_lines(out)]
    prefix = "esc50/" if folder == "audio" else "esc50/audio/"
    assert [e.id for e in entries] == [prefix + n for n in ("1-100-a-0", "1-200-a-1", "2-300-a-2")]
    dog = entries[0]
    assert (dog.source, dog.source_kind, dog.root) == (
        "esc50",
        "local",
        str((root / folder).resolve()),
    )
    assert (dog.sample_rate, dog.channels, dog.duration_s) == (44_100, 2, 1.0)
    assert dog.caption == "A recording of a dog barking." and dog.license == "unknown"
    assert entries[2].caption == "A recording of crackling fire."
    assert (tmp_path / "out" / "esc.quarantine.jsonl").is_file()
    reasons = {r.reason: r.key for r in Quarantine.read(report.quarantine_file).records}
    assert reasons["missing_file"].endswith("4-600-A-1.wav")
    summary = report.summary()
    for text in (
        "ingested 3",
        "missing_file 1",
        "unlisted audio files, not ingested: 1",
        "crackling_fire (1)",
    ):
        assert text in summary


def test_jsonl_metadata_and_a_loadable_catalog(tmp_path: Path, cfg: Config) -> None:
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "sub" / "Rain Loop.flac", tone(SR, 3.0), SR)
    sf.write(folder / "bark.ogg", tone(SR, 1.0), SR)
    sf.write(folder / "long.wav", tone(SR, 6.0), SR, subtype="PCM_16")
    rows = [
        {
            "path": "sub/Rain Loop.flac",
            "sound_class": "Rain",
            "tags": ["rain", "loop"],
            "caption": "Steady rain on a roof.",
            "license": "CC-BY-4.0",
            "loopable": True,
        },
        {"filename": "bark.ogg", "label": "dog-bark", "tags": "dog; outdoor"},
        {"path": "bark.ogg", "sound_class": "dog_bark"},  # listed twice
        {"path": "../escape.wav", "sound_class": "rain"},
        {"path": "long.wav", "sound_class": "rain"},
        {"path": "x.wav"},  # no class
        {"path": "bark.ogg", "sound_class": "rain", "loopable": "maybe"},
    ]
    meta = tmp_path / "meta.jsonl"
    lines = [json.dumps(row) for row in rows]
    meta.write_text("\n".join([*lines[:2], "{broken", *lines[2:]]) + "\n")
    out = cfg.catalog.directory / "clips" / "mine.jsonl"
    report = ingest_directory(folder, meta, out, "mine", cfg, default_license="CC0-1.0")

    assert report.ingested == 2 and report.unlisted == [] and report.new_classes == {}
    assert report.quarantined == {"bad_metadata": 4, "duplicate": 1, "too_long": 1}
    assert any(r.key == "meta.jsonl:3" for r in report.quarantine.records)
    catalog = load_catalogs(cfg.catalog.directory)  # what was written loads as ours
    rain, bark = catalog.by_id("mine/sub/rain_loop"), catalog.by_id("mine/bark")
    assert (rain.sound_class, rain.tags, rain.loopable, rain.license) == (
        "rain",
        ("rain", "loop"),
        True,
        "CC-BY-4.0",
    )
    assert (bark.sound_class, bark.tags, bark.license) == (
        "dog_bark",
        ("dog", "outdoor"),
        "CC0-1.0",
    )
    loaded = load_clip(rain, cfg)
    assert isinstance(loaded, LoadedClip) and len(loaded.audio) == 3 * SR


def test_generic_csv_with_tags_and_slug_collisions(tmp_path: Path, cfg: Config) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    sf.write(folder / "A b.wav", tone(SR, 0.5), SR)
    sf.write(folder / "a_b.wav", tone(SR, 0.5), SR)
    meta = tmp_path / "m.csv"
    meta.write_text("path,category,tags,license\nA b.wav,rain,wet;night,\na_b.wav,rain,,MIT\n")
    report = ingest_directory(folder, meta, tmp_path / "c.jsonl", "f", cfg)
    entries = [e for _, e in read_clip_lines(tmp_path / "c.jsonl")]
    assert report.ingested == 2 and entries[0].id == "f/a_b" and entries[1].id.startswith("f/a_b-")
    assert entries[0].tags == ("wet", "night") and entries[0].license == "unknown"
    assert entries[1].license == "MIT"


def test_unusable_arguments_raise(tmp_path: Path, cfg: Config) -> None:
    meta = tmp_path / "m.csv"
    meta.write_text("file,class\na.wav,rain\n")
    with pytest.raises(IngestError, match="filename column"):
        ingest_directory(tmp_path, meta, tmp_path / "o.jsonl", "x", cfg)
    with pytest.raises(IngestError, match="catalog name"):
        ingest_directory(tmp_path, meta, tmp_path / "o.jsonl", "My Sounds", cfg)
    with pytest.raises(IngestError, match=r"\.csv or \.jsonl"):
        ingest_directory(tmp_path, classes_path(cfg), tmp_path / "o.jsonl", "x", cfg)
    with pytest.raises(IngestError, match="not a directory"):
        ingest_directory(tmp_path / "nope", meta, tmp_path / "o.jsonl", "x", cfg)


def classes_path(cfg: Config) -> Path:
    return cfg.catalog.directory / "sound_classes.yaml"


def test_ingested_clips_get_a_split_stratified_by_class(tmp_path: Path, cfg: Config) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    lines = []
    for index in range(6):
        sf.write(folder / f"bark{index}.wav", tone(SR, 0.5), SR)
        lines.append(json.dumps({"path": f"bark{index}.wav", "sound_class": "dog_bark"}))
    sf.write(folder / "rain.wav", tone(SR, 0.5), SR)
    lines.append(json.dumps({"path": "rain.wav", "sound_class": "rain"}))
    (folder / "meta.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "mine.jsonl"
    ingest_directory(folder, folder / "meta.jsonl", out, "mine", cfg)
    entries = {e.id: e for _, e in read_clip_lines(out)}
    barks = [e.split for e in entries.values() if e.sound_class == "dog_bark"]
    assert sorted(barks) == ["heldout"] + ["train"] * 5  # 20 % of six, at least one
    assert entries["mine/rain"].split == "train"  # a class of one stays in train
    assert '"split": "heldout"' in out.read_text()  # the split is written, it is data
    again = tmp_path / "again.jsonl"
    ingest_directory(folder, folder / "meta.jsonl", again, "mine", cfg)
    assert out.read_text() == again.read_text()  # the same on every run
