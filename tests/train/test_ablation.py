"""`streamaudio ablation` on the tiny world and model: one held-out corpus for all,
variants that differ only in training share a corpus, the silence ablation builds without
the always-silent subtasks and without negatives or stretches."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import write_world
from typer.testing import CliRunner

from streamaudio.cli import app
from streamaudio.shards.reader import iter_streams
from streamaudio.split import split_catalogs
from streamaudio.train.ablation import REPORT_FILE, always_silent_subtasks, paper_variants


def test_the_variants_are_the_papers_table() -> None:
    catalogs = Path(__file__).resolve().parents[2] / "catalogs"
    assert always_silent_subtasks(catalogs) == ("agent_ignore", "benign_silence")
    names = [v.name for v in paper_variants(catalogs)]
    assert names[0].startswith("full") and len(names) == 6
    keys = {v.name: v.corpus_key() for v in paper_variants(catalogs)}
    assert keys["λ = 0.1"] == keys["λ = 3"] == keys[names[0]]
    assert len(set(keys.values())) == 4


def test_ablation_runs_each_variant_on_one_held_out_corpus(tmp_path: Path,
                                                          tiny_sets: list[str]) -> None:
    world = write_world(tmp_path / "world")
    split_catalogs(world)
    out = tmp_path / "ablation"
    args = ["ablation", "--out", str(out), "--train-streams", "6", "--heldout-streams", "4",
            "--max-steps", "2", "--workers", "1",
            "--subtask", "hazard_alert", "--subtask", "benign_silence",
            "--variant", "full", "--variant", "3", "--variant", "silence",
            "--build-set", f"catalog.directory={world}", "--build-set", "retrieval.mode=class",
            "--build-set", "shards.streams_per_shard=4",
            "--build-set", f"cache.directory={tmp_path / 'cache'}"]
    for item in [*tiny_sets, "model.encoder.kind=conv"]:  # learn's default: whisper
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / REPORT_FILE).read_text())
    rows = {row["variant"]: row for row in report["variants"]}
    assert set(rows) == {"full (λ = 1)", "λ = 3", "without verified silence"}
    assert all(row["steps"] == 2 for row in rows.values())
    full, silence = rows["full (λ = 1)"], rows["without verified silence"]
    assert rows["λ = 3"]["train_corpus"]["path"] == full["train_corpus"]["path"]
    assert silence["train_corpus"]["path"] != full["train_corpus"]["path"]
    built = {r.subtask for r in iter_streams(Path(silence["train_corpus"]["path"]))}
    assert built == {"hazard_alert"}  # benign_silence is left out
    assert not any(r.verified_silent for r in iter_streams(Path(silence["train_corpus"]["path"])))
    assert "λ = 3" in result.output and "96.77" in result.output
