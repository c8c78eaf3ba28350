"""Flow overhead and Dask scaling on one fixed build: the library's in-process
build against the Prefect flow on the same work (thread runner, one worker), and
a Dask LocalCluster of 1 against 2 worker processes (efficiency = speed-up / 2).

Every run is a fresh interpreter with an empty cache, so none reuses another's
models, TTS, ASR or generated clips; the catalog index is built before timing.
Times are measured inside the build (`last_run.wall_seconds`: model loading
and the Dask cluster included); the flow's ephemeral Prefect server start-up,
paid once per command, is printed beside them. `BENCH_FLOW_STREAMS` (default 200) and
`BENCH_FLOW_SUBTASKS` (comma-separated; default: the sound subtasks) change the
work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streamaudio.config import load_config
from streamaudio.pipeline import CorpusBuilder

SOUND_SUBTASKS = ("hazard_alert", "benign_silence", "multi_event_alert", "care_response",
                  "notify_on_sound", "count_events", "sound_event_qa", "scene_description",
                  "music_qa", "alarm_action", "doorbell_action", "agent_ignore")
STREAMS_PER_SHARD = 16  # coarse tasks (a shard each), several per worker
OVERHEAD_TARGET = 0.10
EFFICIENCY_TARGET = 0.8


def _work() -> tuple[list[str], int]:
    names = os.environ.get("BENCH_FLOW_SUBTASKS")
    subtasks = names.split(",") if names else list(SOUND_SUBTASKS)
    total = int(os.environ.get("BENCH_FLOW_STREAMS", "200"))
    return subtasks, max(1, total // len(subtasks))


def _overrides(cache: Path) -> list[str]:
    return [f"shards.streams_per_shard={STREAMS_PER_SHARD}", f"cache.directory={cache}"]


_RUN = """
import json, sys, time
from streamaudio.config import load_config
from streamaudio.corpus import build_corpus as build_in_process
from streamaudio.tasks.registry import get_subtask
from flows.build import build_corpus
kind, out, runner, workers, streams, subtasks, overrides = json.loads(sys.argv[1])
if kind == "library":
    build_in_process(out, [get_subtask(s) for s in subtasks], streams, 0,
                     load_config(overrides=overrides))
else:
    build_corpus(out=out, streams=streams, seed=0, runner=runner, workers=workers,
                 subtasks=subtasks, overrides=overrides)
"""


def _timed_run(root: Path, name: str, runner: str, workers: int, subtasks: list[str],
               per_subtask: int) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds inside the build) in a fresh
    interpreter, so no run reuses another's loaded models or caches."""
    out = root / name
    args = ["library" if runner == "library" else "flow", str(out), runner, workers,
            per_subtask, subtasks, _overrides(root / f"cache-{name}")]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _RUN, json.dumps(args)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    inside = json.loads((out / "manifest.json").read_text())["last_run"]["wall_seconds"]
    return wall, inside


def main() -> dict[str, float]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    subtasks, per_subtask = _work()
    CorpusBuilder(load_config()).retriever.index  # noqa: B018 -- build the index untimed
    runs = {"library": ("library", 1), "flow_thread_1": ("thread", 1),
            "dask_1": ("dask", 1), "dask_2": ("dask", 2)}
    wall: dict[str, float] = {}
    inside: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, (runner, workers) in runs.items():
            wall[name], inside[name] = _timed_run(Path(scratch), name, runner, workers,
                                                  subtasks, per_subtask)
    streams = per_subtask * len(subtasks)
    overhead = inside["flow_thread_1"] / inside["library"] - 1
    efficiency = inside["dask_1"] / inside["dask_2"] / 2
    for name in runs:
        print(f"{name:16s} {inside[name]:8.1f} s in the build, {wall[name]:6.1f} s with "
              f"start-up ({streams} streams)")
    start_up = (wall["flow_thread_1"] - inside["flow_thread_1"]) - (
        wall["library"] - inside["library"])
    print(f"{'flow overhead':16s} {overhead:8.1%}  target <= {OVERHEAD_TARGET:.0%}  "
          f"{'ok' if overhead <= OVERHEAD_TARGET else 'MISS'}  (the ephemeral server's "
          f"start-up adds {start_up:.0f} s once per command)")
    print(f"{'2-worker eff.':16s} {efficiency:8.2f}  target >= {EFFICIENCY_TARGET}  "
          f"{'ok' if efficiency >= EFFICIENCY_TARGET else 'MISS'}")
    return {"flow_overhead": overhead, "dask_2_worker_efficiency": efficiency,
            **{f"{name}_s": value for name, value in inside.items()}}


if __name__ == "__main__":
    main()
