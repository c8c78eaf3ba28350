"""Chunk audio encoders: [chunks, frames, dim] -> [chunks, slots_per_chunk, output_dim].
Every one encodes each chunk on its own, so the model is causal at chunk granularity.

- `ConvChunkEncoder` (kind `conv`): a small conv stack trained with the model.
- `PooledFrames` (kind `whisper`): the frozen whisper encoder already ran in the feature
  stage (`features.WhisperChunkFeatures`); this only pools its frames to the slots.
- `QwenOmniChunkEncoder` (kind `qwen_omni`): a frozen Qwen2.5-Omni audio tower from a
  local directory. Its weights are not the model's: they are neither trained, nor handed to
  the optimizer or DDP, nor saved in checkpoints (a checkpoint names the directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from streamaudio.train.config import ModelConfig


class ModelError(ValueError):
    """A model directory or checkpoint that cannot be used, with what to do."""


class ConvChunkEncoder(nn.Module):
    """Log-mel frames of one chunk -> `slots` vectors (zero padding at the chunk's edges)."""

    def __init__(self, n_mels: int, channels: int, slots: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv1d(n_mels, channels, 3, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(channels, channels, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool1d(slots),
        )
        self.output_dim = channels

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """[chunks, frames, n_mels] -> [chunks, slots, channels]."""
        return self.layers(frames.transpose(1, 2)).transpose(1, 2)


class PooledFrames(nn.Module):
    """Frames computed upstream (a frozen encoder's) averaged down to the slots."""

    def __init__(self, dim: int, slots: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool1d(slots)
        self.output_dim = dim

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.pool(frames.transpose(1, 2)).transpose(1, 2)


# where a Qwen2.5-Omni checkpoint keeps its audio tower, by the directory's model_type
_TOWER_PREFIX = {"qwen2_5_omni": "thinker.audio_tower.", "qwen2_5_omni_thinker": "audio_tower.",
                 "qwen2_5_omni_audio_encoder": ""}


def _tower_config(meta: dict[str, Any]) -> Any:
    from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
        Qwen2_5OmniAudioEncoderConfig,
    )

    kind = meta.get("model_type")
    audio = meta
    if kind == "qwen2_5_omni":
        audio = meta.get("thinker_config", {}).get("audio_config", {})
    elif kind == "qwen2_5_omni_thinker":
        audio = meta.get("audio_config", {})
    audio = {k: v for k, v in audio.items() if k not in ("model_type", "architectures")}
    return Qwen2_5OmniAudioEncoderConfig(**audio)


def _tower_weights(directory: Path, prefix: str) -> dict[str, torch.Tensor]:
    """Only the tower's tensors, read from the (possibly sharded) safetensors files."""
    from safetensors import safe_open

    index = directory / "model.safetensors.index.json"
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        files = sorted({f for k, f in weight_map.items() if k.startswith(prefix)})
    else:
        files = ["model.safetensors"] if (directory / "model.safetensors").is_file() else []
    weights: dict[str, torch.Tensor] = {}
    for name in files:
        with safe_open(str(directory / name), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 (safe_open is not iterable)
                if key.startswith(prefix):
                    weights[key[len(prefix):]] = handle.get_tensor(key)
    return weights


def load_qwen_omni_tower(directory: Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The audio tower of a local Qwen2.5-Omni directory (the whole model, its thinker, or
    the tower saved alone), frozen and in eval mode."""
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

    directory = Path(directory)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise ModelError(f"model.encoder.path={directory}: no config.json there; give a "
                         "local Qwen2.5-Omni directory")
    meta = json.loads(config_file.read_text())
    prefix = _TOWER_PREFIX.get(meta.get("model_type", ""))
    if prefix is None:
        raise ModelError(f"model.encoder.path={directory}: model_type "
                         f"{meta.get('model_type')!r} is not a Qwen2.5-Omni model; expected "
                         f"one of {', '.join(_TOWER_PREFIX)}")
    tower = Qwen2_5OmniAudioEncoder(_tower_config(meta))
    weights = _tower_weights(directory, prefix)
    if not weights:
        raise ModelError(f"model.encoder.path={directory}: no audio-tower weights "
                         f"({prefix or 'top-level'} keys) in its safetensors files")
    missing, unexpected = tower.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ModelError(f"model.encoder.path={directory}: audio tower weights do not match "
                         f"its config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    tower.requires_grad_(False)
    return tower.to(dtype).eval()


class QwenOmniChunkEncoder(nn.Module):
    """Each chunk as its own item of the tower (its own positions from 0): 40 frames ->
    conv stride 2 -> 20 -> pool 2 -> 10 vectors of output_dim."""

    def __init__(self, tower: nn.Module, slots: int) -> None:
        super().__init__()
        # a plain attribute, not a submodule: outside parameters(), state_dict() and DDP
        self.__dict__["tower"] = tower
        self.pool = nn.AdaptiveAvgPool1d(slots)
        self.n_mels = int(tower.config.num_mel_bins)
        self.output_dim = int(tower.config.output_dim)

    def _apply(self, fn: Any, recurse: bool = True) -> QwenOmniChunkEncoder:
        # .to(device) / .half() reach the tower too, though it is not a submodule
        super()._apply(fn, recurse)
        self.tower._apply(fn, recurse)
        return self

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        chunks, length, _ = frames.shape
        weight = self.tower.conv1.weight
        features = frames.to(weight.dtype).reshape(-1, frames.shape[-1]).T  # [mels, chunks*T]
        lengths = torch.full((chunks,), length, dtype=torch.long, device=frames.device)
        with torch.no_grad():
            out = self.tower(features, feature_lens=lengths).last_hidden_state
        out = out.reshape(chunks, -1, out.shape[-1]).to(frames.dtype)
        return self.pool(out.transpose(1, 2)).transpose(1, 2)


def build_encoder(cfg: ModelConfig, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The encoder of `cfg.encoder.kind`, with an `output_dim` attribute."""
    enc, feats = cfg.encoder, cfg.features
    if enc.kind == "conv":
        return ConvChunkEncoder(feats.n_mels, enc.channels, enc.slots_per_chunk)
    if enc.kind == "whisper":
        from streamaudio.train.features import WhisperChunkFeatures

        return PooledFrames(WhisperChunkFeatures(cfg).dim, enc.slots_per_chunk)
    assert enc.path is not None  # the config insists
    encoder = QwenOmniChunkEncoder(load_qwen_omni_tower(enc.path, dtype), enc.slots_per_chunk)
    if encoder.n_mels != feats.n_mels:
        raise ModelError(f"{enc.path} takes {encoder.n_mels} mel bins; set "
                         f"model.features.n_mels={encoder.n_mels}")
    return encoder
