"""Fixtures for the trainer's tests: one small real corpus built from the tiny world
(sound subtasks only, so it builds in seconds) and a tiny model config of the real
classes (a 2-layer Qwen2, the offline BPE with a small vocabulary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_world

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus
from streamaudio.tasks.registry import get_subtask
from streamaudio.train.config import TrainConfig, load_train_config

TRAIN_STREAMS = {"hazard_alert": 4, "benign_silence": 3, "notify_on_sound": 3}


@pytest.fixture(scope="session")
def train_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("train-corpus")
    world = write_world(tmp / "world")
    cfg = load_config(overrides=[
        f"catalog.directory={world}", "retrieval.mode=class", "shards.streams_per_shard=2",
        f"cache.directory={tmp / 'cache'}"])
    build_corpus(tmp / "corpus", [get_subtask(name) for name in TRAIN_STREAMS],
                 TRAIN_STREAMS, 0, cfg)
    return tmp / "corpus"


def tiny_overrides(cache: Path) -> list[str]:
    return [
        "model.lm.hidden_size=32", "model.lm.num_hidden_layers=2",
        "model.lm.num_attention_heads=2", "model.lm.num_key_value_heads=1",
        "model.lm.intermediate_size=64", "model.encoder.channels=16",
        "model.features.n_mels=32", "model.tokenizer.vocab_size=600",
        f"model.tokenizer.cache_dir={cache}", "model.max_response_tokens=24",
        "data.batch_size=3", "data.num_workers=0", "optim.warmup_steps=2",
        "optim.total_steps=20", "optim.lr=3e-3", "log_every=1", "save_every=1000",
    ]


@pytest.fixture(scope="session")
def tokenizer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokenizer-cache")


@pytest.fixture
def tiny_sets(tokenizer_cache: Path) -> list[str]:
    """The tiny config as `--set` overrides, to extend in a test or pass to the CLI."""
    return tiny_overrides(tokenizer_cache)


@pytest.fixture
def tiny_config(tiny_sets: list[str]) -> TrainConfig:
    return load_train_config(overrides=tiny_sets)
