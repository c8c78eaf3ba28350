"""`make bench`: speed as x real time per core (one thread) for the signal path,
real-time factors for TTS and ASR, and the speech round trip's pass rate over
the fixed sentence set, the flow's overhead and Dask scaling, and the build's
throughput cold and warm.
`BENCH_SENTENCES=40 make bench` shortens the round trip; `BENCH_FLOW_STREAMS=60` the
flow builds; `BENCH_BUILD_STREAMS` / `BENCH_BUILD_MEMORY_STREAMS` the throughput builds."""

from __future__ import annotations

import os

# one core: set before numpy/scipy load their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks import (  # noqa: E402
    bench_asr,
    bench_build,
    bench_compose,
    bench_flow,
    bench_grounding,
    bench_retrieval,
    bench_roundtrip,
    bench_tfjp,
    bench_train,
    bench_tts,
)

SPEED_TARGETS = {"tfjp": 1_000, "composition_plus_writing_x_rt": 1_500}


def _speed_table() -> None:
    with threadpool_limits(limits=1):
        results = {f"tfjp_{k}": v for k, v in bench_tfjp.main().items()}
        results |= bench_compose.main()
    print(f"\n{'figure (x real time per core)':40s} {'value':>10s}  target")
    for key, value in results.items():
        target = next((t for name, t in SPEED_TARGETS.items() if key.startswith(name)), None)
        mark = "" if target is None else f">= {target}  {'ok' if value >= target else 'MISS'}"
        print(f"{key:40s} {value:10.0f}  {mark}")


def main() -> None:
    _speed_table()
    print("\nRetrieval: FAISS top-3 latency on a 10,000-clip index, MiniLM throughput")
    bench_retrieval.main()
    print("\nPlan -> grounded plan per stream, offline (class vs embedding + verification)")
    bench_grounding.main()
    print("\nTTS real-time factor (lower is faster)")
    bench_tts.main()
    print("\nASR real-time factor, alone and beside a live Piper session")
    bench_asr.main()
    limit = int(os.environ["BENCH_SENTENCES"]) if "BENCH_SENTENCES" in os.environ else None
    print("\nSpeech round trip over catalogs/text/roundtrip_sentences.txt")
    summary = bench_roundtrip.main(limit=limit)
    print(f"kept {summary['kept_pct']:.1f} % (target >= 95 %), worst kept WER "
          f"{summary['max_wer_kept']:.3f} (must be <= 0.10)")
    print("\nPrefect flow against the library on the same build; Dask 1 -> 2 workers")
    bench_flow.main()
    print("\nBuild throughput: `streamaudio build` cold, then warm into a new directory, on "
          "every usable core; peak RSS small vs large")
    bench_build.main()
    print("\nTrainer: input pipeline vs the reference model's consumption (batch 8, 2 "
          "threads), training steps/s, evaluation x real time")
    bench_train.main()


if __name__ == "__main__":
    main()
