from dataclasses import dataclass, field

import numpy as np
import pytest

from streamaudio.compose.loudness import measure_lufs
from streamaudio.compose.mix import ProcessedClip, apply_edge_fades, render, take_segment
from streamaudio.schema import BedLayer, ClipRef, EventPlan, GroundedEvent, GroundedPlan, ScenePlan

RATE = 16_000


def _ref(name: str) -> ClipRef:
    return ClipRef(clip_id=f"t/{name}", sha256=name * 4, source="test", license="CC0-1.0")


def _tone(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@dataclass
class MemoryClips:
    """An in-memory ClipSource: the protocol the renderer reads clips through."""

    clips: dict[str, np.ndarray] = field(default_factory=dict)

    def _processed(self, ref: ClipRef) -> ProcessedClip:
        audio = self.clips[ref.clip_id]
        return ProcessedClip(audio, 0, audio.size, measure_lufs(audio, RATE), 30.0)

    def event_clip(self, ref: ClipRef) -> ProcessedClip:
        return self._processed(ref)

    def bed_clip(self, ref: ClipRef) -> ProcessedClip:
        return self._processed(ref)

    def impulse_response(self, ref: ClipRef) -> np.ndarray:
        return self.clips[ref.clip_id]


def _scene() -> ScenePlan:
    def event(event_id: str, role: str) -> EventPlan:
        return EventPlan(event_id=event_id, role=role, kind="sound", caption="c", query="q",
                         fallback_caption="f")  # type: ignore[arg-type]
    return ScenePlan(stream_id="s", ability="a", subtask="t", setting="x", seed=1,
                     events=[event("fg", "foreground"), event("bg", "background"),
                             event("amb", "ambient")])


def _plan(fg_gain: float = 0.0, bg_gain: float = -6.0) -> GroundedPlan:
    events = [
        GroundedEvent(event_id="fg", clip=_ref("fg"), clip_offset=0, length=16_000, onset=8_000,
                      core_start=0, core_end=16_000, gain_db=fg_gain),
        GroundedEvent(event_id="bg", clip=_ref("bg"), clip_offset=0, length=16_000,
                      onset=40_000, core_start=0, core_end=16_000, gain_db=bg_gain),
        GroundedEvent(event_id="amb", clip=_ref("amb"), clip_offset=3_000, length=32_000,
                      onset=0, core_start=0, core_end=32_000, gain_db=-20.0, loop=True),
    ]
    bed = [BedLayer(kind="coloured", colour="pink", noise_seed=5, gain_db=-50.0),
           BedLayer(kind="clip", clip=_ref("bed"), clip_offset=100, gain_db=-30.0)]
    return GroundedPlan(scene=_scene(), sample_rate=RATE, num_samples=64_000,
                        events=events, bed=bed)


CLIPS = MemoryClips({"t/fg": _tone(440, 1, 0.3), "t/bg": _tone(880, 1, 0.3),
                     "t/amb": _tone(200, 0.5, 0.3), "t/bed": _tone(120, 0.7, 0.3)})


def test_render_is_deterministic() -> None:
    first, scale = render(_plan(), CLIPS, 320, 0.98)
    second, _ = render(_plan(), CLIPS, 320, 0.98)
    assert first.dtype == np.float32 and first.size == 64_000
    assert first.tobytes() == second.tobytes()
    assert scale == 1.0


def test_role_gains_set_relative_levels() -> None:
    audio, _ = render(_plan(fg_gain=0.0, bg_gain=-6.0), CLIPS, 320, 0.98)
    fg = measure_lufs(audio[9_000:23_000], RATE)
    bg = measure_lufs(audio[41_000:55_000], RATE)
    # same source level, 6 dB apart in the plan; bed and ambience add a little to both
    assert fg - bg == pytest.approx(6.0, abs=1.0)


def test_gaps_are_noise_never_digital_silence() -> None:
    audio, _ = render(_plan(), CLIPS, 320, 0.98)
    gap = audio[24_000:40_000]  # between the two turns
    frames = gap[: gap.size // 160 * 160].reshape(-1, 160)
    assert np.all(np.sqrt(np.mean(frames**2, axis=1)) > 1e-5)


def test_clipping_guard_scales_and_records() -> None:
    audio, scale = render(_plan(fg_gain=18.0), CLIPS, 320, 0.98)
    assert scale < 1.0
    assert float(np.max(np.abs(audio))) == pytest.approx(0.98, abs=1e-4)


def test_loop_wraps_and_fades_reach_zero() -> None:
    clip = np.arange(10, dtype=np.float32)
    assert take_segment(clip, 8, 5, True).tolist() == [8, 9, 0, 1, 2]
    with pytest.raises(ValueError):
        take_segment(clip, 8, 5, False)
    faded = apply_edge_fades(np.ones(1_000, dtype=np.float32), 320)
    assert faded[0] == 0.0 and faded[-1] == 0.0 and faded[500] == 1.0
    assert np.all(np.diff(faded[:320]) > 0)
