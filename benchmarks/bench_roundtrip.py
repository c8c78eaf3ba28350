"""The TTS -> ASR round trip over the fixed English sentence set: how many
sentences are kept (WER <= speech.max_wer), how many on the planned voice,
why the rest are dropped, and what it costs.

Each sentence gets a voice plan as the corpus builder makes one: every enabled
English voice (Piper and the flite voices) in a seeded order, each at a speed
drawn from speech.speeds; the round trip tries the first speech.voice_attempts.
The audio goes through TFJP before ASR, as in the pipeline. Caches start empty.
Run: python benchmarks/bench_roundtrip.py [sentences.txt]
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.config import Config, load_config
from streamaudio.dsp.tfjp import run_tfjp
from streamaudio.speech.asr import WhisperAsr, first_pass_asr
from streamaudio.speech.rewrite import make_rewriter
from streamaudio.speech.roundtrip import SpeechStores, Utterance, speak
from streamaudio.speech.tts import TtsRegistry
from streamaudio.speech.types import Synthesis, Transcript, TtsBackend, VoiceSpec

SENTENCES = Path(__file__).resolve().parents[1] / "catalogs" / "text" / "roundtrip_sentences.txt"


class Timed:
    """Adds up seconds of compute and seconds of audio for one backend or ASR."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.compute_s, self.audio_s = inner, 0.0, 0.0
        self.name = getattr(inner, "name", "asr")
        self.beam_size = getattr(inner, "beam_size", None)

    def version(self) -> str:
        return self.inner.version()

    def hears(self, language: str) -> bool:
        hears = getattr(self.inner, "hears", None)
        return True if hears is None else bool(hears(language))

    def voices(self, language: str) -> list[str]:
        return self.inner.voices(language)

    def synthesize(self, text: str, voice: VoiceSpec) -> Synthesis:
        start = time.perf_counter()
        synthesis = self.inner.synthesize(text, voice)
        self.compute_s += time.perf_counter() - start
        self.audio_s += synthesis.audio.size / synthesis.sample_rate
        return synthesis

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str) -> Transcript:
        start = time.perf_counter()
        transcript = self.inner.transcribe(audio, sample_rate, language)
        self.compute_s += time.perf_counter() - start
        self.audio_s += audio.size / sample_rate
        return transcript

    @property
    def rtf(self) -> float:
        return self.compute_s / self.audio_s if self.audio_s else 0.0


def voice_plan(pairs: list[tuple[str, str]], speeds: list[float], index: int) -> list[VoiceSpec]:
    rng = random.Random(index)
    order = list(pairs)
    rng.shuffle(order)
    return [VoiceSpec(backend, voice, rng.choice(speeds)) for backend, voice in order]


def read_sentences(path: Path) -> list[str]:
    lines = (line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def summarise(
    results: list[Utterance | Any], evidence: list[dict[str, Any]], cfg: Config
) -> dict[str, Any]:
    kept = [r for r in results if isinstance(r, Utterance)]
    n = max(len(results), 1)
    per_voice: dict[str, list[bool]] = defaultdict(list)
    for entry in evidence:
        name = ":".join(entry["voice"].split(":")[:2])  # backend:voice, any speed
        per_voice[name].append(entry.get("wer", 1.0) <= cfg.speech.max_wer)
    return {
        "sentences": len(results),
        "kept_pct": 100 * len(kept) / n,
        "kept_first_attempt_pct": 100 * sum(r.attempts == 1 for r in kept) / n,
        "kept_after_rewrite": sum(r.rewritten_from is not None for r in kept),
        "max_wer_kept": max((r.wer for r in kept), default=0.0),
        "mean_wer_kept": float(np.mean([r.wer for r in kept])) if kept else 0.0,
        "mean_attempts_kept": float(np.mean([r.attempts for r in kept])) if kept else 0.0,
        "drops": dict(Counter(r.reason for r in results if not isinstance(r, Utterance))),
        "attempts": len(evidence),
        "attempt_pass_pct_by_voice": {
            k: round(100 * sum(v) / len(v), 1) for k, v in sorted(per_voice.items())
        },
    }


def main(
    sentences_path: Path = SENTENCES, cache_dir: Path | None = None, limit: int | None = None
) -> dict[str, Any]:
    sentences = read_sentences(sentences_path)[:limit]
    with tempfile.TemporaryDirectory(prefix="bench-roundtrip-") as tmp:
        cfg = load_config(overrides=[f"cache.directory={cache_dir or tmp}"])
        base = TtsRegistry(cfg)
        backends: dict[str, TtsBackend] = {name: Timed(base.backend(name)) for name in base.names}
        registry, asr = TtsRegistry(cfg, backends=backends), Timed(WhisperAsr(cfg))
        first = first_pass_asr(cfg)
        first_pass = None if first is None else Timed(first)
        for model in (asr, first_pass):
            if model is not None:
                model.inner.model()  # load (and join) outside the timings
        stores = SpeechStores.under(Path(cfg.cache.directory) / "roundtrip")
        pairs = registry.voices_for("en")
        rate, grid = cfg.audio.sample_rate, cfg.audio.grid_samples
        rewriter = make_rewriter(cfg)  # None offline: no rewrites

        def tfjp(audio: np.ndarray) -> np.ndarray:
            return run_tfjp(audio, rate, cfg.tfjp, grid).audio

        start, results, dropped, evidence = time.perf_counter(), [], [], []
        for index, text in enumerate(sentences):
            voices = voice_plan(pairs, cfg.speech.speeds, index)
            result = speak(text, "en", voices, registry, asr, stores, cfg, rewriter, tfjp, evidence,
                           first_pass=first_pass)
            results.append(result)
            if not isinstance(result, Utterance):
                dropped.append(f"{text} -> {result.detail}")
        wall = time.perf_counter() - start
    summary = summarise(results, evidence, cfg)
    summary |= {f"tts_rtf_{k}": round(b.rtf, 4) for k, b in backends.items()}  # type: ignore[attr-defined]
    if first_pass is not None and first_pass.audio_s:  # whisper-base heard only its misses
        summary |= {"asr_first_pass_rtf": round(first_pass.rtf, 4),
                    "whisper_base_heard_pct": round(100 * asr.audio_s / first_pass.audio_s, 1)}
    summary |= {"asr_rtf": round(asr.rtf, 4), "wall_s": round(wall, 1),
                "voices": [f"{b}:{v}" for b, v in pairs], "speeds": cfg.speech.speeds}  # fmt: skip
    print(json.dumps(summary, indent=2))
    for line in dropped:
        print("dropped:", line)
    return summary


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SENTENCES)
