"""The round-trip gate: speech is kept only when ASR hears back the text
(WER <= speech.max_wer; CER for Chinese). Failing that: the next voice, then an
easier sentence from the LLM rewriter, then a Drop with the evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streamaudio.cache import ContentStore, input_key
from streamaudio.config import Config
from streamaudio.dsp.resample import resample
from streamaudio.profile import timed
from streamaudio.speech.asr import audio_digest, transcribe_cached
from streamaudio.speech.normalize import normalize_text, word_error_rate
from streamaudio.speech.packed import PreHeard, transcribe_packed
from streamaudio.speech.types import (
    AsrModel,
    BackendError,
    SpeechUnavailable,
    Synthesis,
    Transcript,
    VoiceSpec,
)
from streamaudio.stage import Drop

_HYPOTHESIS_CHARS = 200  # evidence kept per attempt, enough to see what went wrong


class Rewriter(Protocol):
    def rewrite(self, text: str, language: str, heard: str | None = None) -> str | None: ...


@dataclass(frozen=True)
class SpeechStores:
    tts: ContentStore
    asr: ContentStore

    @classmethod
    def under(cls, root: Path) -> SpeechStores:
        return cls(ContentStore(root, "tts"), ContentStore(root, "asr"))

    @classmethod
    def from_config(cls, cfg: Config) -> SpeechStores:
        return cls.under(Path(cfg.cache.directory))


@dataclass(frozen=True)
class Utterance:
    text: str  # what was spoken (the rewrite, when there was one)
    voice: VoiceSpec
    audio: np.ndarray  # float32 at cfg.audio.sample_rate, after `process`
    transcript: Transcript  # word timings index `audio`
    wer: float
    attempts: int
    rewritten_from: str | None
    backend_version: str
    attempt_log: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def synthesize_cached(tts: Any, text: str, voice: VoiceSpec, store: ContentStore) -> Synthesis:
    """Use the registry's own cache when `tts` has one; else cache a plain
    TtsBackend's output here, keyed by text, voice and backend version."""
    if hasattr(tts, "synthesize_cached"):
        return tts.synthesize_cached(text, voice, store)
    version = tts.version()
    key = input_key({"kind": "tts", "text": text, "voice": voice.key(), "version": version})
    cached = store.get_json(key)
    if cached is not None:
        audio = store.get_array(cached["audio_key"])
        if audio is not None:
            return Synthesis(audio, cached["sample_rate"], voice, cached["backend_version"])
    synthesis = tts.synthesize(text, voice)
    audio_key = input_key({"kind": "tts-audio", "of": key})
    store.put_array(audio_key, np.asarray(synthesis.audio, dtype=np.float32))
    store.put_json(
        key,
        {
            "audio_key": audio_key,
            "sample_rate": synthesis.sample_rate,
            "backend_version": synthesis.backend_version,
        },
    )
    return synthesis


def at_rate(synthesis: Synthesis, rate: int) -> np.ndarray:
    audio = np.asarray(synthesis.audio, dtype=np.float32).reshape(-1)
    return resample(audio, synthesis.sample_rate, rate)


def speak(
    text: str,
    language: str,
    voices: list[VoiceSpec],
    tts: Any,
    asr: AsrModel,
    stores: SpeechStores,
    cfg: Config,
    rewriter: Rewriter | None = None,
    process: Callable[[np.ndarray], np.ndarray] | None = None,
    evidence: list[dict[str, Any]] | None = None,
    first_pass: AsrModel | None = None,
    heard: PreHeard | None = None,
) -> Utterance | Drop:
    """Speak `text` with the first voice whose round trip passes. `voices` is in
    plan order (planned voice first); `tts` is a TtsBackend or a registry with
    `synthesize_cached`. BackendError fails one attempt; SpeechUnavailable is a
    configuration problem and propagates. `evidence`, if given, receives every
    attempt's log entry, also when the result is a Drop. `first_pass` (a smaller
    model, for the languages it `hears`) hears each attempt before `asr`, which then
    runs only when the first pass's WER is above the threshold. `heard`: transcripts
    heard in packs beforehand (hear_ahead), used in place of hearing alone."""
    if not voices:
        raise SpeechUnavailable(f"no voice given for language {language!r}")
    log: list[dict[str, Any]] = []
    try:
        models = hearing_models(asr, first_pass, language)
        return _speak(text, language, voices, tts, models, stores, cfg, rewriter, process, log,
                      heard)
    finally:
        if evidence is not None:
            evidence.extend(log)


def _hears(model: AsrModel, language: str) -> bool:
    hears = getattr(model, "hears", None)
    return True if hears is None else bool(hears(language))


def hearing_models(asr: AsrModel, first_pass: AsrModel | None, language: str
                   ) -> list[AsrModel]:
    """The models that hear `language`, in order: the first pass (if it hears it), then `asr`."""
    return [asr] if first_pass is None or not _hears(first_pass, language) else [
        first_pass, asr]


def hear(text: str, audio: np.ndarray, rate: int, language: str, models: list[AsrModel],
         store: ContentStore, max_wer: float, entry: dict[str, Any],
         heard: PreHeard | None = None) -> tuple[Transcript, float]:
    """The first model's transcript within `max_wer`, else the last model's. A first
    pass that missed leaves its WER in `entry`; with several models, `entry["asr"]`
    names the one that was kept. A transcript in `heard` (hear_ahead) stands for
    hearing alone; `entry["asr_window"]` is the number of utterances in the whisper
    window of the kept one (1: heard alone)."""
    digest = audio_digest(audio, rate) if heard else ""
    for index, model in enumerate(models):
        last = index == len(models) - 1
        ahead = heard.get(model, digest) if heard else None
        if ahead is None:
            with timed("asr"):
                transcript, window = transcribe_cached(model, audio, rate, language, store), 1
        else:
            transcript, window = ahead
        wer = word_error_rate(text, transcript.text, language)
        if wer <= max_wer or last:
            entry["asr_window"] = window
            if len(models) > 1:
                entry["asr"] = model.version()
            return transcript, wer
        entry["first_pass_wer"] = round(wer, 4)
    raise ValueError("no ASR model given")


def hear_ahead(items: list[tuple[str, np.ndarray]], rate: int, language: str,
               models: list[AsrModel], store: ContentStore, max_wer: float,
               heard: PreHeard) -> list[bool]:
    """Hear `(text, audio)` items in packs into `heard`, as `hear` would one by one:
    every item by the first model, its misses by the next. Whether each was kept."""
    digests = [audio_digest(a, rate) for _, a in items]
    pending = list(dict(zip(digests, items, strict=True)).items())  # each audio once
    kept: set[str] = set()
    for model in models:
        if not pending:
            break
        with timed("asr"):
            transcripts = transcribe_packed(model, [a for _, (_, a) in pending], rate,
                                            language, store)
        missed = []
        for (digest, (text, audio)), (transcript, window) in zip(pending, transcripts,
                                                                 strict=True):
            heard.put(model, digest, transcript, window)
            if word_error_rate(text, transcript.text, language) <= max_wer:
                kept.add(digest)
            else:
                missed.append((digest, (text, audio)))
        pending = missed
    return [digest in kept for digest in digests]


def _speak(
    text: str,
    language: str,
    voices: list[VoiceSpec],
    tts: Any,
    models: list[AsrModel],
    stores: SpeechStores,
    cfg: Config,
    rewriter: Rewriter | None,
    process: Callable[[np.ndarray], np.ndarray] | None,
    log: list[dict[str, Any]],
    heard: PreHeard | None = None,
) -> Utterance | Drop:
    rate, tried = cfg.audio.sample_rate, cfg.speech.voice_attempts
    best: dict[str, Any] | None = None
    current, seen = text, {normalize_text(text, language)}
    for round_ in range(cfg.speech.rewrite_attempts + 1):
        for voice in voices[:tried]:
            entry: dict[str, Any] = {"text": current, "voice": voice.key()}
            log.append(entry)
            try:
                with timed("tts"):
                    synthesis = synthesize_cached(tts, current, voice, stores.tts)
            except BackendError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"[:_HYPOTHESIS_CHARS]
                continue
            audio = at_rate(synthesis, rate)
            if process is not None:
                audio = np.asarray(process(audio), dtype=np.float32)
            transcript, wer = hear(current, audio, rate, language, models, stores.asr,
                                   cfg.speech.max_wer, entry, heard)
            entry |= {"wer": round(wer, 4), "hypothesis": transcript.text[:_HYPOTHESIS_CHARS]}
            if best is None or wer < best["wer"]:
                best = entry
            if wer <= cfg.speech.max_wer:
                return Utterance(
                    text=current,
                    voice=voice,
                    audio=audio,
                    transcript=transcript,
                    wer=wer,
                    attempts=len(log),
                    rewritten_from=None if round_ == 0 else text,
                    backend_version=synthesis.backend_version,
                    attempt_log=tuple(log),
                )
        if rewriter is None or round_ == cfg.speech.rewrite_attempts:
            break
        # rewrite the latest failing sentence: each round then asks a new
        # question (a cached answer to the same prompt would repeat itself)
        misheard = next(
            (e["hypothesis"] for e in reversed(log) if e["text"] == current and "hypothesis" in e),
            None,
        )
        easier = rewriter.rewrite(current, language, misheard)
        if easier is None or normalize_text(easier, language) in seen:
            break
        current = easier
        seen.add(normalize_text(easier, language))
    if best is None:
        return Drop(
            "tts_backend_failed",
            f"{len(log)} attempts, all failed; last: {log[-1].get('error', '')}",
        )
    return Drop(
        "asr_roundtrip_failed",
        f"best WER {best['wer']:.3f} over {len(log)} attempts ({best['voice']}): "
        f"said {best['text']!r}, heard {best['hypothesis']!r}",
    )
