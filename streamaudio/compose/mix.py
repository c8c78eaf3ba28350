"""Render a GroundedPlan to audio. Deterministic: every choice is in the plan;
this module only adds scaled segments and applies the clipping guard."""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import numpy as np

from streamaudio.compose.noise import coloured_noise
from streamaudio.dsp.convolve import convolve_full
from streamaudio.ground.types import ProcessedClip  # grounding makes it; rendering reads it
from streamaudio.schema import BedLayer, ClipRef, GroundedEvent, GroundedPlan
from streamaudio.units import db_to_gain


class ClipSource(Protocol):
    def event_clip(self, ref: ClipRef) -> ProcessedClip: ...

    def bed_clip(self, ref: ClipRef) -> ProcessedClip: ...

    def impulse_response(self, ref: ClipRef) -> np.ndarray: ...


@lru_cache(maxsize=8)
def _hann_ramp(fade_samples: int) -> np.ndarray:
    # rising half of a Hann window: 0 at the edge sample
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(fade_samples) / fade_samples)).astype(
        np.float32
    )


def apply_edge_fades(segment: np.ndarray, fade_samples: int) -> np.ndarray:
    fade = min(fade_samples, segment.size // 2)
    if fade == 0:
        return segment
    ramp = _hann_ramp(fade)
    segment[:fade] *= ramp
    segment[-fade:] *= ramp[::-1]
    return segment


def take_segment(audio: np.ndarray, offset: int, length: int, loop: bool) -> np.ndarray:
    """`length` samples from `offset`; a loop wraps around the clip."""
    if loop:
        start = offset % audio.size
        pieces = [audio[start:]]
        covered = audio.size - start
        while covered < length:
            pieces.append(audio)
            covered += audio.size
        return np.concatenate(pieces)[:length]
    if offset + length > audio.size:
        raise ValueError(f"segment {offset}+{length} beyond a clip of {audio.size}")
    return audio[offset : offset + length].copy()


def reverberate(segment: np.ndarray, impulse_response: np.ndarray) -> np.ndarray:
    """Convolve with a unit-energy RIR and keep the segment's length, so the
    event's placement and labels do not move."""
    energy = float(np.sqrt(np.sum(impulse_response.astype(np.float64) ** 2))) or 1.0
    wet = convolve_full(segment, impulse_response / energy)[: segment.size]
    return wet.astype(np.float32)


def _render_bed(
    layer: BedLayer, num_samples: int, sample_rate: int, clips: ClipSource
) -> np.ndarray:
    if layer.kind == "coloured":
        assert layer.colour is not None and layer.noise_seed is not None
        return coloured_noise(layer.colour, layer.noise_seed, num_samples, sample_rate)
    assert layer.clip is not None
    return take_segment(clips.bed_clip(layer.clip).audio, layer.clip_offset, num_samples, True)


def render_event(event: GroundedEvent, clips: ClipSource, fade_samples: int) -> np.ndarray:
    """One event as the mix adds it, before its gain: the placed segment, reverberated, faded."""
    clip = clips.event_clip(event.clip)
    segment = take_segment(clip.audio, event.clip_offset, event.length, event.loop)
    if event.rir is not None:
        segment = reverberate(segment, clips.impulse_response(event.rir))
    return apply_edge_fades(segment, fade_samples)


def render(
    plan: GroundedPlan, clips: ClipSource, fade_samples: int, peak_ceiling: float
) -> tuple[np.ndarray, float]:
    """Mix the plan; returns float32 audio and the clipping guard's scale
    (1.0 when it did nothing)."""
    mix = np.zeros(plan.num_samples, dtype=np.float32)
    for layer in plan.bed:
        gain = np.float32(db_to_gain(layer.gain_db))
        mix += _render_bed(layer, plan.num_samples, plan.sample_rate, clips) * gain
    for event in plan.events:
        segment = render_event(event, clips, fade_samples)
        mix[event.onset : event.offset] += segment * np.float32(db_to_gain(event.gain_db))
    peak = float(np.max(np.abs(mix)))
    scale = 1.0 if peak <= peak_ceiling else peak_ceiling / peak
    if scale < 1.0:
        mix *= np.float32(scale)
    return mix, scale
