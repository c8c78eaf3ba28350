"""Clips from the catalogs, loaded once per worker, processed by TFJP once (the
measurements kept by content hash, ground/measures.py), and kept in a bounded
in-process cache. Implements compose.mix.ClipSource."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from streamaudio.cache import ContentStore
from streamaudio.config import Config
from streamaudio.ground.measures import NAMESPACE, ClipMeasurements
from streamaudio.ground.types import ProcessedClip
from streamaudio.retrieve.audio_io import LoadedClip, load_clip
from streamaudio.retrieve.catalog import Catalog, ClipEntry
from streamaudio.retrieve.quarantine import Quarantine
from streamaudio.schema import ClipRef
from streamaudio.stage import Drop

GENERATED_PREFIX = "tts/"  # clip ids of synthesised speech, kept by content hash
GENERATED_PREFIXES = (GENERATED_PREFIX, "generated/")  # speech and generated sounds


class ClipChanged(RuntimeError):
    """A clip's file no longer matches the content hash its plan recorded."""


class CatalogClipStore:
    def __init__(
        self,
        catalog: Catalog,
        rirs: list[ClipEntry],
        cfg: Config,
        quarantine: Quarantine | None = None,
        max_cached: int = 512,
        generated: ContentStore | None = None,
    ) -> None:
        self.catalog = catalog
        self.rirs = {entry.id: entry for entry in rirs}
        self.cfg = cfg
        self.quarantine = quarantine if quarantine is not None else Quarantine()
        self._cache: OrderedDict[tuple[str, str], ProcessedClip | Drop] = OrderedDict()
        self._refs: dict[str, ClipRef] = {}
        self._max_cached = max_cached
        self.generated = generated
        self.measurements = ClipMeasurements(cfg, ContentStore(cfg.cache.directory, NAMESPACE))

    def entry(self, clip_id: str) -> ClipEntry:
        return self.rirs.get(clip_id) or self.catalog.by_id(clip_id)

    def _remember(self, key: tuple[str, str], value: ProcessedClip | Drop) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    def _process(self, entry: ClipEntry, loaded: LoadedClip, purpose: str
                 ) -> ProcessedClip | Drop:
        audio, sha = loaded.audio, loaded.ref.sha256
        # textures are the noise itself: denoising or trimming them would remove them
        if purpose != "event" or entry.loopable:
            lufs = self.measurements.loudness(sha, audio)
            return ProcessedClip(audio, 0, audio.size, lufs, float("nan"))
        measured = self.measurements.get(sha, audio, denoise=True)
        if isinstance(measured, Drop):
            return Drop(measured.reason, f"{entry.id}: {measured.detail}")
        result = measured.tfjp
        return ProcessedClip(result.audio, result.core_start, result.core_end,
                             measured.processed_lufs, result.snr_db)

    def load(self, clip_id: str, purpose: str = "event") -> tuple[ProcessedClip, ClipRef] | Drop:
        """Load and process a clip for grounding; bad clips are quarantined with
        their reason and returned as a Drop (never raised)."""
        key = (clip_id, purpose)
        cached = self._cache.get(key)
        if cached is None:
            entry = self.entry(clip_id)
            loaded = load_clip(entry, self.cfg)
            if isinstance(loaded, Drop):
                self.quarantine.add(entry.id, loaded.reason, loaded.detail)
                cached = loaded
            else:
                self._refs[clip_id] = loaded.ref
                cached = self._process(entry, loaded, purpose)
                if isinstance(cached, Drop):
                    self.quarantine.add(entry.id, cached.reason, cached.detail)
            self._remember(key, cached)
        if isinstance(cached, Drop):
            return cached
        return cached, self._refs[clip_id]

    def raw(self, clip_id: str) -> LoadedClip | Drop:
        """The clip before TFJP (resampled, mono) and its ref, for verification."""
        return load_clip(self.entry(clip_id), self.cfg)

    def keep_generated(self, sha256: str, audio: np.ndarray) -> None:
        if self.generated is None:
            raise RuntimeError("no store for generated clips was given")
        if self.generated.get_bytes(sha256) is None:
            self.generated.put_array(sha256, audio)

    def _generated(self, ref: ClipRef) -> ProcessedClip:
        audio = None if self.generated is None else self.generated.get_array(ref.sha256)
        if audio is None or hashlib.sha256(audio.tobytes()).hexdigest() != ref.sha256:
            raise ClipChanged(f"{ref.clip_id}: this generated clip is not in the cache "
                              f"({self.cfg.cache.directory}); build the stream again")
        return ProcessedClip(audio, 0, audio.size, float("nan"), float("nan"))

    def _checked(self, ref: ClipRef, purpose: str) -> ProcessedClip:
        if ref.clip_id.startswith(GENERATED_PREFIXES):
            return self._generated(ref)
        loaded = self.load(ref.clip_id, purpose)
        if isinstance(loaded, Drop):
            raise ClipChanged(f"{ref.clip_id} no longer loads: {loaded.reason} {loaded.detail}")
        clip, current = loaded
        if current.sha256 != ref.sha256:
            raise ClipChanged(f"{ref.clip_id}: file changed since the plan was made")
        return clip

    def event_clip(self, ref: ClipRef) -> ProcessedClip:
        return self._checked(ref, "event")

    def bed_clip(self, ref: ClipRef) -> ProcessedClip:
        return self._checked(ref, "bed")

    def impulse_response(self, ref: ClipRef) -> np.ndarray:
        return self._checked(ref, "rir").audio
