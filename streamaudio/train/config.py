"""The trainer's typed config: model, data, optimisation, loss and stage, validated once
here. `--config F` (YAML) and `--set dotted.key=value` apply on top of the defaults, the
same way as the corpus config. The defaults are the CPU reference model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from streamaudio.config import _Section, _set_dotted, parse_override


class FeatureConfig(_Section):
    """Log-mel features, computed causally: every frame ends inside its chunk."""

    sample_rate: int = 16_000
    chunk_ms: int = 400
    n_mels: int = 128
    win_ms: int = 25
    hop_ms: int = 10  # 40 frames per 400 ms chunk
    # "unit": (log10 + 5) / 5; "whisper": whisper's (log10 + 4) / 4 with a fixed floor,
    # what its pretrained encoders were trained on
    log_scale: Literal["unit", "whisper"] = "unit"

    @property
    def chunk_samples(self) -> int:
        return self.sample_rate * self.chunk_ms // 1000

    @property
    def hop(self) -> int:
        return self.sample_rate * self.hop_ms // 1000

    @property
    def win(self) -> int:
        return self.sample_rate * self.win_ms // 1000

    @property
    def frames_per_chunk(self) -> int:
        return self.chunk_samples // self.hop


EncoderKind = Literal["conv", "whisper", "qwen_omni"]

# what a pretrained encoder was trained on; `ModelConfig` fills these in as the feature
# defaults of that encoder and refuses a conflicting explicit setting (but n_mels, which
# differs between models of a family, is checked against the loaded model)
PRETRAINED_FEATURES: dict[str, dict[str, Any]] = {
    "whisper": {"sample_rate": 16_000, "win_ms": 25, "hop_ms": 10, "n_mels": 80,
                "log_scale": "whisper"},
    "qwen_omni": {"sample_rate": 16_000, "win_ms": 25, "hop_ms": 10, "n_mels": 128,
                  "log_scale": "whisper"},
}


class EncoderConfig(_Section):
    """The chunk audio encoder. `conv`: a small conv encoder trained with the model (the
    CPU reference). `whisper`: a frozen faster-whisper (CTranslate2) encoder run on each
    chunk alone (`path`, default the shipped whisper-base), computed with the features in
    the data pipeline. `qwen_omni`: a frozen Qwen2.5-Omni audio tower from a local
    directory (`path`), run on each chunk alone inside the model (a GPU machine's)."""

    kind: EncoderKind = "conv"
    channels: int = 192  # conv only
    slots_per_chunk: int = 10  # audio slots per chunk (40 ms each, as the paper)
    path: Path | None = None
    compute_type: str = "int8"  # whisper: CTranslate2's compute type (float16 on a GPU)
    device: str = "cpu"  # whisper: where CTranslate2 runs it ("cuda" on a GPU machine)

    @property
    def frozen(self) -> bool:
        return self.kind != "conv"


class LmConfig(_Section):
    """A local `transformers` causal-LM directory, or a config built from scratch."""

    path: Path | None = None  # e.g. a Qwen2.5-0.5B directory on a GPU machine
    model_type: str = "qwen2"
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 768
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False  # stage 1 trains the head apart from the embeddings


class TokenizerConfig(_Section):
    path: Path | None = None  # any HF tokenizer directory; None: the offline BPE
    vocab_size: int = 4096  # of the offline BPE
    cache_dir: Path = Path(".cache/streamaudio")  # where the offline BPE is cached


class ModelConfig(_Section):
    features: FeatureConfig = FeatureConfig()
    encoder: EncoderConfig = EncoderConfig()
    lm: LmConfig = LmConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    system_prompt: str = ("You are listening to a live audio stream. After each chunk, stay "
                          "silent or respond.")
    max_chunks: int = 60  # 24 s, the paper's longest training stream
    max_response_tokens: int = 96  # a longer response is cut (and ends with text-end)

    @model_validator(mode="before")
    @classmethod
    def _encoder_feature_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        encoder = data.get("encoder") or {}
        kind = encoder.get("kind") if isinstance(encoder, dict) else encoder.kind
        if kind not in PRETRAINED_FEATURES:
            return data
        features = data.get("features") or {}
        if isinstance(features, FeatureConfig):
            features = features.model_dump(exclude_unset=True)
        return {**data, "features": {**PRETRAINED_FEATURES[kind], **features}}

    @model_validator(mode="after")
    def _check_encoder(self) -> ModelConfig:
        kind, feats = self.encoder.kind, self.features
        for key, value in PRETRAINED_FEATURES.get(kind, {}).items():
            if key != "n_mels" and getattr(feats, key) != value:
                raise ValueError(f"model.encoder.kind={kind} was trained on features.{key}="
                                 f"{value}; this config sets {getattr(feats, key)}")
        if kind == "qwen_omni" and self.encoder.path is None:
            raise ValueError("model.encoder.kind=qwen_omni needs model.encoder.path, a local "
                             "Qwen2.5-Omni (or its audio tower's) directory")
        if kind in PRETRAINED_FEATURES and feats.frames_per_chunk % 4:
            raise ValueError(f"model.encoder.kind={kind} downsamples frames 4x (2x for "
                             f"whisper's conv, 2x pooling); {feats.frames_per_chunk} frames "
                             "per chunk do not divide")
        return self


class DataConfig(_Section):
    batch_size: int = Field(default=8, ge=1)
    num_workers: int = Field(default=1, ge=0)
    seed: int = 0
    subtasks: list[str] | None = None  # filters; None: the stage's, else everything
    abilities: list[str] | None = None


class OptimConfig(_Section):
    lr: float | None = None  # None: the stage's learning rate
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1  # cosine decays to lr * this
    grad_clip: float = 1.0
    total_steps: int = 1000  # the schedule's length when training stops on time


class TrainConfig(_Section):
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    control_weight: float = Field(default=1.0, ge=0.0)  # λ of text CE + λ · control CE
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 where the device has it
    gradient_checkpointing: bool = False
    log_every: int = 10
    save_every: int = 200
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def load_train_config(path: Path | None = None, overrides: list[str] | None = None,
                      base: dict[str, Any] | None = None) -> TrainConfig:
    tree: dict[str, Any] = dict(base or {})
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a train config file must hold a mapping")
        tree = loaded
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    return TrainConfig.model_validate(tree)
