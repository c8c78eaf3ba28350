"""whisper-base (faster-whisper, int8) real-time factor, alone and beside a live
Piper onnxruntime session synthesising in another thread of the same process.

RTF = seconds of compute per second of audio (lower is faster). Three settings:
  alone        ASR on 1 thread (and at its default thread count), nothing else running
  contended    both at library defaults (ctranslate2 and onnxruntime pick their
               own thread counts) while Piper synthesises in a loop
  capped       both capped to 1 thread (speech.asr_threads / speech.tts_threads)
Run: python benchmarks/bench_asr.py
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from streamaudio.config import Config, load_config
from streamaudio.speech.asr import WhisperAsr
from streamaudio.speech.piper_tts import VOICE_ID, PiperBackend
from streamaudio.speech.types import VoiceSpec

TEXT = (
    "The kettle is boiling in the kitchen, so please turn it off before it whistles. "
    "Tomorrow morning the train to the city leaves at half past seven, and we should not "
    "be late again."
)
REPEATS = 2


def _config(cache: Path, threads: int) -> Config:
    return load_config(overrides=[
        f"cache.directory={cache}", f"speech.asr_threads={threads}",
        f"speech.tts_threads={threads}",
    ])  # fmt: skip


def asr_rtf(asr: WhisperAsr, audio: np.ndarray, rate: int) -> float:
    """Best of REPEATS: the least disturbed run on a shared machine."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        asr.transcribe(audio, rate, "en")
        times.append(time.perf_counter() - start)
    return min(times) / (audio.size / rate)


def rtf_beside_piper(cfg: Config, audio: np.ndarray, rate: int) -> tuple[float, float]:
    """(ASR RTF, Piper RTF) while Piper synthesises in a loop in another thread."""
    piper, asr = PiperBackend(cfg), WhisperAsr(cfg)
    voice = VoiceSpec("piper", VOICE_ID)
    asr.model(), piper.synthesize("Warm up.", voice)  # load both before timing
    stop, spoken = threading.Event(), [0.0, 0.0]  # seconds of audio, seconds of compute

    def speak_in_a_loop() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            synthesis = piper.synthesize(TEXT, voice)
            spoken[0] += synthesis.audio.size / synthesis.sample_rate
            spoken[1] += time.perf_counter() - start

    worker = threading.Thread(target=speak_in_a_loop, daemon=True)
    worker.start()
    try:
        time.sleep(0.5)  # Piper is mid-synthesis when ASR starts
        rtf = asr_rtf(asr, audio, rate)
    finally:
        stop.set()
        worker.join()
    return rtf, spoken[1] / max(spoken[0], 1e-9)


def main(cache_dir: Path | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        cache = Path(cache_dir or tmp)
        capped = _config(cache, 1)
        speech = PiperBackend(capped).synthesize(TEXT, VoiceSpec("piper", VOICE_ID))
        audio, rate = speech.audio, speech.sample_rate
        alone = WhisperAsr(capped)
        alone.model()
        results = {
            "audio_s": audio.size / rate,
            "asr_rtf_alone_1_thread": asr_rtf(alone, audio, rate),
            "asr_rtf_alone_default_threads": asr_rtf(WhisperAsr(_config(cache, 0)), audio, rate),
        }
        for name, cfg in (
            ("contended_default_threads", _config(cache, 0)),
            ("capped_1_thread", capped),
        ):
            asr, tts = rtf_beside_piper(cfg, audio, rate)
            results[f"asr_rtf_{name}"], results[f"piper_rtf_{name}"] = asr, tts
    for key, value in results.items():
        print(f"{key:40s} {value:8.3f}")
    return results


if __name__ == "__main__":
    main()
