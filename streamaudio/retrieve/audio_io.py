"""Safe clip loading. A bad file (unreadable, empty, NaN, silent, too long or
short) becomes a `Drop` with a stable reason, never an exception; exceptions are
left for programming errors. Decoded clips are cached in-process (bounded) and, for
catalog clips, in the content store by file hash."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.dsp.resample import RESAMPLE_QUALITY, resample
from streamaudio.profile import timed
from streamaudio.retrieve.catalog import ClipEntry, PackageMissing, resolve_path
from streamaudio.schema import ClipRef
from streamaudio.stage import Drop

SILENT_PEAK = 1e-4
DECODED_NAMESPACE = "decoded-clips"
DECODED_VERSION = 1  # bump when decoding or resampling changes what it returns
# bigger files are decoded each time: hashing them first would read them twice
MAX_STORED_FILE_BYTES = 64 * 1024 * 1024
DROP_REASONS = (
    "missing_file", "undecodable", "empty", "non_finite", "silent", "too_long", "too_short"
)  # fmt: skip
# soundfile raises RuntimeError subclasses for libsndfile errors; the rest cover odd
# containers and I/O failures of a single file.
_DECODE_ERRORS = (RuntimeError, ValueError, TypeError, OSError, EOFError)


@dataclass(frozen=True)
class DecodedAudio:
    """A checked file at its own rate, downmixed to mono."""

    audio: np.ndarray  # float32 mono
    sample_rate: int
    channels: int  # of the file
    sha256: str  # of the file bytes

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


@dataclass(frozen=True)
class LoadedClip:
    entry: ClipEntry
    audio: np.ndarray  # float32 mono at cfg.audio.sample_rate, read-only (shared by the cache)
    ref: ClipRef


def decode_audio_file(path: Path, max_s: float, min_s: float) -> DecodedAudio | Drop:
    """Check and decode one file without resampling (ingestion measures with this)."""
    path = Path(path)
    if not path.is_file():
        return Drop("missing_file", str(path))
    try:
        # The header decides length before anything is decoded: an hours-long file
        # costs one header read.
        info = sf.info(str(path))
    except _DECODE_ERRORS as exc:
        return Drop("undecodable", f"{path}: {exc}")
    if info.frames <= 0:
        return Drop("empty", str(path))
    if info.duration > max_s:
        return Drop("too_long", f"{path}: {info.duration:.1f} s > {max_s} s")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Drop("undecodable", f"{path}: {exc}")
    try:
        # Decode the very bytes that were hashed, so the hash names this audio.
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except _DECODE_ERRORS:
        # libsndfile cannot sniff some MP3s (an empty ID3 tag) from a stream but can
        # from the file; the bytes are re-read after decoding to keep the hash honest.
        try:
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except _DECODE_ERRORS as exc:
            return Drop("undecodable", f"{path}: {exc}")
        if path.read_bytes() != data:
            return Drop("undecodable", f"{path}: file changed while it was read")
    if audio.shape[0] == 0:
        return Drop("empty", str(path))
    if not np.isfinite(audio).all():
        return Drop("non_finite", str(path))
    mono = audio.mean(axis=1, dtype=np.float32) if audio.shape[1] > 1 else audio[:, 0]
    duration = mono.shape[0] / rate
    if duration < min_s:
        return Drop("too_short", f"{path}: {duration:.3f} s < {min_s} s")
    if duration > max_s:  # a header may understate the length
        return Drop("too_long", f"{path}: {duration:.1f} s > {max_s} s")
    peak = float(np.max(np.abs(mono)))
    if peak < SILENT_PEAK:
        return Drop("silent", f"{path}: peak {peak:.2e}")
    sha = hashlib.sha256(data).hexdigest()
    return DecodedAudio(
        np.ascontiguousarray(mono, dtype=np.float32), int(rate), audio.shape[1], sha
    )


class _ClipCache:
    """LRU over decoded clips, bounded by bytes; keyed by the file's identity
    (path, mtime, size) so an edited file is decoded again."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[object, ...], tuple[np.ndarray, str] | Drop] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> tuple[np.ndarray, str] | Drop | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[object, ...], value: tuple[np.ndarray, str] | Drop) -> None:
        size = value[0].nbytes if isinstance(value, tuple) else 0
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old[0].nbytes if isinstance(old, tuple) else 0

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_CACHE = _ClipCache(max_bytes=256 * 1024 * 1024)


def set_cache_budget(max_bytes: int) -> None:
    """Bound the in-process clip cache (0 disables it)."""
    _CACHE.clear()
    _CACHE.max_bytes = max_bytes


def clear_cache() -> None:
    _CACHE.clear()


def _decoded_key(sha256: str, sample_rate: int, max_s: float, min_s: float) -> str:
    return input_key({"file": sha256, "rate": sample_rate, "max_s": max_s, "min_s": min_s,
                      "resample": RESAMPLE_QUALITY, "version": DECODED_VERSION})


def load_audio_file(
    path: Path, sample_rate: int, max_s: float, min_s: float,
    store: ContentStore | None = None,
) -> tuple[np.ndarray, str] | Drop:
    """(float32 mono audio at `sample_rate`, sha256 of the file) or a Drop.
    The array is read-only because the cache shares it: copy before editing.
    With a `store`, decoded audio is also kept there by the file's content hash, so
    another process (a worker, a warm rebuild) reads it instead of decoding."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return Drop("missing_file", str(path))
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, sample_rate, max_s, min_s)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    stored = None
    if store is not None and stat.st_size <= MAX_STORED_FILE_BYTES:
        try:
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            sha = None
        if sha is not None:
            audio = store.get_array(_decoded_key(sha, sample_rate, max_s, min_s))
            stored = None if audio is None else (audio, sha)
    if stored is not None:
        stored[0].setflags(write=False)
        result: tuple[np.ndarray, str] | Drop = stored
    else:
        with timed("clip decoding"):
            decoded = decode_audio_file(path, max_s, min_s)
            audio = None if isinstance(decoded, Drop) else resample(
                decoded.audio, decoded.sample_rate, sample_rate)
        if isinstance(decoded, Drop):
            result = decoded
        else:
            assert audio is not None
            if store is not None and stat.st_size <= MAX_STORED_FILE_BYTES:
                store.put_array(_decoded_key(decoded.sha256, sample_rate, max_s, min_s),
                                audio)
            audio.setflags(write=False)
            result = (audio, decoded.sha256)
    _CACHE.put(key, result)
    return result


def load_clip(entry: ClipEntry, cfg: Config) -> LoadedClip | Drop:
    """A catalog clip as 16 kHz (cfg) mono float32 plus its content-addressed ref."""
    try:
        path = resolve_path(entry)
    except PackageMissing as exc:
        return Drop("missing_file", f"{entry.id}: {exc}")
    loaded = load_audio_file(
        path, cfg.audio.sample_rate, cfg.catalog.max_clip_s, cfg.catalog.min_clip_s,
        ContentStore(cfg.cache.directory, DECODED_NAMESPACE),
    )
    if isinstance(loaded, Drop):
        return Drop(loaded.reason, f"{entry.id}: {loaded.detail}")
    audio, sha = loaded
    ref = ClipRef(clip_id=entry.id, sha256=sha, source=entry.source, license=entry.license)
    return LoadedClip(entry=entry, audio=audio, ref=ref)
