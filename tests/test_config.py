from pathlib import Path

import pytest

from streamaudio.config import Config, load_config


def test_defaults_are_the_papers_constants() -> None:
    cfg = Config()
    assert cfg.audio.sample_rate == 16_000
    assert cfg.audio.chunk_samples == 6_400
    assert cfg.audio.grid_samples == 3_200
    assert cfg.audio.max_chunks == 60 and cfg.audio.max_stream_samples == 384_000
    assert cfg.tfjp.fade_ms == 20 and cfg.tfjp.silence_limit_ms == 300
    assert cfg.compose.gap_s == (0.8, 2.4)
    assert (cfg.compose.role_gain_db.background, cfg.compose.role_gain_db.ambient) == (-6, -12)


def test_yaml_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("compose:\n  gap_s: [1.0, 2.0]\ntfjp:\n  enabled: false\n")
    cfg = load_config(path, ["tfjp.enabled=true", "compose.role_gain_db.ambient=-18"])
    assert cfg.compose.gap_s == (1.0, 2.0)
    assert cfg.tfjp.enabled is True
    assert cfg.compose.role_gain_db.ambient == -18


@pytest.mark.parametrize("override", [
    "audio.chunk_ms=401",  # 6,416 samples: not a multiple of the 3,200-sample grid
    "audio.chunk_ms=400.03",
    "compose.gap_s=[2.0,1.0]",
    "compose.nonsense=1",
    "noequals",
])
def test_bad_settings_are_refused_with_a_reason(override: str) -> None:
    with pytest.raises(ValueError) as error:
        load_config(overrides=[override])
    assert str(error.value)


def test_hash_is_stable_and_follows_settings_not_paths(tmp_path: Path) -> None:
    base = Config().hash()
    assert base == Config().hash()
    assert load_config(overrides=["tfjp.enabled=false"]).hash() != base
    assert load_config(overrides=[f"catalog.directory={tmp_path}"]).hash() == base
    assert load_config(overrides=[f"cache.directory={tmp_path}"]).hash() == base


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = load_config(overrides=["compose.rir_probability=0.5"])
    path = tmp_path / "saved.yaml"
    path.write_text(cfg.to_yaml())
    assert load_config(path) == cfg
