import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console
from typer.testing import CliRunner

from streamaudio import cli
from streamaudio.cli import app
from streamaudio.tasks.registry import all_subtasks
from streamaudio.taxonomy import load_taxonomy, mixture_counts

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # tables are as wide as the terminal; the test runner's default 80 columns cut names
    monkeypatch.setattr(cli, "console", Console(width=200))
    monkeypatch.setattr(cli, "errors", Console(width=200, stderr=True))


def _build(world: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["build", "--out", str(out), "--streams", "3", "--seed", "4",
                               "--subtask", "hazard_alert", "--subtask", "sound_event_qa",
                               "--set", f"catalog.directory={world}",
                               "--set", "retrieval.mode=class", *extra])


def test_build_validate_inspect(tmp_path: Path, world: Path) -> None:
    out = tmp_path / "corpus"
    result = _build(world, out)
    assert result.exit_code == 0, result.output
    assert "hazard_alert" in result.output and "Drops" in result.output
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert "OK: 6 rows valid" in result.output
    result = runner.invoke(app, ["inspect", str(out)])
    assert result.exit_code == 0 and "sound_event_qa" in result.output
    result = runner.invoke(app, ["inspect", str(out), "--stream", "hazard_alert-s4-000001"])
    assert result.exit_code == 0, result.output
    assert "response" in result.output and "urgent" in result.output
    result = runner.invoke(app, ["inspect", str(out), "--stream", "nope-s4-000001"])
    assert result.exit_code == 1 and "no stream" in result.output


def test_rebuild_reports_kept_shards(tmp_path: Path, world: Path) -> None:
    out = tmp_path / "corpus"
    assert _build(world, out).exit_code == 0
    result = _build(world, out)
    assert result.exit_code == 0 and "already there and kept" in result.output


def test_validate_fails_with_reasons(tmp_path: Path, world: Path) -> None:
    out = tmp_path / "corpus"
    assert _build(world, out).exit_code == 0
    (out / "proactive_response/hazard_alert/shard-00000.parquet").write_bytes(b"junk")
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 1
    assert "incomplete or unreadable shard" in result.output


def test_unknown_subtask_and_bad_override_are_clear_errors(tmp_path: Path, world: Path) -> None:
    result = runner.invoke(app, ["build", "--out", str(tmp_path), "--subtask", "nope"])
    assert result.exit_code == 1 and "unknown subtask 'nope'" in result.output
    result = _build(world, tmp_path / "c", "--set", "compose.gap_s=[3,1]")
    assert result.exit_code == 2 and "config error" in result.output


def test_subtasks_lists_the_slice() -> None:
    result = runner.invoke(app, ["subtasks"])
    for name in ("hazard_alert", "benign_silence", "sound_event_qa"):
        assert name in result.output


def test_catalog_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    sf.write(folder / "a.wav", 0.3 * np.sin(np.arange(16_000) / 5), 16_000)
    (folder / "b.wav").write_bytes(b"not audio")
    meta = tmp_path / "meta.csv"
    meta.write_text("path,sound_class\na.wav,dog_bark\nb.wav,dog_bark\n")
    out = tmp_path / "mine.jsonl"
    result = runner.invoke(app, ["catalog", "ingest", str(folder), "--metadata", str(meta),
                                 "--out", str(out), "--name", "mine"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["path"] for line in lines] == ["a.wav"]
    assert "undecodable" in result.output


def test_without_subtasks_the_total_follows_the_mixture(tmp_path: Path, world: Path) -> None:
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["build", "--out", str(out), "--streams", "6",
                                 "--set", f"catalog.directory={world}",
                                 "--set", "retrieval.mode=class",
                                 "--set", f"cache.directory={tmp_path / 'cache'}"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["planned_streams"] == 6
    # the split follows the taxonomy's mixture, in which voice chat has the largest share
    offline = {s.name for s in all_subtasks()} - {"zh_en_translation"}  # no Chinese voice
    counts = mixture_counts(6, load_taxonomy(world).weights(offline))
    line = re.match(r"[\w ,]+", " ".join(result.output.split()).split("mixture: ", 1)[1])
    assert line is not None
    printed = dict(re.findall(r"(\w+) (\d+)", line.group()))
    assert all(printed[name] == str(count) for name, count in counts.items())
    assert counts["single_turn_chat"] == max(counts.values()) and counts["hazard_alert"] == 0


def test_the_progress_bar_starts_no_thread_so_build_workers_can_be_forked() -> None:
    import sys
    import threading

    from streamaudio.cli import _advance, _shard_progress
    from streamaudio.corpus import worker_start_method

    before = threading.active_count()
    with _shard_progress() as progress:
        task = progress.add_task("shards", total=2)
        _advance(progress, task)
        assert threading.active_count() == before
        assert progress.tasks[0].completed == 1
    if before == 1 and "torch" not in sys.modules:  # the rest of the suite may import it
        assert worker_start_method() == "fork"


@pytest.mark.parametrize("module", ["streamaudio", "streamaudio.cli"])
def test_python_dash_m_runs_the_command_line(module: str) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module, "subtasks"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "voice_chat" in done.stdout or "translation" in done.stdout
