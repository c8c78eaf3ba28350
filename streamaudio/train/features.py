"""Causal chunk features: a chunk's features depend on audio up to that chunk's end only.

Log-mel frames have windows that end inside their own chunk (the left context comes from
the previous chunk). `ChunkFeatures` is the one interface the trainer, the decode loop and
the runtime use: `stream` computes a whole stream at once, `live` chunk by chunk, and both
give the same numbers (a test holds them equal). With `model.encoder.kind=whisper` it also
runs a frozen faster-whisper encoder on each chunk alone, so the model sees whisper's
frames; the other encoders (`conv`, `qwen_omni`) run inside the model on the log-mel."""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any

import librosa
import numpy as np

from streamaudio.train.config import FeatureConfig, ModelConfig
from streamaudio.train.encoders import ModelError

_FLOOR = 1e-10
# whisper clamps log10 power at (the 30 s window's max - 8), which looks into the future;
# a fixed floor keeps its (x + 4) / 4 scale and stays causal (-6.5: a loud chunk's max
# of about 1.5, minus 8)
_WHISPER_LOG_FLOOR = -6.5


@functools.lru_cache(maxsize=4)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


def _log_mel(frames: np.ndarray, window: np.ndarray, basis: np.ndarray, scale: str
             ) -> np.ndarray:
    """[..., frames_per_chunk, win] windows of samples -> [..., frames_per_chunk, n_mels].
    Rows are independent (one FFT and one dot product each), and the product is taken
    one chunk's frames at a time (a stack of equal matrices): BLAS may round a taller
    matrix differently (OpenBLAS 0.3.31 does), and a stream at once must equal chunk by
    chunk, bit for bit."""
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    mel = np.log10(np.maximum(power.astype(np.float32) @ basis.T, _FLOOR))
    # a fixed affine scale (not a per-stream max, which would look into the future)
    if scale == "whisper":
        return ((np.maximum(mel, _WHISPER_LOG_FLOOR) + 4.0) / 4.0).astype(np.float32)
    return ((mel + 5.0) / 5.0).astype(np.float32)


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

    def _frames(self, padded: np.ndarray) -> np.ndarray:
        """[chunks, frames_per_chunk, n_mels] of audio left-padded with context."""
        cfg = self.cfg
        frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.win)[:: cfg.hop]
        frames = frames.reshape(-1, cfg.frames_per_chunk, cfg.win)
        return _log_mel(frames, self._window, self._basis, cfg.log_scale)

    def chunk(self, samples: np.ndarray) -> np.ndarray:
        """One chunk of samples (a short last chunk is zero-padded) -> [frames, n_mels]."""
        cfg = self.cfg
        if samples.shape[0] > cfg.chunk_samples:
            raise ValueError(f"a chunk holds at most {cfg.chunk_samples} samples")
        chunk = np.zeros(cfg.chunk_samples, dtype=np.float32)
        chunk[: samples.shape[0]] = samples
        padded = np.concatenate([self._context, chunk])
        self._context = padded[padded.shape[0] - self._context.shape[0]:].copy()
        return self._frames(padded)[0]

    def stream(self, audio: np.ndarray, num_chunks: int) -> np.ndarray:
        """A whole stream from silence -> [num_chunks, frames, n_mels], in one pass: the
        frames of every chunk are windows over the left-padded audio at the same offsets
        the chunk-by-chunk path uses."""
        cfg = self.cfg
        total = num_chunks * cfg.chunk_samples
        padded = np.zeros(cfg.win - cfg.hop + total, dtype=np.float32)
        body = audio[:total]
        padded[cfg.win - cfg.hop: cfg.win - cfg.hop + body.shape[0]] = body
        return self._frames(padded)


def num_chunks_of(audio: np.ndarray, cfg: FeatureConfig) -> int:
    """The chunk rule: a short last chunk counts (zero-padded), never dropped."""
    return -(-audio.shape[0] // cfg.chunk_samples)


def stream_features(audio: np.ndarray, cfg: FeatureConfig, num_chunks: int | None = None
                    ) -> np.ndarray:
    """A whole stream's log-mel -> [chunks, frames_per_chunk, n_mels]."""
    total = num_chunks if num_chunks is not None else num_chunks_of(audio, cfg)
    return CausalLogMel(cfg).stream(audio, total)


class ChunkFeatures:
    """What the model's encoder takes for each chunk: the log-mel itself (`conv`,
    `qwen_omni`), or a frozen whisper encoder's frames over it (`whisper`)."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.cfg = cfg

    @property
    def frames_per_chunk(self) -> int:
        return self.cfg.features.frames_per_chunk

    @property
    def dim(self) -> int:
        return self.cfg.features.n_mels

    def encode(self, log_mel: np.ndarray) -> np.ndarray:
        """[chunks, frames, n_mels] -> [chunks, frames_per_chunk, dim]."""
        return log_mel

    def stream(self, audio: np.ndarray, num_chunks: int | None = None) -> np.ndarray:
        return self.encode(stream_features(audio, self.cfg.features, num_chunks))

    def live(self) -> LiveFeatures:
        return LiveFeatures(self)


class LiveFeatures:
    """Chunk by chunk, for a stream that arrives as it plays (the runtime)."""

    def __init__(self, features: ChunkFeatures) -> None:
        self.features = features
        self._log_mel = CausalLogMel(features.cfg.features)

    def chunk(self, samples: np.ndarray) -> np.ndarray:
        return self.features.encode(self._log_mel.chunk(samples)[None])[0]


_WHISPER: dict[tuple[str, str, str, int], Any] = {}
_WHISPER_LOCK = threading.Lock()


def _whisper_model(directory: Path, compute_type: str, device: str) -> Any:
    """One CTranslate2 whisper per process: a model loaded before a DataLoader fork hangs
    when the forked worker uses it, so the cache is keyed by process id."""
    key = (str(directory), compute_type, device, os.getpid())
    with _WHISPER_LOCK:
        if key not in _WHISPER:
            from faster_whisper import WhisperModel  # heavy import: only when used

            _WHISPER[key] = WhisperModel(str(directory), device=device,
                                         compute_type=compute_type, cpu_threads=1)
        return _WHISPER[key]


def whisper_directory(cfg: ModelConfig) -> Path:
    """`model.encoder.path`, else the shipped whisper-base (joined into the cache once, the
    same copy the ASR uses)."""
    from streamaudio.speech.asr import SpeechUnavailable, locate_whisper

    try:
        return locate_whisper(cfg.encoder.path, Path(cfg.tokenizer.cache_dir),
                              "model.encoder.path")
    except SpeechUnavailable as error:
        raise ModelError(f"model.encoder.kind=whisper: {error}; set model.encoder.path to a "
                         "faster-whisper model directory") from error


class WhisperChunkFeatures(ChunkFeatures):
    """A frozen whisper encoder over each chunk alone: 40 log-mel frames -> 20 frames of
    d_model (512 for whisper-base). No weights of it enter the trained model."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.directory = whisper_directory(cfg)
        self._dim: int | None = None

    @property
    def frames_per_chunk(self) -> int:
        return self.cfg.features.frames_per_chunk // 2  # whisper's stride-2 conv

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode(np.zeros((1, self.cfg.features.frames_per_chunk,
                                                  self.cfg.features.n_mels),
                                                 np.float32)).shape[-1])
        return self._dim

    def encode(self, log_mel: np.ndarray) -> np.ndarray:
        import ctranslate2

        enc = self.cfg.encoder
        model = _whisper_model(self.directory, enc.compute_type, enc.device).model
        if model.n_mels != log_mel.shape[-1]:
            raise ModelError(f"{self.directory} takes {model.n_mels} mel bins; set "
                             f"model.features.n_mels={model.n_mels}")
        # each chunk is its own batch item, from position 0: causal at chunk granularity
        batch = np.ascontiguousarray(log_mel.transpose(0, 2, 1))
        out = model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=True)
        return np.asarray(out, dtype=np.float32)


def chunk_features(cfg: ModelConfig) -> ChunkFeatures:
    return WhisperChunkFeatures(cfg) if cfg.encoder.kind == "whisper" else ChunkFeatures(cfg)
