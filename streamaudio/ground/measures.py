"""Everything deterministic about a catalog clip, computed once and kept by the
clip's content hash: its TFJP result, the spectrum and loudness verification
measures on the raw audio, and the loudness of what TFJP kept. A clip is a
candidate of many events and the chosen clip of some; without this, a process
measured it again for each, and every new process (a worker, a warm rebuild)
measured everything again. Entries live in memory (bounded) and in the
content store, so a warm rebuild reads them instead of running TFJP."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

import streamaudio
from streamaudio.cache import ContentStore, input_key
from streamaudio.compose.loudness import measure_lufs
from streamaudio.config import Config, TfjpConfig
from streamaudio.dsp.tfjp import TfjpResult, run_tfjp
from streamaudio.profile import timed
from streamaudio.retrieve.verify import ClipFeatures, ClipMeasures, features, measure
from streamaudio.stage import Drop

# Part of every key: bump it when TFJP, the verification spectrum or the loudness
# measure changes what it computes, so older entries are not read as current.
MEASURES_VERSION = 1
IN_MEMORY = 128  # clips per process: bounds the memory of the measurements
NAMESPACE = "clip-measures"
T = TypeVar("T", float, ClipFeatures)  # the small measurements kept as JSON


@dataclass(frozen=True)
class MeasuredClip:
    """A clip's TFJP result, its raw audio's measures, and the loudness of
    `tfjp.audio` (the audio an event places)."""

    tfjp: TfjpResult
    measures: ClipMeasures
    processed_lufs: float


def _encode(value: MeasuredClip | Drop) -> bytes:
    buffer = io.BytesIO()
    if isinstance(value, Drop):
        np.savez(buffer, drop=np.array([value.reason, value.detail]))
    else:
        t, m = value.tfjp, value.measures
        np.savez(buffer, audio=t.audio, freqs=m.freqs, psd=m.psd,
                 ints=np.array([t.core_start, t.core_end, t.trimmed_samples], dtype=np.int64),
                 floats=np.array([t.noise_floor_db, t.snr_db, m.lufs, value.processed_lufs],
                                 dtype=np.float64))
    return buffer.getvalue()


def _decode(payload: bytes) -> MeasuredClip | Drop:
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        if "drop" in data:
            reason, detail = (str(part) for part in data["drop"])
            return Drop(reason, detail)
        core_start, core_end, trimmed = (int(v) for v in data["ints"])
        noise_floor, snr, lufs, processed_lufs = (float(v) for v in data["floats"])
        tfjp = TfjpResult(data["audio"], core_start, core_end, noise_floor, snr, trimmed)
        return MeasuredClip(tfjp, ClipMeasures(data["freqs"], data["psd"], lufs),
                            processed_lufs)


class ClipMeasurements:
    """The measurements of catalog clips for one config, by content hash."""

    def __init__(self, cfg: Config, store: ContentStore | None = None,
                 in_memory: int = IN_MEMORY) -> None:
        self.cfg = cfg
        self.store = store
        self.in_memory = in_memory
        self.computed = 0  # clips measured here, not read (tests and the bench read it)
        self._items: OrderedDict[str, MeasuredClip | Drop | float | ClipFeatures] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, sha256: str, what: dict[str, object]) -> str:
        return input_key({"clip": sha256, "rate": self.cfg.audio.sample_rate, **what,
                          "version": [MEASURES_VERSION, streamaudio.__version__]})

    def _recall(self, key: str) -> MeasuredClip | Drop | float | ClipFeatures | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def _remember(self, key: str, value: MeasuredClip | Drop | float | ClipFeatures) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.in_memory:
                self._items.popitem(last=False)

    def get(self, sha256: str, raw: np.ndarray, denoise: bool) -> MeasuredClip | Drop:
        """The measurements of the clip with file hash `sha256` whose decoded audio is
        `raw`. `denoise` False runs TFJP with denoising off (textures are the noise
        itself: they are trimmed and measured, never denoised). A clip TFJP refuses
        is a Drop("tfjp_rejected"), kept like a result."""
        tfjp = self.cfg.tfjp.model_copy(update={"enabled": self.cfg.tfjp.enabled and denoise})
        key = self._key(sha256, {"grid": self.cfg.audio.grid_samples,
                                 "tfjp": tfjp.model_dump(mode="json")})
        value = self._recall(key)
        if isinstance(value, MeasuredClip | Drop):
            return value
        payload = self.store.get_bytes(key) if self.store is not None else None
        if payload is not None:
            value = _decode(payload)
        else:
            value = self._compute(raw, tfjp)
            if self.store is not None:
                self.store.put_bytes(key, _encode(value))
        self._remember(key, value)
        return value

    def loudness(self, sha256: str, audio: np.ndarray) -> float:
        """The integrated loudness of a clip used whole (a bed, a texture, a room)."""
        return self._kept(self._key(sha256, {"lufs": True}), float,
                          lambda: measure_lufs(audio, self.cfg.audio.sample_rate),
                          float, lambda value: value)

    def features(self, sha256: str, audio: np.ndarray) -> ClipFeatures:
        """What continuity compares, for a clip used whole (an ambience bed)."""

        def measured() -> ClipFeatures:
            with timed("verification"):
                return features(audio, self.cfg.audio.sample_rate)

        return self._kept(self._key(sha256, {"features": True}), ClipFeatures, measured,
                          lambda kept: ClipFeatures(float(kept[0]), float(kept[1])),
                          lambda value: [value.lufs, value.centroid_hz])

    def _kept(self, key: str, kind: type[T], compute: Callable[[], T],
              from_json: Callable[[Any], T], to_json: Callable[[T], Any]) -> T:
        """A small measurement by key: from memory, else the store, else computed (and
        kept in both)."""
        value = self._recall(key)
        if isinstance(value, kind):
            return value
        cached = self.store.get_json(key) if self.store is not None else None
        if cached is not None:
            value = from_json(cached)
        else:
            value = compute()
            if self.store is not None:
                self.store.put_json(key, to_json(value))
        self._remember(key, value)
        return value

    def _compute(self, raw: np.ndarray, tfjp: TfjpConfig) -> MeasuredClip | Drop:
        rate = self.cfg.audio.sample_rate
        with self._lock:
            self.computed += 1
        try:
            with timed("tfjp"):
                result = run_tfjp(raw, rate, tfjp, self.cfg.audio.grid_samples)
        except ValueError as error:
            return Drop("tfjp_rejected", str(error))
        with timed("verification"):
            return MeasuredClip(result, measure(raw, rate), measure_lufs(result.audio, rate))
