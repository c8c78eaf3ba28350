"""Build throughput, as a user meets it: `streamaudio build` in a fresh interpreter on
every core this process may use (the CLI's default), cold and then warm.

- **cold**: an empty cache directory (no index, no joined whisper model, no TTS, ASR,
  TFJP or decoded clip), models not loaded;
- **warm**: the same command into a new directory over the cache the cold run filled,
  as a nightly rebuild or a regenerated subtask meets it.

Both give × real time of the whole command (start-up and imports included) and of the
time inside the build (`last_run.wall_seconds`), check that the two corpora have the
same bytes, and print where the time went (`last_run.part_seconds`: CPU seconds summed
over the workers). Peak RSS (the largest process of the command: the CLI or a worker)
is printed for a small and a large warm build of the sound subtasks, where memory must
stay flat. `BENCH_BUILD_STREAMS` (default 96, the demo's mixture),
`BENCH_BUILD_MEMORY_STREAMS` (default 100,2000) change the work. A third cold build
hears every utterance alone (`speech.hear_in_packs=false`), for the packing's ratio
(`BENCH_BUILD_ALONE=0` leaves it out)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.bench_flow import SOUND_SUBTASKS, corpus_digest

COLD_TARGET = 20.0  # x real time on 2 cores (issue 13)
WARM_TARGET = 300.0
STAGES = ("plan", "render", "write")  # stage_seconds that the parts do not cover
PAPER_HOURS = 302_000  # StreamAudio-2M

# runs the CLI in this wrapper so that the largest process's peak RSS can be read
# after the workers have exited and been waited for
_RUN = """
import json, resource, sys
from streamaudio.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"peak_rss_kib": peak}), file=sys.stderr)
"""


class Build(NamedTuple):
    wall: float  # seconds of the whole command
    inside: float  # seconds inside the build (last_run.wall_seconds)
    audio: float  # seconds of audio built
    streams: int
    runner: str
    parts: dict[str, float]  # CPU seconds by part and by stage left over
    peak_rss_mib: float
    digest: str

    @property
    def x_real_time(self) -> float:
        return self.audio / self.wall

    @property
    def x_real_time_inside(self) -> float:
        return self.audio / self.inside


def _build(out: Path, cache: Path, streams: int, subtasks: list[str] | None = None,
           settings: tuple[str, ...] = ()) -> Build:
    """`streams` in total: split evenly over `subtasks` when they are named;
    `settings`: more --set overrides."""
    if subtasks:
        streams = max(1, streams // len(subtasks))

    args = ["build", "--out", str(out), "--streams", str(streams), "--seed", "0",
            "--set", f"cache.directory={cache}"]
    for setting in settings:
        args += ["--set", setting]
    for name in subtasks or ():
        args += ["--subtask", name]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _RUN, *args], capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"streamaudio {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peak = json.loads(done.stderr.strip().splitlines()[-1])["peak_rss_kib"]
    manifest = json.loads((out / "manifest.json").read_text())
    run: dict[str, Any] = manifest["last_run"]
    parts = dict(run.get("part_seconds", {}))
    parts |= {f"stage: {name}": run["stage_seconds"].get(name, 0.0) for name in STAGES}
    return Build(wall, run["wall_seconds"], manifest["totals"]["seconds"],
                 run["streams_built"], run["runner"], parts, peak / 1024, corpus_digest(out))


def _mark(value: float, target: float) -> str:
    return f">= {target:.0f}  {'ok' if value >= target else 'MISS'}"


def _part_table(cold: Build, warm: Build) -> None:
    names = sorted(set(cold.parts) | set(warm.parts), key=lambda n: -cold.parts.get(n, 0.0))
    total = sum(cold.parts.values()) or 1.0
    print(f"{'part (CPU s over workers)':28s} {'cold':>9s} {'share':>6s} {'warm':>9s}")
    for name in names:
        value = cold.parts.get(name, 0.0)
        print(f"{name:28s} {value:9.2f} {value / total:6.1%} {warm.parts.get(name, 0.0):9.2f}")
    print(f"{'start-up + imports (wall)':28s} {cold.wall - cold.inside:9.2f} {'':6s} "
          f"{warm.wall - warm.inside:9.2f}")


def _projection(cold: Build) -> None:
    """What the measured cold rate means at scale (2-core machines, as measured)."""
    per_day = cold.x_real_time * 24.0
    machine_days = PAPER_HOURS / per_day
    print(f"projection: {per_day:,.0f} h of corpus per 2-core machine-day cold; a "
          f"{PAPER_HOURS:,} h build (StreamAudio-2M) = {machine_days:,.0f} 2-core "
          f"machine-days, {machine_days / 100 / 4:,.1f} days on 100 Dask workers of 8 "
          "cores (if the rate scales with cores, as processes:2 against in-process shows)")


def main() -> dict[str, float]:
    streams = int(os.environ.get("BENCH_BUILD_STREAMS", "96"))
    memory = [int(n) for n in os.environ.get("BENCH_BUILD_MEMORY_STREAMS", "100,2000").split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        cold = _build(root / "cold", root / "cache", streams)
        warm = _build(root / "warm", root / "cache", streams)
        print(f"work: the mixture of {streams} streams, {cold.audio:,.0f} s of audio, "
              f"runner {cold.runner}")
        for name, run in (("cold", cold), ("warm", warm)):
            target = COLD_TARGET if name == "cold" else WARM_TARGET
            same = "same bytes" if run.digest == cold.digest else "OTHER BYTES"
            print(f"{name:5s} {run.x_real_time:7.1f} x real time (whole command, "
                  f"{_mark(run.x_real_time, target)}), {run.x_real_time_inside:7.1f} x inside "
                  f"the build; peak RSS {run.peak_rss_mib:,.0f} MiB; {same}")
        _part_table(cold, warm)
        _projection(cold)
        if os.environ.get("BENCH_BUILD_ALONE", "1") != "0":
            # the same cold build with every utterance heard alone (speech/packed.py)
            alone = _build(root / "alone", root / "cache-alone", streams,
                           settings=("speech.hear_in_packs=false",))
            print(f"cold, each utterance heard alone: {alone.x_real_time:.1f} x real time; "
                  f"heard in packs {cold.x_real_time / alone.x_real_time:.2f}x faster "
                  f"(ASR CPU s {alone.parts.get('asr', 0.0):.0f} -> "
                  f"{cold.parts.get('asr', 0.0):.0f})")
        sound = list(SOUND_SUBTASKS)
        sizes = {}
        # warm up with the largest build: a clip first met later would load the embedder
        _build(root / "sound-warmup", root / "cache-sound", max(memory), sound)
        for count in memory:
            run = _build(root / f"sound-{count}", root / "cache-sound", count, sound)
            sizes[count] = run
            print(f"memory: {run.streams:5d} sound streams (warm cache), peak RSS "
                  f"{run.peak_rss_mib:,.0f} MiB, {run.x_real_time:,.0f} x real time")
        small, large = sizes[memory[0]], sizes[memory[-1]]
        growth = large.peak_rss_mib / small.peak_rss_mib - 1
        print(f"memory growth {memory[0]} -> {memory[-1]} streams: {growth:+.1%} "
              f"(flat: within +25 %  {'ok' if growth <= 0.25 else 'MISS'})")
    return {"cold_x_real_time": cold.x_real_time, "warm_x_real_time": warm.x_real_time,
            "same_bytes": float(cold.digest == warm.digest), "memory_growth": growth}


if __name__ == "__main__":
    main()
