"""`make bench`: speed figures as x real time per core (one thread)."""

from __future__ import annotations

import os

# one core: set before numpy/scipy load their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks import bench_compose, bench_tfjp  # noqa: E402

TARGETS = {"tfjp": 1_000, "composition_plus_writing_x_rt": 1_500}


def main() -> None:
    with threadpool_limits(limits=1):
        results = {f"tfjp_{k}": v for k, v in bench_tfjp.main().items()}
        results |= bench_compose.main()
    print(f"{'figure (x real time per core)':40s} {'value':>10s}  target")
    for key, value in results.items():
        target = next((t for name, t in TARGETS.items() if key.startswith(name)
                       or key == name), None)
        mark = "" if target is None else f">= {target}  {'ok' if value >= target else 'MISS'}"
        print(f"{key:40s} {value:10.0f}  {mark}")


if __name__ == "__main__":
    main()
