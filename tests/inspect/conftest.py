"""A tiny corpus of the three sound subtasks over the synthetic world (no speech,
so no TTS or ASR models), built once per test that asks for it (~0.5 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamaudio.config import Config
from streamaudio.corpus import build_corpus
from streamaudio.tasks.registry import get_subtask

SUBTASKS = ["hazard_alert", "benign_silence", "sound_event_qa"]
STREAMS = 3  # per subtask


@pytest.fixture
def tiny_corpus(tmp_path: Path, world_config: Config) -> Path:
    root = tmp_path / "corpus"
    build_corpus(root, [get_subtask(name) for name in SUBTASKS], STREAMS, 0, world_config)
    return root
