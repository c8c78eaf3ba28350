"""Integer-sample layout of one stream. Foreground events are turns, one after
another with gaps of 0.8-2.4 s (0.2-0.6 s between sentences of one turn);
background and ambient events overlap them.
Every number drawn here is stored in the grounded plan, so rendering needs no
randomness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamaudio.config import Config
from streamaudio.schema import Role
from streamaudio.stage import Retry
from streamaudio.units import seconds_to_samples


@dataclass(frozen=True)
class SpanRequest:
    """What grounding knows of an event before it is placed."""

    event_id: str
    role: Role
    length: int  # samples available from the processed clip (grid multiple)
    loopable: bool = False  # may be tiled to any length
    continues: bool = False  # foreground: follows the previous one after a short pause


@dataclass(frozen=True)
class Placement:
    event_id: str
    onset: int
    length: int
    loop: bool


def _draw(rng: np.random.Generator, bounds: tuple[float, float], sample_rate: int) -> int:
    low, high = (seconds_to_samples(value, sample_rate) for value in bounds)
    return int(rng.integers(low, high + 1))


def _floor_to(value: int, step: int) -> int:
    return value - value % step


def _silence_bounds(continues: bool, cfg: Config) -> tuple[float, float]:
    """Seconds between a foreground turn and the one before it."""
    return cfg.compose.pause_s if continues else cfg.compose.gap_s


def longest_silences(continues: Sequence[bool], cfg: Config) -> int:
    """The most samples `layout` can draw for the lead-in, the gaps or pauses before
    each foreground turn after the first, and the tail: what grounding must leave
    free so that any draw fits. `continues`: each foreground turn's flag, in order."""
    rate, compose = cfg.audio.sample_rate, cfg.compose
    total = seconds_to_samples(compose.lead_in_s[1], rate)
    total += seconds_to_samples(compose.tail_s[1], rate)
    return total + sum(seconds_to_samples(_silence_bounds(flag, cfg)[1], rate)
                       for flag in continues[1:])


def layout(
    requests: list[SpanRequest], rng: np.random.Generator, cfg: Config
) -> tuple[list[Placement], int] | Retry:
    """Place every event; returns placements in request order and the stream
    length in samples, or Retry when the foreground turns cannot fit."""
    audio = cfg.audio
    rate = audio.sample_rate
    foreground = [request for request in requests if request.role == "foreground"]
    if not foreground:
        return Retry("no_foreground", "a stream needs at least one foreground turn")
    lead_in = _draw(rng, cfg.compose.lead_in_s, rate)
    gaps = [_draw(rng, _silence_bounds(request.continues, cfg), rate)
            for request in foreground[1:]]
    tail = _draw(rng, cfg.compose.tail_s, rate)
    turn_samples = sum(request.length for request in foreground)
    num_samples = lead_in + turn_samples + sum(gaps) + tail
    if num_samples > audio.max_stream_samples:
        return Retry(
            "scene_too_long",
            f"{len(foreground)} turns need {num_samples} samples > {audio.max_stream_samples}",
        )
    onsets: dict[str, Placement] = {}
    cursor = lead_in
    for index, request in enumerate(foreground):
        onsets[request.event_id] = Placement(request.event_id, cursor, request.length, False)
        cursor += request.length + (gaps[index] if index < len(gaps) else 0)

    grid = audio.grid_samples
    for request in requests:
        if request.role == "foreground":
            continue
        if request.loopable:
            # ambience-like events cover 40-90 % of the stream
            share = float(rng.uniform(0.4, 0.9))
            length = max(grid, _floor_to(int(num_samples * share), grid))
        else:
            length = min(request.length, _floor_to(num_samples, grid))
        onset = int(rng.integers(0, num_samples - length + 1))
        onsets[request.event_id] = Placement(request.event_id, onset, length, request.loopable)
    return [onsets[request.event_id] for request in requests], num_samples
