"""`streamaudio evaluate`: run the streaming decode loop over every stream of a corpus and
score it against the labels, beside two trivial baselines (always silent; respond at the
end of every foreground event). Text-token accuracy is measured teacher-forced."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from streamaudio.atomic import write_text_atomic
from streamaudio.shards.reader import StreamRecord, iter_streams
from streamaudio.train.checkpoint import TOKENIZER_DIR, TRAIN_CONFIG_FILE, check_checkpoint
from streamaudio.train.config import load_train_config
from streamaudio.train.data import scan_corpus
from streamaudio.train.decode import StreamDecoder
from streamaudio.train.layout import Collate, Layout, response_language
from streamaudio.train.loss import dual_loss
from streamaudio.train.metrics import (
    Report,
    StreamPrediction,
    always_silent,
    respond_at_foreground_ends,
    score,
    truth_from_record,
)
from streamaudio.train.model import load_model
from streamaudio.train.tokenizer import load_tokenizer


@dataclass
class Evaluation:
    reports: dict[str, Report]  # system -> report: "model" and the two baselines
    streams: int
    audio_seconds: float
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"streams": self.streams, "audio_seconds": round(self.audio_seconds, 2),
                "x_real_time": round(self.audio_seconds / max(self.wall_seconds, 1e-9), 2),
                "systems": {name: report.to_dict() for name, report in self.reports.items()}}


def load_checkpoint_for_inference(checkpoint: Path) -> tuple[Any, Layout]:
    check_checkpoint(checkpoint)
    load_train_config(Path(checkpoint) / TRAIN_CONFIG_FILE)  # a readable run config
    tokenizer = load_tokenizer(Path(checkpoint) / TOKENIZER_DIR, add_tokens_if_missing=False)
    model = load_model(checkpoint)
    return model, Layout(tokenizer, model.cfg)


def predict(decoder: StreamDecoder, record: StreamRecord, collate: Collate
            ) -> StreamPrediction:
    layout = decoder.layout
    example = layout.encode(record)
    language = response_language(record.responses)
    decisions = decoder.decode(example.features, record.instruction, language)
    with torch.no_grad():
        parts = dual_loss(decoder.model, collate([example]).to(decoder.device), 1.0)
    return StreamPrediction(record.stream_id, tuple(int(d.respond) for d in decisions),
                            tuple(d.text for d in decisions), parts.text_correct,
                            parts.text_tokens)


def evaluate(checkpoint: Path, corpus: Path, limit: int | None = None,
             on_stream: Callable[[str], None] | None = None) -> Evaluation:
    scan_corpus(corpus)  # a clear error for an empty or broken corpus, before loading a model
    model, layout = load_checkpoint_for_inference(checkpoint)
    decoder = StreamDecoder(model, layout)
    collate = Collate(layout.pad, layout.audio)
    chunk_samples = model.cfg.features.chunk_samples
    truths, predictions, seconds = [], [], 0.0
    started = time.monotonic()
    # scoped, not torch.set_grad_enabled(False): that would leave a later train() in the
    # same process without gradients
    with torch.no_grad():
        for record in iter_streams(corpus):
            if limit is not None and len(truths) >= limit:
                break
            truths.append(truth_from_record(record, chunk_samples))
            predictions.append(predict(decoder, record, collate))
            seconds += record.num_samples / record.sample_rate
            if on_stream is not None:
                on_stream(record.stream_id)
    wall = time.monotonic() - started
    reports = {"model": score(truths, predictions),
               "always_silent": score(truths, [always_silent(t) for t in truths]),
               "foreground_ends": score(truths, [respond_at_foreground_ends(t) for t in truths])}
    return Evaluation(reports, len(truths), seconds, wall)


def write_evaluation(evaluation: Evaluation, path: Path) -> None:
    write_text_atomic(path, json.dumps(evaluation.to_dict(), indent=1), fsync=False)
