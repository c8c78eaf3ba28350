"""Helpers shared by test modules (tests/ is on sys.path via pytest's pythonpath)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def dominant_hz(audio: np.ndarray, rate: int = 16_000) -> float:
    """Frequency of the strongest bin of a Hann-windowed spectrum."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[np.argmax(spectrum)])


def completion(content: str) -> dict[str, Any]:
    """A chat.completion body as an OpenAI-compatible server sends it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    }


def build_small_corpus(subtask: str, root: Path) -> list[Any]:
    """Two streams of one subtask on the real catalogs (by class, for speed), built
    into root/corpus and validated; returns the stream records."""
    from streamaudio.config import load_config
    from streamaudio.corpus import build_corpus
    from streamaudio.shards.reader import iter_streams
    from streamaudio.tasks.registry import get_subtask
    from streamaudio.validate import validate_corpus

    cfg = load_config(overrides=["retrieval.mode=class", "shards.streams_per_shard=2",
                                 f"cache.directory={root / 'cache'}"])
    report = build_corpus(root / "corpus", [get_subtask(subtask)], 2, 7, cfg)
    assert report.manifest["totals"]["streams"] == 2
    checked, failures = validate_corpus(root / "corpus")
    assert failures == [] and checked == 2
    records = list(iter_streams(root / "corpus"))
    assert len(records) == 2
    return records
