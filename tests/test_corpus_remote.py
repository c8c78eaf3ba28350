"""Building into an S3 URL (moto's server on 127.0.0.1): the same files as a local
build, resumable from what the store holds, and readable by the CLI."""

from pathlib import Path

import fsspec
import pytest
from typer.testing import CliRunner

from streamaudio.cli import app
from streamaudio.config import Config
from streamaudio.corpus import build_corpus, reproducible_files
from streamaudio.shards.remote import RemoteCorpus
from streamaudio.stage import StageError
from streamaudio.tasks.registry import get_subtask

SUBTASKS = ["hazard_alert", "benign_silence"]


def _build(out: Path | str, cfg: Config, seed: int = 0):  # type: ignore[no-untyped-def]
    return build_corpus(out, [get_subtask(name) for name in SUBTASKS], 5, seed, cfg)


def _download(url: str, into: Path) -> dict[str, bytes]:
    RemoteCorpus(url).download(into)
    return reproducible_files(into)


def test_an_s3_build_holds_the_same_files_as_a_local_one(
        s3_bucket: str, tmp_path: Path, world_config: Config) -> None:
    _build(tmp_path / "local", world_config)
    url = f"{s3_bucket}/corpus"
    report = _build(url, world_config)
    assert report.manifest["totals"]["streams"] == 10
    assert report.manifest["invalid_shards"] == []
    remote = _download(url, tmp_path / "copy")
    assert remote == reproducible_files(tmp_path / "local")
    assert ".progress/proactive_response/hazard_alert/shard-00001.json" in remote
    assert str(report.built[0].path).startswith(f"{url}/proactive_response/hazard_alert/")


def test_a_relaunch_keeps_what_the_store_holds(s3_bucket: str, tmp_path: Path,
                                              world_config: Config) -> None:
    url = f"{s3_bucket}/corpus"
    _build(url, world_config)
    fs = fsspec.filesystem("s3")
    root = f"{url[5:]}"
    first = _download(url, tmp_path / "first")
    kept = _build(url, world_config)
    assert kept.manifest["last_run"]["shards_built"] == 0
    assert kept.manifest["last_run"]["shards_kept"] == 4
    # as a kill between a shard's upload and its record's would leave it
    for key in (".progress/proactive_response/benign_silence/shard-00000.json",
                "proactive_response/hazard_alert/shard-00001.parquet"):
        assert fs.exists(f"{root}/{key}")
        fs.rm(f"{root}/{key}")
    again = _build(url, world_config)
    assert again.manifest["last_run"]["shards_built"] == 2
    assert _download(url, tmp_path / "again") == first


def test_a_different_config_is_refused_on_the_store(s3_bucket: str,
                                                    world_config: Config) -> None:
    url = f"{s3_bucket}/corpus"
    _build(url, world_config)
    other = world_config.model_copy(update={"shards": world_config.shards.model_copy(
        update={"streams_per_shard": 3})})
    with pytest.raises(StageError, match="was built with config"):
        _build(url, other)


def test_the_cli_builds_and_validates_an_s3_corpus(s3_bucket: str, world: Path) -> None:
    runner = CliRunner()
    url = f"{s3_bucket}/cli"
    built = runner.invoke(app, ["build", "--out", url, "--subtask", "hazard_alert",
                                "--streams", "3", "--set", f"catalog.directory={world}",
                                "--set", "retrieval.mode=class"])
    assert built.exit_code == 0, built.output
    assert url in " ".join(built.output.split())  # rich may wrap the line
    checked = runner.invoke(app, ["validate", url])
    assert checked.exit_code == 0, checked.output
    assert "OK: 3 rows valid" in checked.output
    refused = runner.invoke(app, ["regen", "hazard_alert", "--corpus", url])
    assert refused.exit_code == 1 and "regen works on a local corpus" in refused.output
    for command in ("inspect", "report"):
        refused = runner.invoke(app, [command, url])
        assert refused.exit_code == 1 and "reads a local corpus directory" in refused.output
