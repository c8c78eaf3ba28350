"""Causal chunk features: log-mel frames whose windows end inside their own chunk, so a
chunk's features depend on audio up to that chunk's end only. The runtime computes them
chunk by chunk with `CausalLogMel`; the trainer runs the same object over a whole stream,
so both see the same numbers by construction."""

from __future__ import annotations

import functools

import librosa
import numpy as np

from streamaudio.train.config import FeatureConfig

_FLOOR = 1e-10


@functools.lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


class CausalLogMel:
    """Feeds chunks in order; keeps the last `win - hop` samples as left context."""

    def __init__(self, cfg: FeatureConfig) -> None:
        if cfg.chunk_samples % cfg.hop:
            raise ValueError("features.hop_ms must divide the chunk")
        self.cfg = cfg
        self._window = np.hanning(cfg.win + 1)[:-1].astype(np.float32)  # periodic Hann
        self._basis = _mel_basis(cfg.sample_rate, cfg.win, cfg.n_mels)
        self._context = np.zeros(cfg.win - cfg.hop, dtype=np.float32)

    def reset(self) -> None:
        self._context[:] = 0.0

    def chunk(self, samples: np.ndarray) -> np.ndarray:
        """One chunk of samples (a short last chunk is zero-padded) -> [frames, n_mels]."""
        cfg = self.cfg
        if samples.shape[0] > cfg.chunk_samples:
            raise ValueError(f"a chunk holds at most {cfg.chunk_samples} samples")
        chunk = np.zeros(cfg.chunk_samples, dtype=np.float32)
        chunk[: samples.shape[0]] = samples
        padded = np.concatenate([self._context, chunk])
        self._context = padded[padded.shape[0] - self._context.shape[0]:].copy()
        frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.win)[:: cfg.hop]
        power = np.abs(np.fft.rfft(frames * self._window, axis=-1)) ** 2
        mel = power.astype(np.float32) @ self._basis.T
        # a fixed affine scale (not a per-stream max, which would look into the future)
        return ((np.log10(np.maximum(mel, _FLOOR)) + 5.0) / 5.0).astype(np.float32)


def stream_features(audio: np.ndarray, cfg: FeatureConfig, num_chunks: int | None = None
                    ) -> np.ndarray:
    """A whole stream -> [chunks, frames_per_chunk, n_mels], chunk by chunk."""
    total = num_chunks if num_chunks is not None else -(-audio.shape[0] // cfg.chunk_samples)
    extractor = CausalLogMel(cfg)
    step = cfg.chunk_samples
    return np.stack([extractor.chunk(audio[c * step:(c + 1) * step]) for c in range(total)])
