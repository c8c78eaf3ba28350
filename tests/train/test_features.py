"""Causal chunk features: a chunk's features depend on audio up to its end only, and the
chunk-by-chunk extractor gives the whole-stream numbers."""

from __future__ import annotations

import numpy as np
import torch

from streamaudio.train.config import EncoderConfig, FeatureConfig
from streamaudio.train.encoders import ConvChunkEncoder
from streamaudio.train.features import CausalLogMel, stream_features


def test_features_and_encoder_are_causal_at_chunk_granularity() -> None:
    cfg = FeatureConfig()
    rng = np.random.default_rng(0)
    audio = rng.standard_normal(cfg.chunk_samples * 6).astype(np.float32) * 0.1
    changed = audio.copy()
    changed[cfg.chunk_samples * 4:] = rng.standard_normal(cfg.chunk_samples * 2) * 0.5
    before, after = stream_features(audio, cfg), stream_features(changed, cfg)
    assert before.shape == (6, cfg.frames_per_chunk, cfg.n_mels) == (6, 40, 128)
    assert np.array_equal(before[:4], after[:4])  # the past is untouched
    assert not np.array_equal(before[4], after[4])
    encoder = ConvChunkEncoder(cfg.n_mels, 16, EncoderConfig().slots_per_chunk)
    with torch.no_grad():
        one, two = encoder(torch.from_numpy(before)), encoder(torch.from_numpy(after))
    assert one.shape == (6, 10, 16)
    assert torch.equal(one[:4], two[:4]) and not torch.equal(one[4], two[4])


def test_chunk_by_chunk_equals_the_whole_stream() -> None:
    cfg = FeatureConfig()
    audio = np.sin(np.arange(cfg.chunk_samples * 3 + 1000) * 0.05).astype(np.float32)
    whole = stream_features(audio, cfg)
    live = CausalLogMel(cfg)
    step = cfg.chunk_samples
    pieces = [live.chunk(audio[c * step:(c + 1) * step]) for c in range(4)]
    assert whole.shape[0] == 4  # a short last chunk is padded, never dropped
    assert np.array_equal(np.stack(pieces), whole)
