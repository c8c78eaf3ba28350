"""The streaming model: causal chunk encoder -> adapter (projector) -> any `transformers`
causal LM. Audio embeddings replace the LM's input embeddings at the audio slots. The CPU
reference builds a small Qwen2 from a config; the same code loads a real 0.5B-3B model
from a local directory (`model.lm.path`) on a GPU machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model as load_safetensors
from safetensors.torch import save_model as save_safetensors
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

from streamaudio.train.config import ModelConfig
from streamaudio.train.encoders import ModelError, build_encoder

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "streaming_config.json"


class Adapter(nn.Module):
    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def lm_config(cfg: ModelConfig, vocab_size: int, pad_id: int) -> PretrainedConfig:
    lm = cfg.lm
    return AutoConfig.for_model(
        lm.model_type, vocab_size=vocab_size, hidden_size=lm.hidden_size,
        num_hidden_layers=lm.num_hidden_layers, num_attention_heads=lm.num_attention_heads,
        num_key_value_heads=lm.num_key_value_heads, intermediate_size=lm.intermediate_size,
        max_position_embeddings=lm.max_position_embeddings,
        tie_word_embeddings=lm.tie_word_embeddings, pad_token_id=pad_id,
    )


class StreamingModel(nn.Module):
    def __init__(self, cfg: ModelConfig, lm: nn.Module, dtype: torch.dtype = torch.float32
                 ) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg, dtype)
        self.lm = lm
        self.adapter = Adapter(self.encoder.output_dim, lm.config.hidden_size)

    @property
    def hidden_size(self) -> int:
        return int(self.lm.config.hidden_size)

    def audio_embeddings(self, features: torch.Tensor) -> torch.Tensor:
        """Chunk features [chunks, frames, dim] (`features.ChunkFeatures`) -> [chunks,
        slots, hidden]."""
        return self.adapter(self.encoder(features))

    def input_embeddings(self, input_ids: torch.Tensor, audio_mask: torch.Tensor,
                         features: torch.Tensor) -> torch.Tensor:
        embeds = self.lm.get_input_embeddings()(input_ids)
        if features.shape[0]:
            audio = self.audio_embeddings(features.to(embeds.dtype)).reshape(-1, embeds.shape[-1])
            if audio.shape[0] != int(audio_mask.sum()):
                raise ValueError(f"{audio.shape[0]} audio frames for {int(audio_mask.sum())} "
                                 "audio slots")
            # slots are filled in row-major order: stream, chunk, slot, as the batch holds them
            embeds = embeds.masked_scatter(audio_mask.unsqueeze(-1), audio.to(embeds.dtype))
        return embeds

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                      audio_mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Last hidden states [B, L, H]; the head is applied only where a loss needs it."""
        embeds = self.input_embeddings(input_ids, audio_mask, features)
        out = self.lm.base_model(inputs_embeds=embeds, attention_mask=attention_mask,
                                 use_cache=False)
        return out.last_hidden_state

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                audio_mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """The hidden states: DDP wraps this call, so gradients are all-reduced."""
        return self.hidden_states(input_ids, attention_mask, audio_mask, features)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.get_output_embeddings()(hidden)


def build_model(cfg: ModelConfig, vocab_size: int, pad_id: int,
                dtype: torch.dtype = torch.float32) -> StreamingModel:
    """From scratch (a config), or the LM from `cfg.lm.path`; embeddings resized to the
    tokenizer (the layout's special tokens are new rows)."""
    if cfg.lm.path is None:
        lm = AutoModelForCausalLM.from_config(lm_config(cfg, vocab_size, pad_id))
    else:
        path = Path(cfg.lm.path)
        if not (path / "config.json").is_file():
            raise ModelError(f"model.lm.path={path}: no config.json there; give a local "
                             "Hugging Face model directory")
        lm = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dtype)
        if lm.get_input_embeddings().num_embeddings < vocab_size:
            lm.resize_token_embeddings(vocab_size)
    return StreamingModel(cfg, lm.to(dtype), dtype)


def save_model(model: StreamingModel, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"model": model.cfg.model_dump(mode="json"), "lm": model.lm.config.to_dict()}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=1, default=str))
    save_safetensors(model, str(directory / WEIGHTS_FILE))


def read_model_meta(directory: Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{directory}: not a streamaudio checkpoint (no {CONFIG_FILE})")
    return json.loads(path.read_text())


def load_model(directory: Path, expect: ModelConfig | None = None) -> StreamingModel:
    """A model saved by `save_model`; `expect` (the run's config) must describe the same
    architecture, else a clear error instead of a shape mismatch deep in torch."""
    meta = read_model_meta(directory)
    cfg = ModelConfig.model_validate(meta["model"])
    if expect is not None:
        ours, theirs = _architecture(expect), _architecture(cfg)
        if ours != theirs:
            diff = {k: (theirs[k], ours[k]) for k in ours if ours[k] != theirs.get(k)}
            raise ModelError(f"{directory}: checkpoint model config differs from this run's "
                             f"(checkpoint, run): {diff}")
    lm_meta = dict(meta["lm"])
    lm = AutoModelForCausalLM.from_config(AutoConfig.for_model(**lm_meta))
    model = StreamingModel(cfg, lm)
    try:
        load_safetensors(model, str(Path(directory) / WEIGHTS_FILE))
    except Exception as error:  # safetensors raises its own error type for a torn file
        raise ModelError(f"{directory}/{WEIGHTS_FILE}: cannot load ({error}); the file is "
                         "corrupt or from another model") from error
    return model


def _architecture(cfg: ModelConfig) -> dict[str, Any]:
    data = cfg.model_dump(mode="json")
    lm = data["lm"]
    data["encoder"].pop("device")  # where a frozen encoder runs does not change it
    lm.pop("path")  # a checkpoint holds its own LM; where it came from does not matter
    return {"features": data["features"], "encoder": data["encoder"],
            "lm": lm if cfg.lm.path is None else None, "tokenizer": data["tokenizer"]["vocab_size"]}
