"""The trainer's figures on this machine: the input pipeline's throughput against what the
reference model consumes (it must never be the bottleneck), with the log-mel features and
with the frozen whisper-base encoder run per chunk, training steps/s of the CPU reference
model on 2 threads, and evaluation (the streaming decode loop) x real time.
`BENCH_TRAIN_STREAMS` sets the corpus size (sound subtasks on the real catalogs)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.tasks.registry import get_subtask
from streamaudio.train.config import load_train_config
from streamaudio.train.data import ShardStreams, make_loader, scan_corpus
from streamaudio.train.evaluate import evaluate
from streamaudio.train.layout import Collate, Layout
from streamaudio.train.tokenizer import build_offline_tokenizer
from streamaudio.train.trainer import train

SUBTASKS = ("hazard_alert", "benign_silence", "notify_on_sound", "count_events")


def _pipeline_rate(scan: object, layout: Layout, collate: Collate, workers: int,
                   batch_size: int) -> float:
    """Streams/s through one epoch, worker start-up included (workers start every epoch)."""
    dataset = ShardStreams(scan, batch_size=batch_size, seed=0, transform=layout.encode)
    started, streams = time.perf_counter(), 0
    for batch in make_loader(dataset, workers, collate):
        streams += len(batch.stream_ids)
    return streams / (time.perf_counter() - started)


def _warm(scan: object, layout: Layout, collate: Collate) -> None:
    """One batch first: librosa's mel basis and the feature model load once per process."""
    dataset = ShardStreams(scan, batch_size=1, seed=0, transform=layout.encode)
    next(iter(make_loader(dataset, 0, collate)))


def main(streams: int | None = None, steps: int = 12) -> dict[str, float]:
    streams = streams or int(os.environ.get("BENCH_TRAIN_STREAMS", "32"))
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = load_config(overrides=["retrieval.mode=class", "shards.streams_per_shard=8",
                                     f"cache.directory={root / 'cache'}"])
        per = {name: max(1, streams // len(SUBTASKS)) for name in SUBTASKS}
        build_corpus(root / "corpus", [get_subtask(n) for n in SUBTASKS], per, 0, cfg)
        tcfg = load_train_config(overrides=["save_every=100000", "log_every=100000"])
        tokenizer = build_offline_tokenizer(tcfg.model.tokenizer.vocab_size)
        layout = Layout(tokenizer, tcfg.model)
        collate = Collate(layout.pad, layout.audio)
        scan = scan_corpus(root / "corpus")
        batch = tcfg.data.batch_size
        _warm(scan, layout, collate)
        rates = {w: _pipeline_rate(scan, layout, collate, w, batch) for w in (0, 1, 2)}
        whisper = load_train_config(overrides=["model.encoder.kind=whisper"]).model
        whisper_layout = Layout(tokenizer, whisper)
        _warm(scan, whisper_layout, collate)
        whisper_rate = _pipeline_rate(scan, whisper_layout, collate, 1, batch)
        result = train(tcfg, str(root / "corpus"), 3, root / "ckpt", max_steps=steps)
        timed = result.logs[2:]  # the first steps warm up allocators and threads
        seconds = timed[-1].elapsed_s - result.logs[1].elapsed_s
        steps_per_s = len(timed) / seconds
        consumed = steps_per_s * batch
        evaluation = evaluate(root / "ckpt", root / "corpus")
        x_rt = evaluation.to_dict()["x_real_time"]
    figures = {
        "streams": float(scan.streams),
        "pipeline_streams_per_s_0_workers": rates[0],
        "pipeline_streams_per_s_1_worker": rates[1],
        "pipeline_streams_per_s_2_workers": rates[2],
        "pipeline_whisper_streams_per_s_1_worker": whisper_rate,
        "train_steps_per_s": steps_per_s,
        "train_streams_per_s": consumed,
        "pipeline_x_consumption_0_workers": rates[0] / consumed,
        "pipeline_x_consumption_1_worker": rates[1] / consumed,
        "pipeline_whisper_x_consumption_1_worker": whisper_rate / consumed,
        "evaluate_x_real_time": x_rt,
    }
    for key, value in figures.items():
        print(f"{key:40s} {value:10.2f}")
    return figures


if __name__ == "__main__":
    main()
