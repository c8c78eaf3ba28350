"""`streamaudio learn` end to end on the tiny world (split into train and held-out rows)
and the tiny model: both corpora, training, the held-out evaluation, the report and the
plot; and the verdicts the report gives against the targets and the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_world
from typer.testing import CliRunner

from streamaudio.cli import app
from streamaudio.shards.reader import iter_streams
from streamaudio.split import split_catalogs
from streamaudio.train.learn import PLOT_FILE, REPORT_FILE, summarise
from streamaudio.train.metrics import StreamPrediction, StreamTruth, score


def test_learn_builds_trains_evaluates_and_reports(tmp_path: Path, tiny_sets: list[str]
                                                   ) -> None:
    world = write_world(tmp_path / "world")
    split_catalogs(world)
    out = tmp_path / "learn"
    args = ["learn", "--out", str(out), "--train-streams", "6", "--heldout-streams", "4",
            "--max-steps", "3", "--max-minutes", "5", "--workers", "1",
            "--subtask", "hazard_alert", "--subtask", "benign_silence",
            "--build-set", f"catalog.directory={world}", "--build-set", "retrieval.mode=class",
            "--build-set", "shards.streams_per_shard=4",
            "--build-set", f"cache.directory={tmp_path / 'cache'}"]
    for item in [*tiny_sets, "model.encoder.kind=conv"]:  # learn's default: whisper
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "hazard_alert" in result.output and "wall times" in result.output
    report = json.loads((out / REPORT_FILE).read_text())
    assert (out / PLOT_FILE).stat().st_size > 10_000
    assert report["builds"]["train"]["split"] == "train"
    assert report["builds"]["heldout"]["seed"] == report["builds"]["train"]["seed"] + 1
    assert report["training"]["steps"] == 3 and len(report["training"]["curve"]) == 3
    overrides = report["settings"]["train_overrides"]  # the defaults, then --set
    assert overrides[0] == "model.encoder.kind=whisper" and overrides[-1].endswith("=conv")
    assert set(report["groups"]) >= {"overall", "hazard_alert", "benign_silence"}
    assert set(report["wall_seconds"]) == {"build_train", "build_heldout", "train", "evaluate"}
    held = {r.stream_id for r in iter_streams(out / "heldout-corpus")}
    assert report["evaluation"]["streams"] == len(held) > 0
    assert all("-heldout-" in stream for stream in held)


def _truth(stream: str, decisions: tuple[int, ...], silent: frozenset[int]) -> StreamTruth:
    return StreamTruth(stream_id=stream, subtask="hazard_alert", ability="proactive_response",
                       decisions=decisions, responses=tuple("x" if d else "" for d in decisions),
                       verified_silent=silent)


@pytest.mark.parametrize(("said", "meets_hit", "beats"), [
    ((0, 0, 1, 0), True, True),    # answered in the labelled chunk
    ((0, 0, 0, 0), False, False),  # silent: no better than always silent
])
def test_the_summary_judges_targets_and_baselines(said: tuple[int, ...], meets_hit: bool,
                                                  beats: bool) -> None:
    class Evaluation:  # the two fields summarise reads
        def __init__(self, reports: dict) -> None:
            self.reports = reports

    truth = _truth("s", (0, 0, 1, 0), frozenset({0}))
    said_by = {"model": said, "always_silent": (0, 0, 0, 0)}
    reports = {name: score([truth], [StreamPrediction("s", d, tuple("x" if x else "" for x in d))])
               for name, d in said_by.items()}
    rows = summarise(Evaluation(reports))
    assert rows["overall"]["meets"]["hit_or_late"] is meets_hit
    assert rows["overall"]["meets"]["false_trigger_verified_silent"] is True
    assert rows["hazard_alert"]["beats_baselines"]["always_silent"] is beats
