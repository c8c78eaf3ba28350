"""Helpers shared by test modules (tests/ is on sys.path via pytest's pythonpath)."""

from __future__ import annotations

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
