"""The trainer on a real tiny corpus: exact resume, stage freezing, both loss weights,
the CLI, and clear errors for bad input."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from streamaudio.cli import app
from streamaudio.shards.reader import iter_streams
from streamaudio.train import trainer
from streamaudio.train.checkpoint import CheckpointError
from streamaudio.train.config import TrainConfig, load_train_config
from streamaudio.train.data import DataError
from streamaudio.train.layout import Batch
from streamaudio.train.model import ModelError, load_model
from streamaudio.train.trainer import TrainError, train


def _losses(result) -> list[float]:
    return [log.loss for log in result.logs]


def test_loss_falls_and_resume_is_exact(train_corpus: Path, tiny_config: TrainConfig,
                                        tmp_path: Path) -> None:
    # CPU kernels split reductions by thread count: one thread makes the float sums repeat
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _resume_is_exact(train_corpus, tiny_config, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _resume_is_exact(train_corpus: Path, tiny_config: TrainConfig, tmp_path: Path) -> None:
    whole = train(tiny_config, str(train_corpus), 3, tmp_path / "whole", max_steps=8)
    assert whole.steps == 8 and all(torch.isfinite(torch.tensor(_losses(whole))))
    first = train(tiny_config, str(train_corpus), 3, tmp_path / "split", max_steps=5)
    rest = train(tiny_config, str(train_corpus), 3, tmp_path / "split", resume=True,
                 max_steps=3)
    assert _losses(first) + _losses(rest) == _losses(whole)  # bit for bit, step for step
    # the 10-stream corpus in batches of 3 rolled into a second epoch on the way
    assert whole.logs[-1].epoch >= 1
    log = (tmp_path / "split" / "logs" / "train.csv").read_text().splitlines()
    assert len(log) == 1 + 8  # header + every step (log_every=1), across the resume


@pytest.mark.parametrize(("stage", "frozen"), [(1, ("encoder", "adapter")),
                                               (2, ("lm",))])
def test_stage_freezes_what_it_does_not_train(train_corpus: Path, tiny_config: TrainConfig,
                                              tmp_path: Path, stage: int,
                                              frozen: tuple[str, ...]) -> None:
    base = train(tiny_config, str(train_corpus), 3, tmp_path / "base", max_steps=1)
    after = train(tiny_config, str(train_corpus), stage, tmp_path / "next", init=base.out,
                  max_steps=3)
    before_model, after_model = load_model(base.out), load_model(after.out)
    old, new = before_model.state_dict(), after_model.state_dict()
    changed = {name for name in old if not torch.equal(old[name], new[name])}
    assert changed, "the stage trained nothing"
    for part in frozen:
        assert not {n for n in changed if n.startswith(part + ".")}, part
    if stage == 1:
        embed = "lm.model.embed_tokens.weight"
        rows = (old[embed] != new[embed]).any(dim=1).nonzero().flatten().tolist()
        from streamaudio.train.tokenizer import load_tokenizer, special_ids

        new_rows = set(special_ids(load_tokenizer(base.out / "tokenizer")).values())
        assert rows and set(rows) <= new_rows  # only the layout's new token rows moved
        assert all(n.startswith(("lm.lm_head", "lm.model.embed_tokens")) for n in changed)
    else:
        assert all(n.startswith(("encoder.", "adapter.")) for n in changed)


def test_control_weight_zero_and_one_both_train(train_corpus: Path, tiny_sets: list[str],
                                                tmp_path: Path) -> None:
    for weight in (0.0, 1.0):
        cfg = load_train_config(overrides=[*tiny_sets,
                                           f"control_weight={weight}"])
        result = train(cfg, str(train_corpus), 3, tmp_path / f"w{weight}", max_steps=6)
        text = [log.text_loss for log in result.logs]
        assert min(text[-3:]) < max(text[:3])
        if weight == 0.0:
            assert all(abs(log.loss - log.text_loss) < 1e-5 for log in result.logs)


def test_gradient_checkpointing_gives_the_same_losses(
        train_corpus: Path, tiny_sets: list[str], tmp_path: Path) -> None:
    """Recomputing activations in the backward pass changes memory, not the result (and
    goes through transformers' current, non-deprecated switch)."""
    import warnings

    losses = {}
    for on in (False, True):
        cfg = load_train_config(overrides=[*tiny_sets, f"gradient_checkpointing={on}"])
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            result = train(cfg, str(train_corpus), 3, tmp_path / f"gc{on}", max_steps=3,
                           preflight=False)
        losses[on] = [log.loss for log in result.logs]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_bad_input_gets_clear_errors(train_corpus: Path, tiny_config: TrainConfig,
                                     tiny_sets: list[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no shards"):
        train(tiny_config, str(empty), 3, tmp_path / "a", max_steps=1)
    assert not (tmp_path / "a").exists()
    made = train(tiny_config, str(train_corpus), 3, tmp_path / "b", max_steps=1)
    with pytest.raises(TrainError, match="--resume"):
        train(tiny_config, str(train_corpus), 3, made.out, max_steps=1)
    with pytest.raises(TrainError, match="stage 3 run"):
        train(tiny_config, str(train_corpus), 4, made.out, resume=True, max_steps=1)
    other = load_train_config(overrides=[*tiny_sets, "model.lm.hidden_size=48"])
    with pytest.raises(ModelError, match="differs"):
        train(other, str(train_corpus), 3, tmp_path / "c", init=made.out, max_steps=1)
    with pytest.raises(CheckpointError):
        train(tiny_config, str(train_corpus), 3, tmp_path / "d", init=tmp_path / "none",
              max_steps=1)
    (made.out / "model.safetensors").write_bytes(b"torn")
    with pytest.raises(ModelError, match="corrupt"):
        load_model(made.out)
    long = load_train_config(overrides=[*tiny_sets, "model.max_chunks=5"])
    with pytest.raises(DataError, match="max_chunks"):
        train(long, str(train_corpus), 3, tmp_path / "e", max_steps=1)
    # stage 4 trains on instruction/proactive/multi-turn/history/silence subtasks only
    only = tmp_path / "no-stage-4"
    (only / "instruction_following").mkdir(parents=True)
    for shard in (train_corpus / "instruction_following").glob("*"):
        shutil.copytree(shard, only / "voice_chat" / "single_turn_chat")
        break
    with pytest.raises(DataError, match="stage 4"):
        train(tiny_config, str(only), 4, tmp_path / "f", max_steps=1)


def test_an_out_of_memory_batch_size_fails_before_any_step(
        train_corpus: Path, tiny_sets: list[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[Batch] = []

    def out_of_memory(model: object, batch: Batch, cfg: TrainConfig, use_bf16: bool) -> None:
        probed.append(batch)
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(trainer, "_probe", out_of_memory)
    steps: list[object] = []
    for checkpointing, advice in ((False, "or set gradient_checkpointing=true"),
                                  (True, "lower data.batch_size$")):
        cfg = load_train_config(overrides=[*tiny_sets,
                                           f"gradient_checkpointing={checkpointing}"])
        out = tmp_path / f"oom-{checkpointing}"
        with pytest.raises(TrainError, match=rf"out of memory before training.*"
                                             rf"data\.batch_size=3 .*{advice}") as caught:
            train(cfg, str(train_corpus), 3, out, max_steps=2, on_step=steps.append)
        assert isinstance(caught.value.__cause__, torch.OutOfMemoryError)
        assert not out.exists() and not steps  # no step taken, nothing written
    # the probe is the corpus's largest batch: the 3 streams with the most chunks
    most = sorted((r.num_chunks for r in iter_streams(train_corpus)), reverse=True)[:3]
    assert probed[0].input_ids.shape[0] == 3 and probed[0].features.shape[0] == sum(most)
    assert not probed[0].input_ids.requires_grad
    # switched off, the same config trains
    cfg = load_train_config(overrides=tiny_sets)
    assert train(cfg, str(train_corpus), 3, tmp_path / "off", max_steps=1,
                 preflight=False).steps == 1


def test_the_preflight_leaves_the_training_result_unchanged(
        train_corpus: Path, tiny_config: TrainConfig, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = trainer._probe

    def probe_and_disturb(model: torch.nn.Module, batch: Batch, cfg: TrainConfig,
                          use_bf16: bool) -> None:
        # the real step, then what a model with dropout or running stats would leave
        real(model, batch, cfg, use_bf16)
        torch.rand(7)
        for buffer in model.buffers():
            buffer.add_(1)
        assert any(p.grad is not None for p in model.parameters())

    monkeypatch.setattr(trainer, "_probe", probe_and_disturb)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-equal float sums (see the resume test)
    try:
        runs = [train(tiny_config, str(train_corpus), 3, tmp_path / f"p{on}", max_steps=3,
                      preflight=on) for on in (True, False)]
    finally:
        torch.set_num_threads(threads)
    assert _losses(runs[0]) == _losses(runs[1])
    weights = [load_model(run.out).state_dict() for run in runs]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    # this model draws no random numbers, but a resumed run with dropout would
    rngs = [torch.load(run.out / "trainer_state.pt", weights_only=True)["rng"] for run in runs]
    assert torch.equal(rngs[0][0], rngs[1][0])


def _corpus_with(train_corpus: Path, tmp_path: Path, edit: Callable[[dict], None]
                 ) -> tuple[Path, Path, str]:
    """A copy of the corpus whose first shard's second row is edited."""
    copy = tmp_path / "corpus"
    shutil.copytree(train_corpus, copy)
    shard = sorted(copy.glob("*/*/shard-*.parquet"))[0]
    table = pq.read_table(shard)
    rows = table.to_pylist()
    edit(rows[1])
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    return copy, shard, rows[1]["stream_id"]


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda row: row["audio"].update(bytes=b"not flac"), "audio does not decode"),
    (lambda row: row.update(num_chunks=row["num_chunks"] - 1), "num_chunks"),
    (lambda row: row["emotions"].append("normal"), "emotions has"),
])
def test_a_bad_row_stops_the_run_before_any_step(
        train_corpus: Path, tiny_config: TrainConfig, tmp_path: Path,
        edit: Callable[[dict], None], reason: str) -> None:
    corpus, shard, sid = _corpus_with(train_corpus, tmp_path, edit)
    steps: list[object] = []
    with pytest.raises(DataError, match=rf"{re.escape(str(shard))} row 1 \(stream "
                                        rf"{re.escape(sid)}\): [^\n]*{reason}"):
        train(tiny_config, str(corpus), 3, tmp_path / "out", max_steps=2,
              on_step=steps.append)
    assert not (tmp_path / "out").exists() and not steps


def test_cli_trains_and_evaluates(train_corpus: Path, tiny_sets: list[str],
                                  tmp_path: Path) -> None:
    sets = [arg for o in tiny_sets for arg in ("--set", o)]
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--corpus", str(train_corpus), "--stage", "3",
                                 "--out", str(tmp_path / "ck"), "--max-steps", "3", *sets])
    assert result.exit_code == 0, result.output
    assert "trained 3 steps" in result.output
    assert (tmp_path / "ck" / "logs" / "tensorboard").is_dir()
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(tmp_path / "ck"),
                                 "--corpus", str(train_corpus)])
    assert result.exit_code == 0, result.output
    import json

    report = json.loads((tmp_path / "ck" / "evaluation.json").read_text())
    assert report["streams"] == 10
    silent = report["systems"]["always_silent"]["overall"]
    assert set(report["systems"]) == {"model", "always_silent", "foreground_ends"}
    assert silent  # the baselines are scored on the same streams
    bad = runner.invoke(app, ["train", "--corpus", str(train_corpus), "--stage", "3",
                              "--out", str(tmp_path / "x"), "--max-steps", "1",
                              "--set", "data.batch_size=0"])
    assert bad.exit_code == 2 and "batch_size" in bad.output


def test_two_cpu_ranks_under_torchrun(train_corpus: Path, tiny_sets: list[str],
                                      tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a free port on loopback for the gloo rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bindir = Path(sys.executable).parent
    sets = [arg for o in tiny_sets for arg in ("--set", o)]
    run = subprocess.run(
        [str(bindir / "torchrun"), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(port), "--no-python", str(bindir / "streamaudio"), "train",
         "--corpus", str(train_corpus), "--stage", "3", "--out", str(tmp_path / "ddp"),
         "--max-steps", "4", *sets],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CI": "true"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("trained 4 steps") == 1  # rank 0 reports for the run
    state = torch.load(tmp_path / "ddp" / "trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["positions"]) == 2
    # 10 streams in units of 2: ranks hold 6 and 4 streams, 2 batches of 3 each per
    # epoch; 4 steps = one whole epoch and 2 batches of the next, on both ranks
    assert state["positions"] == [{"epoch": 1, "batches": 2}] * 2
    load_model(tmp_path / "ddp")


def test_tensorboard_keeps_every_step_across_checkpoint_swaps(
        train_corpus: Path, tiny_config: TrainConfig, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorBoard's writer thread reopens its file by path on each write; a save that
    moved the logs folder while a write was pending lost it (and failed the run at
    close). A slow disk (each write and each swap take a while) makes the race certain."""
    import time

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.summary.writer import record_writer

    from streamaudio.train import checkpoint

    slow_write = record_writer.RecordWriter.write
    monkeypatch.setattr(record_writer.RecordWriter, "write",
                        lambda self, data: (time.sleep(0.2), slow_write(self, data))[1])
    replace = checkpoint.os.replace

    def slow_replace(source: str | Path, target: str | Path) -> None:
        replace(source, target)
        if Path(source).name == "logs":
            time.sleep(0.3)

    monkeypatch.setattr(checkpoint.os, "replace", slow_replace)
    cfg = tiny_config.model_copy(update={"log_every": 1, "save_every": 1})
    train(cfg, str(train_corpus), 3, tmp_path / "ck", max_steps=4)
    events = EventAccumulator(str(tmp_path / "ck" / "logs" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
