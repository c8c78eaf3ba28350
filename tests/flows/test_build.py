"""The build and regeneration flows on the tiny world: every task runner gives
the same bytes as the library's in-process build, and each run publishes its
summary."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prefect.artifacts import Artifact
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.testing.utilities import prefect_test_harness
from typer.testing import CliRunner

import flows.build
from flows.build import build_corpus
from flows.regen import regenerate_subtask
from streamaudio.cli import app
from streamaudio.config import load_config
from streamaudio.corpus import build_corpus as build_in_process
from streamaudio.corpus import reproducible_files
from streamaudio.shards.reader import iter_streams, list_shards
from streamaudio.shards.remote import RemoteCorpus
from streamaudio.tasks.registry import get_subtask
from streamaudio.validate import validate_corpus

SUBTASKS = ["hazard_alert", "benign_silence"]


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API (SQLite) for the module, telemetry off."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    with prefect_test_harness(server_startup_timeout=120):
        yield


def _overrides(world: Path, cache: Path) -> list[str]:
    return [f"catalog.directory={world}", "retrieval.mode=class",
            "shards.streams_per_shard=2", f"cache.directory={cache}"]


def test_every_runner_builds_the_same_bytes(prefect_api: None, world: Path,
                                            tmp_path: Path) -> None:
    overrides = _overrides(world, tmp_path / "cache")
    reference = tmp_path / "inline"
    build_in_process(reference, [get_subtask(s) for s in SUBTASKS], 3, 5,
                     load_config(overrides=overrides))
    expected = reproducible_files(reference)
    assert len(list_shards(reference)) == 4  # 2 subtasks x 2 shards: several tasks
    for runner in ("thread", "process", "dask"):
        out = tmp_path / runner
        manifest = build_corpus(out=str(out), streams=3, seed=5, runner=runner, workers=2,
                                subtasks=SUBTASKS, overrides=overrides)
        assert manifest["last_run"]["runner"] == runner
        assert set(manifest["last_run"]) >= {"wall_seconds", "stage_seconds"}
        assert manifest["last_run"]["shards_built"] == 4
        assert reproducible_files(out) == expected, runner
    assert validate_corpus(tmp_path / "dask")[1] == []
    artifact = Artifact.get("corpus-build-summary")
    assert artifact is not None and "## Per subtask" in str(artifact.data)
    assert "hazard_alert" in str(artifact.data)


def test_speech_on_dask_workers_gives_the_in_process_bytes(prefect_api: None, world: Path,
                                                          tmp_path: Path) -> None:
    """Speech goes through TTS and an ASR round trip whose floats depend on the BLAS
    thread count (Dask workers run with OMP_NUM_THREADS=1); each build has its own
    cache, so no transcript is shared."""
    def overrides(cache: str) -> list[str]:
        return [f"catalog.directory={world}", "retrieval.mode=class",
                "shards.streams_per_shard=1", f"cache.directory={tmp_path / cache}"]

    reference = tmp_path / "inline"
    build_in_process(reference, [get_subtask("asr_noisy")], 2, 5,
                     load_config(overrides=overrides("cache-inline")))
    out = tmp_path / "dask"
    manifest = build_corpus(out=str(out), streams=2, seed=5, runner="dask", workers=2,
                            subtasks=["asr_noisy"], overrides=overrides("cache-dask"))
    assert manifest["last_run"]["shards_built"] == 2
    # config.yaml names each build's own cache directory
    assert reproducible_files(out, config=False) == reproducible_files(reference, config=False)
    assert sum(1 for _ in iter_streams(out)) == 2


def test_a_rerun_keeps_complete_shards(prefect_api: None, world: Path, tmp_path: Path) -> None:
    overrides = _overrides(world, tmp_path / "cache")
    out = tmp_path / "corpus"
    build_corpus(out=str(out), streams=3, seed=5, subtasks=SUBTASKS, overrides=overrides)
    first = reproducible_files(out)
    manifest = build_corpus(out=str(out), streams=3, seed=5, subtasks=SUBTASKS,
                            overrides=overrides)
    assert manifest["last_run"]["shards_built"] == 0 and manifest["last_run"]["shards_kept"] == 4
    assert reproducible_files(out) == first


class RecordingThreadRunner(ThreadPoolTaskRunner):
    """A real one-thread task runner that notes which shard each submit asks for."""

    submitted: ClassVar[list[tuple[str, int]]] = []

    def submit(self, task: Any, parameters: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.submitted.append((parameters["subtask"], parameters["shard_index"]))
        return super().submit(task, parameters, *args, **kwargs)


def test_costliest_shards_are_submitted_first_and_results_kept_in_job_order(
        prefect_api: None, world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows.build, "make_task_runner",
                        lambda *_: RecordingThreadRunner(max_workers=1))
    RecordingThreadRunner.submitted = []
    out = tmp_path / "corpus"
    manifest = build_corpus(out=str(out), streams=3, seed=5, subtasks=SUBTASKS,
                            overrides=_overrides(world, tmp_path / "cache"))
    # job order is h0 h1 b0 b1; 2-stream shards go before the 1-stream ones
    assert RecordingThreadRunner.submitted == [
        ("hazard_alert", 0), ("benign_silence", 0), ("hazard_alert", 1), ("benign_silence", 1)]
    assert manifest["last_run"]["shards_built"] == 4
    assert validate_corpus(out)[1] == []


def test_process_workers_publish_to_s3_the_same_bytes(prefect_api: None, world: Path,
                                                      tmp_path: Path, s3_bucket: str) -> None:
    """Worker processes build shards locally and publish them to the store (moto's
    S3 server on 127.0.0.1); the store then holds what a local build holds."""
    overrides = _overrides(world, tmp_path / "cache")
    reference = tmp_path / "inline"
    build_in_process(reference, [get_subtask(s) for s in SUBTASKS], 3, 5,
                     load_config(overrides=overrides))
    url = f"{s3_bucket}/nightly/{{date}}"
    manifest = build_corpus(out=url, streams=3, seed=5, runner="process", workers=2,
                            subtasks=SUBTASKS, overrides=overrides)
    assert manifest["last_run"]["shards_built"] == 4
    folders = RemoteCorpus(f"{s3_bucket}/nightly").fs.ls(f"{s3_bucket[5:]}/nightly")
    assert len(folders) == 1  # {date} became the run's date
    RemoteCorpus(f"s3://{folders[0]}").download(tmp_path / "copy")
    assert reproducible_files(tmp_path / "copy") == reproducible_files(reference)
    artifact = Artifact.get("corpus-build-summary")
    assert artifact is not None and f"s3://{folders[0]}" in str(artifact.data)


def test_regenerate_subtask_flow_changes_only_that_subtask(prefect_api: None, world: Path,
                                                           tmp_path: Path) -> None:
    overrides = _overrides(world, tmp_path / "cache")
    out = tmp_path / "corpus"
    build_corpus(out=str(out), streams=3, seed=5, subtasks=SUBTASKS, overrides=overrides)
    before = reproducible_files(out)
    result = regenerate_subtask(corpus=str(out), subtask="hazard_alert", seed=8)
    after = reproducible_files(out)
    changed = {name for name in before if before[name] != after[name]}
    assert {name for name in changed if name.endswith(".parquet")} == {
        p.relative_to(out).as_posix() for p in list_shards(out)
        if p.parent.name == "hazard_alert"}
    assert all(shard["seed"] == 8 for shard in result["shards"])
    assert {r.seed for r in iter_streams(out, subtask="hazard_alert")} == {8}
    assert validate_corpus(out)[1] == []
    assert Artifact.get("corpus-regen-summary") is not None


def test_cli_runs_the_flow_with_a_runner(prefect_api: None, world: Path,
                                         tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    args = ["build", "--out", str(out), "--streams", "2", "--runner", "thread"]
    for subtask in SUBTASKS:
        args += ["--subtask", subtask]
    for setting in _overrides(world, tmp_path / "cache"):
        args += ["--set", setting]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["last_run"]["runner"] == "thread"
    bad = CliRunner().invoke(app, [*args, "--runner", "fleet", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "unknown task runner 'fleet'" in bad.output
    assert not (tmp_path / "x").exists()  # refused before anything was written
    regen = CliRunner().invoke(app, ["regen", "hazard_alert", "--corpus", str(out), "--seed",
                                     "8", "--runner", "flow"])
    assert regen.exit_code == 0, regen.output
    assert {r.seed for r in iter_streams(out, subtask="hazard_alert")} == {8}
    assert json.loads((out / "manifest.json").read_text())["last_run"]["runner"] == (
        "regen hazard_alert")


def test_a_scheduled_run_gets_its_own_folder_and_seed() -> None:
    from datetime import date

    from flows.build import dated

    assert dated("corpus-nightly/{date}", None, date(2026, 11, 22)) == (
        "corpus-nightly/2026-11-22", 20261122)
    assert dated("corpus", 7, date(2026, 11, 22)) == ("corpus", 7)
