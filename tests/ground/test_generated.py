"""admit_generated: a refused clip is counted and never stored; an admitted one is
stored under the hash of its processed audio and comes back processed.
verify_generated: the one path both retrievers verify a generated clip by."""

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np

from streamaudio.cache import ContentStore
from streamaudio.config import Config
from streamaudio.dsp.tfjp import run_tfjp
from streamaudio.generate.store import GeneratedClip
from streamaudio.ground.generated import admit_generated, verify_generated
from streamaudio.ground.store import CatalogClipStore
from streamaudio.retrieve.catalog import Catalog
from streamaudio.schema import EventPlan
from streamaudio.stage import Drop

RATE = 16_000


def _made() -> GeneratedClip:
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    audio = np.zeros(2 * RATE, dtype=np.float32)
    audio[RATE // 2:RATE // 2 + RATE] = 0.3 * np.sin(2 * np.pi * 880 * t)
    audio += 1e-4 * rng.standard_normal(audio.size).astype(np.float32)
    sha = hashlib.sha256(audio.tobytes()).hexdigest()
    return GeneratedClip(audio, sha, "synth", "2", "a beep", 7, 2.0, False)


def _store(tmp_path: Path, cfg: Config) -> tuple[CatalogClipStore, ContentStore]:
    generated = ContentStore(tmp_path / "generated", "generated")
    return CatalogClipStore(Catalog([], {}), [], cfg, generated=generated), generated


def test_a_failed_clip_is_counted_and_not_kept(tmp_path: Path, world_config: Config) -> None:
    made = _made()
    result = run_tfjp(made.audio, RATE, world_config.tfjp, world_config.audio.grid_samples)
    store, generated = _store(tmp_path, world_config)
    stats: Counter[str] = Counter()
    failed = ["cleanliness.snr", "duration_fit"]
    admitted = admit_generated("e1", made, result, failed, store, RATE, stats)
    assert isinstance(admitted, Drop) and admitted.reason == "no_verified_clip"
    assert "e1" in admitted.detail and "duration_fit" in admitted.detail
    assert stats == Counter({"verify_failed:cleanliness.snr": 1, "verify_failed:duration_fit": 1,
                             "no_verified_clip": 1})
    processed = hashlib.sha256(result.audio.astype(np.float32).tobytes()).hexdigest()
    assert generated.get_bytes(processed) is None


def test_an_admitted_clip_is_kept_by_the_hash_of_its_processed_audio(
        tmp_path: Path, world_config: Config) -> None:
    made = _made()
    result = run_tfjp(made.audio, RATE, world_config.tfjp, world_config.audio.grid_samples)
    store, generated = _store(tmp_path, world_config)
    stats: Counter[str] = Counter()
    admitted = admit_generated("e1", made, result, [], store, RATE, stats)
    assert not isinstance(admitted, Drop)
    clip, ref = admitted
    assert stats == Counter({"generated:synth": 1})
    assert ref.sha256 == hashlib.sha256(result.audio.astype(np.float32).tobytes()).hexdigest()
    assert ref.sha256 != made.sha256  # TFJP changed the audio: rendering reads the processed
    assert ref.clip_id == made.clip_id and ref.license == "generated:synth"
    np.testing.assert_array_equal(generated.get_array(ref.sha256), result.audio)
    assert (clip.core_start, clip.core_end) == (result.core_start, result.core_end)
    assert -40 < clip.lufs < 0


def test_identity_is_judged_by_the_caller_or_by_class(tmp_path: Path,
                                                      world_config: Config) -> None:
    event = EventPlan(event_id="e1", role="foreground", kind="sound", caption="a beep",
                      query="a beep", fallback_caption="a beep", duration_s=1.0)
    store, _ = _store(tmp_path, world_config)
    low = world_config.verify.min_identity - 0.1
    refused = verify_generated(event, _made(), [], low, store, world_config, Counter())
    assert isinstance(refused, Drop) and "identity" in refused.detail
    by_class = verify_generated(event, _made(), [], None, store, world_config, Counter())
    assert not isinstance(by_class, Drop), by_class
    # every criterion is on record: duration scored, continuity unscored with a reason
    assert by_class.verdict.scores["duration_ratio"] >= world_config.verify.min_duration_ratio
    assert by_class.verdict.unscored == {"continuity": "no sound event before it"}
    assert by_class.ref.clip_id == _made().clip_id
