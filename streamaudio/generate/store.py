"""Generated clips, cached and catalogued. Audio lives in a ContentStore
(namespace "generated") keyed by everything that decides it (backend, version,
prompt, duration, seed), so a re-run calls no service for a clip it has. Every clip
also gets one provenance line in <cache>/generated/generated.jsonl, appended under
an exclusive file lock so concurrent writers (threads or processes) never tear or
duplicate a line. `GeneratorChain` tries the configured backends in order."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.generate.types import GenerationError, SoundGenerator
from streamaudio.schema import ClipRef
from streamaudio.stage import Drop

log = logging.getLogger(__name__)

NAMESPACE = "generated"
CATALOG_NAME = "generated.jsonl"
ID_PREFIX = "generated/"
SILENT_PEAK = 1e-4


@dataclass(frozen=True)
class GeneratedClip:
    audio: np.ndarray  # float32 mono at the corpus rate
    sha256: str  # of audio.tobytes(): names the clip
    backend: str
    version: str
    prompt: str
    seed: int
    requested_s: float
    cached: bool  # True when no generator was called

    @property
    def clip_id(self) -> str:
        return f"{ID_PREFIX}{self.sha256[:16]}"

    def ref(self) -> ClipRef:
        return ClipRef(
            clip_id=self.clip_id,
            sha256=self.sha256,
            source=f"{self.backend} {self.version}",
            license=f"generated:{self.backend}",
        )


class GeneratedRecord(BaseModel):
    """One line of the generated catalog: where a clip came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^generated/[0-9a-f]{16}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key: str = Field(pattern=r"^[0-9a-f]{64}$")  # the ContentStore key of the audio
    backend: str
    version: str
    prompt: str
    seed: int
    duration_s: float = Field(gt=0)  # of the audio
    requested_s: float = Field(gt=0)
    sample_rate: int = Field(gt=0)
    license: str
    event_caption: str | None = None  # the planned event it was first made for


def _checked(audio: object, backend: str) -> np.ndarray:
    """A generator's output as contiguous float32 mono, or a counted failure."""
    array = np.asarray(audio)
    if array.ndim != 1 or array.size == 0:
        raise GenerationError(f"{backend} returned no mono audio {array.shape}", "empty")
    if not np.isfinite(array).all():
        raise GenerationError(f"{backend} returned non-finite samples", "non_finite")
    if float(np.max(np.abs(array))) < SILENT_PEAK:
        raise GenerationError(f"{backend} returned silence", "silent")
    return np.ascontiguousarray(array, dtype=np.float32)


class GeneratedClips:
    def __init__(self, cfg: Config) -> None:
        self.sample_rate = cfg.audio.sample_rate
        self.store = ContentStore(Path(cfg.cache.directory), NAMESPACE)
        self.catalog_path = Path(cfg.cache.directory) / NAMESPACE / CATALOG_NAME

    def key(self, backend: str, version: str, prompt: str, duration_s: float, seed: int) -> str:
        return input_key({
            "kind": "generated-sound", "backend": backend, "version": version, "prompt": prompt,
            "duration_ms": round(duration_s * 1000), "seed": seed, "sample_rate": self.sample_rate,
        })  # fmt: skip

    def _clip(self, audio: np.ndarray, generator: SoundGenerator, version: str, prompt: str,
              seed: int, duration_s: float, cached: bool) -> GeneratedClip:  # fmt: skip
        sha = hashlib.sha256(audio.tobytes()).hexdigest()
        return GeneratedClip(audio, sha, generator.name, version, prompt, seed, duration_s, cached)

    def cached(
        self, generator: SoundGenerator, prompt: str, duration_s: float, seed: int
    ) -> GeneratedClip | None:
        """The clip if it is in the cache; never calls the generator's service
        (except a version() that must ask its server, e.g. AudioX's model)."""
        version = generator.version()
        audio = self.store.get_array(self.key(generator.name, version, prompt, duration_s, seed))
        if audio is None:
            return None
        return self._clip(audio, generator, version, prompt, seed, duration_s, cached=True)

    def generate_cached(
        self,
        generator: SoundGenerator,
        prompt: str,
        duration_s: float,
        seed: int,
        event_caption: str | None = None,
    ) -> GeneratedClip:
        """From the cache, else from the generator (then cached); either way the
        clip has its provenance line. Raises GenerationError on a failed request."""
        version = generator.version()
        key = self.key(generator.name, version, prompt, duration_s, seed)
        audio = self.store.get_array(key)
        cached = audio is not None
        if audio is None:
            audio = _checked(generator.generate(prompt, duration_s, seed), generator.name)
            self.store.put_array(key, audio)
        clip = self._clip(audio, generator, version, prompt, seed, duration_s, cached)
        self.catalogue(clip, event_caption)
        return clip

    def catalogue(self, clip: GeneratedClip, event_caption: str | None = None) -> None:
        """Append the clip's provenance line unless its id is already there."""
        key = self.key(clip.backend, clip.version, clip.prompt, clip.requested_s, clip.seed)
        record = GeneratedRecord(
            id=clip.clip_id, sha256=clip.sha256, key=key, backend=clip.backend,
            version=clip.version, prompt=clip.prompt, seed=clip.seed,
            duration_s=round(clip.audio.size / self.sample_rate, 6),
            requested_s=clip.requested_s, sample_rate=self.sample_rate,
            license=f"generated:{clip.backend}", event_caption=event_caption,
        )  # fmt: skip
        line = json.dumps(record.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        self.catalog_path.parent.mkdir(parents=True, exist_ok=True)
        # errors="replace": a line torn inside a character must fail its own parse
        # (skipped), not the decoding of the whole file on every later read and append
        with open(self.catalog_path, "a+", encoding="utf-8", errors="replace") as handle:
            # flock is per open file: it serialises threads (each opens its own) and processes
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                text = handle.read()
                if any(r.id == record.id for r in _parse(text, self.catalog_path)):
                    return
                # a writer killed mid-line leaves no newline: start ours on a fresh line
                handle.write(("\n" if text and not text.endswith("\n") else "") + line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def records(self) -> list[GeneratedRecord]:
        """Every valid line of the generated catalog (a torn or foreign line is
        skipped with a warning: the audio is still in the cache)."""
        try:
            with open(self.catalog_path, encoding="utf-8", errors="replace") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH)
                text = handle.read()
        except FileNotFoundError:
            return []
        return _parse(text, self.catalog_path)

    def audio(self, clip_id: str) -> np.ndarray | None:
        """A catalogued clip's audio, checked against its hash; None if gone."""
        for record in self.records():
            if record.id == clip_id:
                audio = self.store.get_array(record.key)
                if (
                    audio is not None
                    and hashlib.sha256(audio.tobytes()).hexdigest() == record.sha256
                ):
                    return audio
        return None


def _parse(text: str, path: Path) -> list[GeneratedRecord]:
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(GeneratedRecord.model_validate_json(line))
        except ValidationError:
            log.warning("%s:%d: not a generated-clip record; skipped", path, lineno)
    return records


def make_generator(name: str, cfg: Config) -> SoundGenerator:
    """The backend called `name`; raises GeneratorUnavailable when it is not configured."""
    if name == "synth":
        from streamaudio.generate.synth import SynthGenerator

        return SynthGenerator(cfg)
    if name == "elevenlabs":
        from streamaudio.generate.elevenlabs import ElevenLabsGenerator

        return ElevenLabsGenerator(cfg)
    if name == "audiox":
        from streamaudio.generate.audiox import AudioXGenerator

        return AudioXGenerator(cfg)
    raise ValueError(f"unknown generation backend {name!r}")


class GeneratorChain:
    """cfg.generate.backends in order: a cached clip from any of them first (a
    re-run reproduces the run before it, even if a service has come back), then
    each backend's service in turn until one succeeds."""

    def __init__(
        self,
        cfg: Config,
        generators: Sequence[SoundGenerator] | None = None,
        clips: GeneratedClips | None = None,
    ) -> None:
        # a configured backend that cannot run is a config error: raise now, not per event
        self.generators = list(generators) if generators is not None else [
            make_generator(name, cfg) for name in cfg.generate.backends
        ]  # fmt: skip
        self.clips = clips or GeneratedClips(cfg)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def stats(self) -> dict[str, int]:
        """`generated:<backend>`, `cache_hit:<backend>` and `failed:<backend>:<reason>`."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def generate(
        self, prompt: str, duration_s: float, seed: int, event_caption: str | None = None
    ) -> GeneratedClip | Drop:
        failures: list[str] = []
        for generator in self.generators:
            try:
                hit = self.clips.cached(generator, prompt, duration_s, seed)
            except GenerationError:
                continue  # e.g. AudioX down: its failure is counted when it is called below
            if hit is not None:
                self.clips.catalogue(hit, event_caption)
                return self._counted(hit)
        for generator in self.generators:
            try:
                clip = self.clips.generate_cached(
                    generator, prompt, duration_s, seed, event_caption
                )
                return self._counted(clip)
            except GenerationError as error:
                self._count(f"failed:{generator.name}:{error.reason}")
                failures.append(f"{generator.name}: {error.reason}")
                log.info("generation by %s failed: %s", generator.name, error)
        return Drop("generation_failed", f"{prompt[:80]!r}: " + "; ".join(failures))

    def _counted(self, clip: GeneratedClip) -> GeneratedClip:
        self._count(f"generated:{clip.backend}")
        if clip.cached:
            self._count(f"cache_hit:{clip.backend}")
        return clip
