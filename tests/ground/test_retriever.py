"""Continuity's neighbours, whichever retriever bound them: the raw features it
measured, else the processed clip's; only the last NEIGHBOURS count."""

import numpy as np

from streamaudio.ground.retriever import NEIGHBOURS, clip_features, neighbour_features
from streamaudio.ground.types import Chosen, ProcessedClip
from streamaudio.retrieve.verify import ClipFeatures, features
from streamaudio.schema import ClipRef

RATE = 16_000


def _chosen(freq: float, measured: ClipFeatures | None) -> Chosen:
    t = np.arange(RATE) / RATE
    audio = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    ref = ClipRef(clip_id=f"t/{freq}", sha256="0" * 64, source="t", license="CC0-1.0")
    return Chosen(ProcessedClip(audio, 0, audio.size, -20.0, 30.0), ref, False, measured, {})


def test_measured_features_are_used_and_processed_audio_measured_otherwise() -> None:
    measured = ClipFeatures(-30.0, 1234.0)
    assert clip_features(_chosen(440.0, measured), RATE) is measured
    unmeasured = _chosen(440.0, None)
    assert clip_features(unmeasured, RATE) == features(unmeasured.clip.audio, RATE)
    assert 300.0 < clip_features(unmeasured, RATE).centroid_hz < 700.0


def test_only_the_last_neighbours_count() -> None:
    before = [_chosen(110.0 * (i + 1), ClipFeatures(-20.0 - i, 100.0 * (i + 1)))
              for i in range(4)]
    near = neighbour_features(before, RATE)
    assert len(near) == NEIGHBOURS == 2
    assert [n.lufs for n in near] == [-22.0, -23.0]
    assert neighbour_features([], RATE) == []
