"""TTS real-time factor per offline backend: synthesis seconds / audio seconds
(lower is better), one thread, resampling to 16 kHz included, model loading not.

Run: python benchmarks/bench_tts.py
"""

from __future__ import annotations

import os

# One core: BLAS/OpenMP pools pinned before numpy loads; onnxruntime is capped
# through speech.tts_threads=1.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from streamaudio.config import load_config  # noqa: E402
from streamaudio.speech.tts import TtsRegistry  # noqa: E402
from streamaudio.speech.types import SpeechUnavailable, VoiceSpec  # noqa: E402

SENTENCES = (
    "Hello.",
    "The kettle is boiling.",
    "Someone is knocking at the front door.",
    "Could you turn the music down a little, please?",
    "I just heard glass breaking in the kitchen. Is everyone all right?",
    "The dog has been barking for ten minutes now.",
    "Rain is falling steadily on the roof.",
    "Your phone is ringing in the other room.",
    "What time does the train to Cambridge leave tomorrow morning?",
    "The smoke alarm went off, but it was only the toast.",
    "Please remind me to water the plants on Saturday.",
    "That sounded like a car horn outside the window.",
    "The baby is crying upstairs; maybe she is hungry.",
    "Thunder rolled in the distance as the storm moved closer to the village.",
    "Footsteps are coming down the wooden stairs.",
    "Yes.",
    "I can hear birds singing and a light wind in the trees.",
    "The washing machine has finished its cycle, so the clothes are ready to hang.",
    "Watch out, a bicycle is coming up behind you on the left.",
    "We should leave soon if we want to catch the last bus home tonight.",
)
SPEEDS = (0.9, 1.0, 1.1)


def rtf(registry: TtsRegistry, backend: str, sentences: tuple[str, ...]) -> float:
    """Aggregate synthesis seconds / audio seconds over the sentences."""
    voices = [v for name, v in registry.voices_for("en") if name == backend]
    registry.backend(backend).synthesize("Warm up.", VoiceSpec(backend, voices[0]))  # loads
    spent = audio_s = 0.0
    for i, text in enumerate(sentences):
        voice = VoiceSpec(backend, voices[i % len(voices)], speed=SPEEDS[i % len(SPEEDS)])
        start = time.perf_counter()
        result = registry.backend(backend).synthesize(text, voice)
        spent += time.perf_counter() - start
        audio_s += result.audio.size / result.sample_rate
    return spent / audio_s


def main(sentences: int = len(SENTENCES)) -> dict[str, float]:
    cfg = load_config(overrides=["speech.tts_threads=1", "speech.backends=[piper, flite]"])
    registry = TtsRegistry(cfg)
    chosen = SENTENCES[:sentences]
    results: dict[str, float] = {}
    with threadpool_limits(limits=1):
        for backend in registry.names:
            try:
                results[f"{backend}_rtf"] = rtf(registry, backend, chosen)
            except SpeechUnavailable as exc:  # e.g. flite not installed here
                print(f"{backend}: skipped ({exc})")
    print(
        f"{'backend':10s} {'RTF':>7s}  (synthesis s / audio s, 1 thread, {len(chosen)} sentences)"
    )
    for key, value in results.items():
        print(f"{key.removesuffix('_rtf'):10s} {value:7.3f}")
    return results


if __name__ == "__main__":
    main()
