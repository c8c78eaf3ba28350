"""TFJP speed, in x real time on one core, for 1 s, 5 s and 20 s clips.

Target: >= 1,000x real time per core (a 5 s clip in < 5 ms).
Run: python benchmarks/bench_tfjp.py
"""

from __future__ import annotations

import os

# One core: BLAS/OpenMP pools pinned before numpy loads (threadpoolctl below
# covers the case where numpy was already imported by the caller).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from streamaudio.config import AudioConfig, TfjpConfig  # noqa: E402
from streamaudio.dsp.tfjp import run_tfjp  # noqa: E402

SAMPLE_RATE = 16_000
DURATIONS_S = (1, 5, 20)
REPEATS = 30


def synthetic_clip(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tone bursts with Hann envelopes over -50 dBFS white noise,
    with leading/trailing and inner silences, as a catalog clip looks."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    audio = 10 ** (-50 / 20) * rng.standard_normal(n)
    burst_n = max(int(0.25 * n), 1600)
    t = np.arange(burst_n) / SAMPLE_RATE
    for onset in rng.integers(int(0.1 * n), max(int(0.1 * n) + 1, n - burst_n), size=2):
        f0 = rng.uniform(200, 1200)
        tone = sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 5))
        stop = min(n, onset + burst_n)
        audio[onset:stop] += (tone * np.hanning(burst_n))[: stop - onset]
    return audio.astype(np.float32)


def seconds_per_call(audio: np.ndarray, cfg: TfjpConfig, grid: int) -> float:
    run_tfjp(audio, SAMPLE_RATE, cfg, grid)  # warm caches (STFT plan, FFT twiddles)
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run_tfjp(audio, SAMPLE_RATE, cfg, grid)
        times.append(time.perf_counter() - start)
    return float(np.median(times))  # median: robust to other work on a shared machine


def main() -> dict[str, float]:
    cfg, grid = TfjpConfig(), AudioConfig().grid_samples
    results: dict[str, float] = {}
    with threadpool_limits(limits=1):
        for seconds in DURATIONS_S:
            elapsed = seconds_per_call(synthetic_clip(seconds), cfg, grid)
            results[f"{seconds}s"] = seconds / elapsed
            speed = seconds / elapsed
            print(f"{seconds:>3d} s clip: {elapsed * 1e3:7.3f} ms  {speed:8.0f}x real time")
    return results


if __name__ == "__main__":
    main()
