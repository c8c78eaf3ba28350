"""all-MiniLM-L6-v2 (a 6-layer BERT with mean pooling) run in numpy from the package's
safetensors and tokenizer.json. The sentence-transformers stack imports torch and
transformers, ~4 s before the first query in every build worker, for a model whose
forward pass on one query is a few small matrix products. Same weights, same maths:
the vectors agree with sentence-transformers' to float32 rounding (tests/retrieve)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BertConfig:
    layers: int
    heads: int
    eps: float
    max_tokens: int

    @classmethod
    def from_dir(cls, directory: Path) -> BertConfig:
        config = json.loads((directory / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ValueError(f"{directory}: not a BERT encoder with exact GELU")
        max_tokens = config["max_position_embeddings"]
        sbert = directory / "sentence_bert_config.json"
        if sbert.is_file():
            max_tokens = min(max_tokens, json.loads(sbert.read_text())["max_seq_length"])
        return cls(config["num_hidden_layers"], config["num_attention_heads"],
                   float(config["layer_norm_eps"]), int(max_tokens))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
                ) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf  # the exact GELU of BERT's "gelu"

    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


class MiniLmNumpy:
    """Sentence embeddings (mean of the last hidden states), one text at a time: no
    padding, so a text's vector never depends on the other texts of a call."""

    def __init__(self, directory: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.config = BertConfig.from_dir(directory)
        weights = load_file(str(directory / "model.safetensors"))
        # checkpoints name the encoder with or without a "bert." prefix
        self.w: dict[str, Any] = {k.removeprefix("bert."): v.astype(np.float32)
                                  for k, v in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.config.max_tokens)

    def _attention(self, x: np.ndarray, p: str) -> np.ndarray:
        w, heads = self.w, self.config.heads
        n, dim = x.shape
        size = dim // heads

        def project(name: str) -> np.ndarray:
            prefix = f"{p}.attention.self.{name}"
            out = x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]
            return out.reshape(n, heads, size).transpose(1, 0, 2)

        q, k, v = project("query"), project("key"), project("value")
        scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(size))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, dim)
        return context @ w[f"{p}.attention.output.dense.weight"].T + \
            w[f"{p}.attention.output.dense.bias"]

    def _embed_one(self, text: str) -> np.ndarray:
        w, eps = self.w, self.config.eps
        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][: ids.size]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for layer in range(self.config.layers):
            p = f"encoder.layer.{layer}"
            x = _layer_norm(x + self._attention(x, p), w[f"{p}.attention.output.LayerNorm.weight"],
                            w[f"{p}.attention.output.LayerNorm.bias"], eps)
            hidden = _gelu(x @ w[f"{p}.intermediate.dense.weight"].T
                           + w[f"{p}.intermediate.dense.bias"])
            out = hidden @ w[f"{p}.output.dense.weight"].T + w[f"{p}.output.dense.bias"]
            x = _layer_norm(x + out, w[f"{p}.output.LayerNorm.weight"],
                            w[f"{p}.output.LayerNorm.bias"], eps)
        return x.mean(axis=0)

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), hidden) float32, not normalised."""
        if not texts:
            return np.zeros((0, self.w["embeddings.word_embeddings.weight"].shape[1]),
                            dtype=np.float32)
        return np.stack([self._embed_one(t) for t in texts]).astype(np.float32)
