"""Flow overhead and Dask scaling on one fixed build: the library's in-process
build against the Prefect flow on the same work (thread runner, one worker), and
a Dask LocalCluster of 1 against 2 worker processes (efficiency = speed-up / 2).

Every run is a fresh interpreter with an empty cache, so none reuses another's
models, TTS, ASR or generated clips; the catalog index is built before timing.
Times are measured inside the build (`last_run.wall_seconds`: model loading
and the Dask cluster included); the flow's ephemeral Prefect server start-up,
paid once per command, is printed beside them. `BENCH_FLOW_STREAMS` (default 200) and
`BENCH_FLOW_SUBTASKS` change the work: comma-separated subtasks (BENCH_FLOW_STREAMS
split evenly), `mixture` (the paper's mixture over every subtask this config can
build, speech included: BENCH_FLOW_STREAMS in total), or unset: the sound subtasks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from streamaudio.config import load_config
from streamaudio.corpus import reproducible_files
from streamaudio.pipeline import CorpusBuilder

SOUND_SUBTASKS = ("hazard_alert", "benign_silence", "multi_event_alert", "care_response",
                  "notify_on_sound", "count_events", "sound_event_qa", "scene_description",
                  "music_qa", "alarm_action", "doorbell_action", "agent_ignore")
STREAMS_PER_SHARD = 16  # coarse tasks (a shard each), several per worker
OVERHEAD_TARGET = 0.10
EFFICIENCY_TARGET = 0.8
MIXTURE = "mixture"  # BENCH_FLOW_SUBTASKS value: no subtask list, the paper's mixture


def _work() -> tuple[list[str], int]:
    """(subtasks, streams per subtask), or ([], streams in total) for the mixture."""
    names = os.environ.get("BENCH_FLOW_SUBTASKS")
    total = int(os.environ.get("BENCH_FLOW_STREAMS", "200"))
    if names == MIXTURE:
        return [], total
    subtasks = names.split(",") if names else list(SOUND_SUBTASKS)
    return subtasks, max(1, total // len(subtasks))


def _overrides(cache: Path) -> list[str]:
    return [f"shards.streams_per_shard={STREAMS_PER_SHARD}", f"cache.directory={cache}"]


# no subtasks: the mixture, chosen as `streamaudio build` and the flow choose it
_RUN = """
import json, sys, time
from streamaudio.config import load_config
from streamaudio.corpus import build_corpus as build_in_process, select_subtasks
from streamaudio.pipeline import CorpusBuilder
from flows.build import build_corpus
kind, out, runner, workers, streams, subtasks, overrides = json.loads(sys.argv[1])
if kind == "library":
    cfg = load_config(overrides=overrides)
    builder = CorpusBuilder(cfg)
    chosen = select_subtasks(cfg, builder, subtasks or None, streams)
    build_in_process(out, chosen.subtasks, chosen.counts, 0, cfg, builder=builder,
                     skipped=chosen.skipped)
else:
    build_corpus(out=out, streams=streams, seed=0, runner=runner, workers=workers,
                 subtasks=subtasks or None, overrides=overrides)
"""


class Run(NamedTuple):
    wall: float  # seconds of the whole command
    inside: float  # seconds inside the build (last_run.wall_seconds)
    streams: int
    digest: str  # of the corpus's bytes (corpus_digest)


def corpus_digest(root: Path) -> str:
    """sha256 over a corpus's reproducible files but config.yaml (it names this run's
    cache directory): equal for equal builds by any runner."""
    digest = hashlib.sha256()
    for name, data in reproducible_files(root, config=False).items():
        digest.update(name.encode() + b"\0" + data)
    return digest.hexdigest()


def _timed_run(root: Path, name: str, runner: str, workers: int, subtasks: list[str],
               per_subtask: int) -> Run:
    """One build in a fresh interpreter, so no run reuses another's loaded models
    or caches."""
    out = root / name
    args = ["library" if runner == "library" else "flow", str(out), runner, workers,
            per_subtask, subtasks, _overrides(root / f"cache-{name}")]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _RUN, json.dumps(args)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    run = json.loads((out / "manifest.json").read_text())["last_run"]
    return Run(wall, run["wall_seconds"], run["streams_built"], corpus_digest(out))


def main() -> dict[str, float]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    subtasks, per_subtask = _work()
    CorpusBuilder(load_config()).retriever.index  # noqa: B018 -- build the index untimed
    runs = {"library": ("library", 1), "flow_thread_1": ("thread", 1),
            "dask_1": ("dask", 1), "dask_2": ("dask", 2)}
    print(f"work: {per_subtask} streams of each of {', '.join(subtasks)}" if subtasks
          else f"work: the {MIXTURE} of {per_subtask} streams")
    with tempfile.TemporaryDirectory() as scratch:
        done = {name: _timed_run(Path(scratch), name, runner, workers, subtasks, per_subtask)
                for name, (runner, workers) in runs.items()}
    wall = {name: run.wall for name, run in done.items()}
    inside = {name: run.inside for name, run in done.items()}
    overhead = inside["flow_thread_1"] / inside["library"] - 1
    efficiency = inside["dask_1"] / inside["dask_2"] / 2
    for name, run in done.items():
        same = "same bytes" if run.digest == done["library"].digest else "OTHER BYTES"
        print(f"{name:16s} {run.inside:8.1f} s in the build, {run.wall:6.1f} s with "
              f"start-up, {run.inside / inside['library']:4.2f} x library  ({run.streams} "
              f"streams, {same})")
    start_up = (wall["flow_thread_1"] - inside["flow_thread_1"]) - (
        wall["library"] - inside["library"])
    print(f"{'flow overhead':16s} {overhead:8.1%}  target <= {OVERHEAD_TARGET:.0%}  "
          f"{'ok' if overhead <= OVERHEAD_TARGET else 'MISS'}  (the ephemeral server's "
          f"start-up adds {start_up:.0f} s once per command)")
    print(f"{'2-worker eff.':16s} {efficiency:8.2f}  target >= {EFFICIENCY_TARGET}  "
          f"{'ok' if efficiency >= EFFICIENCY_TARGET else 'MISS'}")
    return {"flow_overhead": overhead, "dask_2_worker_efficiency": efficiency,
            "same_bytes": float(len({run.digest for run in done.values()}) == 1),
            **{f"{name}_s": value for name, value in inside.items()}}


if __name__ == "__main__":
    main()
