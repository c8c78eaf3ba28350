"""The pretrained chunk encoders: the shipped whisper-base run per chunk (frozen, in the
feature stage) and a Qwen2.5-Omni audio tower from a local directory (a tiny random config
of the real class here). Both are causal at chunk granularity, stay frozen, and never
enter a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import (
    Qwen2_5OmniAudioEncoderConfig,
)
from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniAudioEncoder

from streamaudio.train import tokens
from streamaudio.train.config import ModelConfig, load_train_config
from streamaudio.train.data import ShardStreams, scan_corpus
from streamaudio.train.encoders import ModelError, PooledFrames, QwenOmniChunkEncoder
from streamaudio.train.features import chunk_features
from streamaudio.train.layout import Collate, Layout
from streamaudio.train.loss import dual_loss
from streamaudio.train.model import WEIGHTS_FILE, build_model, load_model, save_model
from streamaudio.train.stages import apply_stage, get_stage, param_groups
from streamaudio.train.tokenizer import build_offline_tokenizer, special_ids


def _audio_pair(samples_per_chunk: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(samples_per_chunk * 6) * 0.1).astype(np.float32)
    changed = audio.copy()
    changed[samples_per_chunk * 4:] = rng.standard_normal(samples_per_chunk * 2) * 0.5
    return audio, changed


def _pretrained_sets(tiny_sets: list[str], *extra: str) -> list[str]:
    # the tiny config's 32 mel bins are the conv encoder's; pretrained ones fix their own
    return [s for s in tiny_sets if not s.startswith("model.features.n_mels")] + list(extra)


def test_a_pretrained_encoder_brings_its_feature_settings() -> None:
    whisper = load_train_config(overrides=["model.encoder.kind=whisper"]).model
    assert (whisper.features.n_mels, whisper.features.log_scale) == (80, "whisper")
    assert load_train_config().model.features.log_scale == "unit"
    with pytest.raises(ValueError, match="hop_ms=10"):
        load_train_config(overrides=["model.encoder.kind=whisper", "model.features.hop_ms=20"])
    with pytest.raises(ValueError, match=r"needs model\.encoder\.path"):
        load_train_config(overrides=["model.encoder.kind=qwen_omni"])


@pytest.fixture(scope="module")
def whisper_config(tokenizer_cache: Path) -> ModelConfig:
    return load_train_config(overrides=[
        "model.encoder.kind=whisper", f"model.tokenizer.cache_dir={tokenizer_cache}"]).model


def test_whisper_features_are_causal_per_chunk_and_live_equals_stream(
        whisper_config: ModelConfig) -> None:
    features = chunk_features(whisper_config)
    samples = whisper_config.features.chunk_samples
    audio, changed = _audio_pair(samples)
    before, after = features.stream(audio), features.stream(changed)
    assert before.shape == (6, 20, 512) == (6, features.frames_per_chunk, features.dim)
    assert np.array_equal(before[:4], after[:4])  # the past is untouched
    assert not np.allclose(before[4], after[4])
    live = features.live()
    pieces = np.stack([live.chunk(audio[c * samples:(c + 1) * samples]) for c in range(6)])
    assert np.array_equal(pieces, before)


def test_whisper_features_hold_the_sound(whisper_config: ModelConfig) -> None:
    """Frozen pretrained frames tell a tone from silence (not a constant output)."""
    features = chunk_features(whisper_config)
    samples = whisper_config.features.chunk_samples
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples * 2) / 16_000)
    frames = features.stream(np.concatenate([np.zeros(samples * 2), tone]).astype(np.float32))
    silence, sound = frames[:2].mean(axis=(0, 1)), frames[2:].mean(axis=(0, 1))
    assert np.linalg.norm(silence - sound) > 0.1 * np.linalg.norm(silence)


def test_a_whisper_model_trains_its_adapter_only_and_saves_no_whisper_weights(
        train_corpus: Path, tiny_sets: list[str], tmp_path: Path) -> None:
    cfg = load_train_config(overrides=_pretrained_sets(tiny_sets, "model.encoder.kind=whisper"))
    tokenizer = build_offline_tokenizer(cfg.model.tokenizer.vocab_size,
                                        cfg.model.tokenizer.cache_dir)
    ids = special_ids(tokenizer)
    model = build_model(cfg.model, len(tokenizer), ids[tokens.PAD])
    assert isinstance(model.encoder, PooledFrames)
    assert not list(model.encoder.parameters())
    assert model.adapter.layers[0].in_features == 512
    layout = Layout(tokenizer, cfg.model)
    dataset = ShardStreams(scan_corpus(train_corpus), batch_size=2, seed=0,
                           transform=layout.encode)
    batch = Collate(layout.pad, layout.audio)(next(iter(dataset)))
    assert batch.features.shape[1:] == (20, 512)
    apply_stage(model, get_stage(2), sorted(ids.values()))
    dual_loss(model, batch, 1.0).total.backward()
    assert model.adapter.layers[0].weight.grad is not None
    save_model(model, tmp_path / "ckpt")
    # the LM and adapter only: whisper-base alone would be ~145 MB
    assert (tmp_path / "ckpt" / WEIGHTS_FILE).stat().st_size < 5_000_000
    again = load_model(tmp_path / "ckpt", expect=cfg.model)
    assert torch.equal(again.adapter.layers[0].weight, model.adapter.layers[0].weight)


def _tiny_tower() -> Qwen2_5OmniAudioEncoder:
    torch.manual_seed(0)
    config = Qwen2_5OmniAudioEncoderConfig(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
        output_dim=48, num_mel_bins=128)
    return Qwen2_5OmniAudioEncoder(config).eval()


@pytest.fixture(scope="module")
def omni_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tower saved alone, and inside a (trimmed) whole Qwen2.5-Omni directory with
    sharded safetensors, as the released checkpoints are laid out."""
    root = tmp_path_factory.mktemp("omni")
    tower = _tiny_tower()
    tower.save_pretrained(root / "tower")
    whole = root / "whole"
    whole.mkdir()
    audio_config = json.loads((root / "tower" / "config.json").read_text())
    (whole / "config.json").write_text(json.dumps({
        "model_type": "qwen2_5_omni", "thinker_config": {"audio_config": audio_config}}))
    tensors = {f"thinker.audio_tower.{k}": v.contiguous() for k, v in tower.state_dict().items()}
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        extra = {"thinker.model.embed_tokens.weight": torch.zeros(4, 4)} if keys is names[:half] \
            else {}
        save_file({**{k: tensors[k] for k in keys}, **extra}, str(whole / shard))
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    weight_map["thinker.model.embed_tokens.weight"] = "model-00001-of-00002.safetensors"
    (whole / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return {"tower": root / "tower", "whole": whole}


@pytest.mark.parametrize("layout_name", ["tower", "whole"])
def test_a_qwen_omni_tower_loads_frozen_and_is_causal_per_chunk(
        omni_dirs: dict[str, Path], tiny_sets: list[str], layout_name: str) -> None:
    cfg = load_train_config(overrides=_pretrained_sets(
        tiny_sets, "model.encoder.kind=qwen_omni",
        f"model.encoder.path={omni_dirs[layout_name]}")).model
    assert cfg.features.n_mels == 128
    tokenizer = build_offline_tokenizer(cfg.tokenizer.vocab_size, cfg.tokenizer.cache_dir)
    model = build_model(cfg, len(tokenizer), special_ids(tokenizer)[tokens.PAD])
    encoder = model.encoder
    assert isinstance(encoder, QwenOmniChunkEncoder)
    reference = _tiny_tower()
    for name, value in reference.state_dict().items():
        assert torch.equal(encoder.tower.state_dict()[name], value), name
    # outside the trained model: no parameter for the optimizer, no key in a checkpoint
    tower_params = {id(p) for p in encoder.tower.parameters()}
    assert not tower_params & {id(p) for p in model.parameters()}
    assert not any(k.startswith("encoder.tower") for k in model.state_dict())
    apply_stage(model, get_stage(3), [])
    grouped = {id(p) for group in param_groups(model, 0.01) for p in group["params"]}
    assert not tower_params & grouped
    samples = cfg.features.chunk_samples
    audio, changed = _audio_pair(samples)
    features = chunk_features(cfg)
    with torch.no_grad():
        one = model.audio_embeddings(torch.from_numpy(features.stream(audio)))
        two = model.audio_embeddings(torch.from_numpy(features.stream(changed)))
    assert one.shape == (6, cfg.encoder.slots_per_chunk, model.hidden_size)
    assert torch.allclose(one[:4], two[:4], atol=1e-6)
    assert not torch.allclose(one[4], two[4])


def test_a_saved_qwen_omni_model_reloads_its_tower_from_the_directory(
        omni_dirs: dict[str, Path], tiny_sets: list[str], tmp_path: Path) -> None:
    cfg = load_train_config(overrides=_pretrained_sets(
        tiny_sets, "model.encoder.kind=qwen_omni",
        f"model.encoder.path={omni_dirs['tower']}")).model
    tokenizer = build_offline_tokenizer(cfg.tokenizer.vocab_size, cfg.tokenizer.cache_dir)
    model = build_model(cfg, len(tokenizer), special_ids(tokenizer)[tokens.PAD])
    save_model(model, tmp_path / "ckpt")
    again = load_model(tmp_path / "ckpt", expect=cfg)
    frames = torch.randn(2, 40, 128)
    with torch.no_grad():
        assert torch.equal(again.audio_embeddings(frames), model.audio_embeddings(frames))


def test_bad_qwen_omni_directories_are_named(tmp_path: Path, tiny_sets: list[str],
                                            omni_dirs: dict[str, Path]) -> None:
    def build(path: Path, *extra: str) -> None:
        cfg = load_train_config(overrides=_pretrained_sets(
            tiny_sets, "model.encoder.kind=qwen_omni", f"model.encoder.path={path}",
            *extra)).model
        build_model(cfg, 700, 0)

    with pytest.raises(ModelError, match=r"no config\.json"):
        build(tmp_path / "missing")
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "config.json").write_text('{"model_type": "qwen2"}')
    with pytest.raises(ModelError, match=r"not a Qwen2\.5-Omni model"):
        build(tmp_path / "llm")
    with pytest.raises(ModelError, match="takes 128 mel bins"):
        build(omni_dirs["tower"], "model.features.n_mels=80")
