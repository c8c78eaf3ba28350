import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamaudio.config import Config, load_config
from streamaudio.corpus import (
    SPEECH_STREAM_COST,
    build_corpus,
    longest_first,
    reproducible_files,
    shard_jobs,
)
from streamaudio.profile import PARTS
from streamaudio.shards.reader import iter_streams, list_shards
from streamaudio.stage import StageError
from streamaudio.tasks.registry import get_subtask

SUBTASKS = ["hazard_alert", "benign_silence", "sound_event_qa"]


def _build(root: Path, cfg: Config, streams: int = 6, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_corpus(root, [get_subtask(name) for name in SUBTASKS], streams, seed, cfg)


def test_layout_manifest_card_and_config(tmp_path: Path, world_config: Config) -> None:
    root = tmp_path / "corpus"
    report = _build(root, world_config)
    shards = [path.relative_to(root).as_posix() for path in list_shards(root)]
    assert "proactive_response/hazard_alert/shard-00000.parquet" in shards
    assert "audio_understanding/sound_event_qa/shard-00001.parquet" in shards
    assert len(shards) == 6  # 6 streams, 4 per shard, 3 subtasks
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest == report.manifest
    assert manifest["totals"]["streams"] == 18
    assert manifest["config_hash"] == world_config.hash()
    assert manifest["subtasks"]["benign_silence"]["response_chunks"] == 0
    assert manifest["subtasks"]["hazard_alert"]["response_chunks"] == 6
    assert (root / "README.md").read_text().startswith("---")
    assert "config_hash: " + world_config.hash() in (root / "config.yaml").read_text()
    assert {r.config_hash for r in iter_streams(root)} == {world_config.hash()}


def test_same_seed_gives_byte_identical_shards(tmp_path: Path, world_config: Config) -> None:
    _build(tmp_path / "a", world_config)
    _build(tmp_path / "b", world_config)
    a, b = list_shards(tmp_path / "a"), list_shards(tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    for left, right in zip(a, b, strict=True):
        assert left.read_bytes() == right.read_bytes()
    manifests = [json.loads((tmp_path / side / "manifest.json").read_text()) for side in "ab"]
    runs = [manifest.pop("last_run") for manifest in manifests]  # this run's own timings
    assert manifests[0] == manifests[1]
    for run in runs:
        assert run["shards_built"] == len(a) and run["shards_kept"] == 0
        assert set(run["stage_seconds"]) == {"plan", "ground", "render", "write"}
        assert 0 < sum(run["stage_seconds"].values()) <= run["wall_seconds"] * 1.01
        # parts inside the stages (a warm cache may leave no TFJP to run)
        assert set(run["part_seconds"]) <= set(PARTS)
        heard = run["stage_seconds"]["ground"] + run["stage_seconds"].get("mix check", 0.0)
        assert sum(run["part_seconds"].values()) <= heard * 1.01
    cards = [(tmp_path / side / "README.md").read_bytes() for side in "ab"]
    assert cards[0] == cards[1]


def test_rerun_skips_complete_shards_and_rebuilds_missing_ones(
        tmp_path: Path, world_config: Config) -> None:
    root = tmp_path / "corpus"
    _build(root, world_config)
    shards = list_shards(root)
    before = {path: path.read_bytes() for path in shards}
    os.utime(shards[0], (1, 1))
    shards[1].unlink()
    shards[2].write_bytes(b"truncated")
    report = _build(root, world_config)
    assert report.skipped == len(shards) - 2
    assert shards[0].stat().st_mtime == 1  # untouched
    for path in shards:
        assert path.read_bytes() == before[path]
    assert not [p for p in root.rglob(".*tmp*")]


def test_a_different_config_cannot_write_into_the_same_corpus(
        tmp_path: Path, world_config: Config) -> None:
    root = tmp_path / "corpus"
    _build(root, world_config, streams=1)
    other = world_config.model_copy(update={"tfjp": world_config.tfjp.model_copy(
        update={"enabled": False})})
    with pytest.raises(StageError, match="built with config"):
        _build(root, other, streams=1)


def test_bad_clips_are_quarantined_with_reasons_not_crashes(
        tmp_path: Path, world: Path) -> None:
    audio = world.parent / "audio"
    (audio / "dog_bark_0.wav").write_bytes(b"RIFF not really a wav")
    (audio / "dog_bark_1.wav").write_bytes(b"")
    cfg = load_config(overrides=[f"catalog.directory={world}", "shards.streams_per_shard=4",
                                 "retrieval.mode=class"])
    root = tmp_path / "corpus"
    report = _build(root, cfg, streams=8)
    assert report.quarantine.get("undecodable", 0) + report.quarantine.get("empty", 0) >= 1
    manifest = json.loads((root / "manifest.json").read_text())
    assert sum(manifest["quarantined_clips"].values()) >= 1
    lines = (root / "quarantine.jsonl").read_text().splitlines()
    assert all(json.loads(line)["reason"] for line in lines)
    planned = 8 * 3
    built = manifest["totals"]["streams"]
    dropped = sum(v for k, v in manifest["drops"].items() if k.startswith("stream:"))
    assert built + dropped == planned  # nothing lost silently


def test_longest_first_puts_speech_and_full_shards_before_short_sound_shards(
        world_config: Config) -> None:
    subtasks = [get_subtask(name) for name in ("hazard_alert", "asr_clean", "benign_silence")]
    counts = {"hazard_alert": 9, "asr_clean": 5, "benign_silence": 4}
    jobs = shard_jobs(subtasks, counts, 0, world_config)  # 4 streams per shard
    assert [(j.subtask.name, j.shard_index) for j in jobs] == [
        ("hazard_alert", 0), ("hazard_alert", 1), ("hazard_alert", 2),
        ("asr_clean", 0), ("asr_clean", 1), ("benign_silence", 0)]
    order = longest_first(jobs, 4)
    assert [(jobs[i].subtask.name, jobs[i].shard_index) for i in order] == [
        ("asr_clean", 0), ("asr_clean", 1),  # 4 x 20 and 1 x 20: speech is costly
        ("hazard_alert", 0), ("hazard_alert", 1), ("benign_silence", 0),  # ties: job order
        ("hazard_alert", 2)]  # the last, 1-stream shard
    assert jobs[3].estimated_cost(4) == 4 * SPEECH_STREAM_COST
    assert sorted(order) == list(range(len(jobs)))


def test_reproducible_files_leave_out_only_the_run_report(tmp_path: Path,
                                                          world_config: Config) -> None:
    build_corpus(tmp_path / "c", [get_subtask("hazard_alert")], 2, 0, world_config)
    files = reproducible_files(tmp_path / "c")
    assert {"config.yaml", "manifest.json", "README.md"} <= set(files)
    assert "last_run" not in json.loads(files["manifest.json"])
    assert "totals" in json.loads(files["manifest.json"])
    assert set(files) - set(reproducible_files(tmp_path / "c", config=False)) == {"config.yaml"}


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_worker_processes_and_a_warm_cache_give_the_same_bytes(
        tmp_path: Path, world_config: Config, start_method: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, on two worker processes (forked or spawned) with an empty
    cache, and on two with the cache the first build filled (decoded clips, TFJP and
    measures read back): the same files, byte for byte."""
    monkeypatch.setattr("streamaudio.corpus.worker_start_method", lambda: start_method)
    cold_a = world_config.model_copy(update={"cache": world_config.cache.model_copy(
        update={"directory": tmp_path / "cache-a"})})
    cold_b = world_config.model_copy(update={"cache": world_config.cache.model_copy(
        update={"directory": tmp_path / "cache-b"})})
    subtasks = [get_subtask(name) for name in SUBTASKS]
    one = build_corpus(tmp_path / "one", subtasks, 6, 0, cold_a)
    two = build_corpus(tmp_path / "two", subtasks, 6, 0, cold_b, workers=2)
    build_corpus(tmp_path / "warm", subtasks, 6, 0, cold_a, workers=2)
    assert one.manifest["last_run"]["runner"] == "in-process"
    assert two.manifest["last_run"]["runner"] == "processes:2"
    assert (tmp_path / "cache-a" / "clip-measures").is_dir()
    assert (tmp_path / "cache-a" / "decoded-clips").is_dir()
    expected = reproducible_files(tmp_path / "one", config=False)
    assert len([name for name in expected if name.endswith(".parquet")]) == 6
    assert reproducible_files(tmp_path / "two", config=False) == expected
    assert reproducible_files(tmp_path / "warm", config=False) == expected


def test_workers_below_one_are_refused(tmp_path: Path, world_config: Config) -> None:
    with pytest.raises(StageError, match="--workers must be at least 1"):
        build_corpus(tmp_path / "c", [get_subtask("hazard_alert")], 2, 0, world_config,
                     workers=0)


@pytest.mark.parametrize(("setup", "expected"), [
    ("", "fork"),
    ("import torch", "spawn"),  # a model runtime's thread pools must not be forked
    ("import threading, time; threading.Thread(target=time.sleep, args=(5,),"
     " daemon=True).start()", "spawn"),
])
def test_workers_are_forked_only_from_a_process_without_model_runtimes(
        setup: str, expected: str) -> None:
    code = (f"import streamaudio.cli\n{setup}\n"
            "from streamaudio.corpus import worker_start_method\n"
            "print(worker_start_method())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == expected


def test_a_warm_build_imports_no_scipy_signal(tmp_path: Path) -> None:
    """Start-up is most of a warm build: TFJP, spectra, loudness and noise banks are
    read from the cache, so scipy.signal (~2 s to import) is never loaded. Generated
    clips and noise beds included (hazard_alert falls back to the synth; beds may be
    noise)."""
    code = (
        "import sys\n"
        "from streamaudio.config import load_config\n"
        "from streamaudio.corpus import build_corpus\n"
        "from streamaudio.tasks.registry import get_subtask\n"
        f"cfg = load_config(overrides=['cache.directory={tmp_path / 'cache'}'])\n"
        "build_corpus(sys.argv[1], [get_subtask(n) for n in ('hazard_alert', "
        "'benign_silence', 'scene_description')], 4, 0, cfg)\n"
        "print('scipy.signal' in sys.modules, 'pyloudnorm' in sys.modules)\n")
    runs = [subprocess.run([sys.executable, "-c", code, str(tmp_path / name)],
                           capture_output=True, text=True, check=True, timeout=600)
            for name in ("cold", "warm")]
    assert runs[0].stdout.split() == ["True", "True"]  # the cold build measured
    assert runs[1].stdout.split() == ["False", "False"], runs[1].stdout
    assert reproducible_files(tmp_path / "warm", config=False) == reproducible_files(
        tmp_path / "cold", config=False)
