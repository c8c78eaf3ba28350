"""Flow overhead and Dask scaling on one fixed build: the library's in-process
build against the Prefect flow on the same work (thread runner, one worker), and
a Dask LocalCluster of 1 against 2 worker processes (efficiency = speed-up / 2).

Every run starts with an empty cache, so none reuses another's TTS, ASR or
generated clips; the catalog index is built before timing. The Prefect API
(a temporary local server) is started once before timing, as a deployment's
server would already be running. `BENCH_FLOW_STREAMS` (default 200) and
`BENCH_FLOW_SUBTASKS` (comma-separated; default: the sound subtasks) change the
work."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from streamaudio.config import load_config
from streamaudio.corpus import build_corpus as build_in_process
from streamaudio.pipeline import CorpusBuilder
from streamaudio.tasks.registry import get_subtask

SOUND_SUBTASKS = ("hazard_alert", "benign_silence", "multi_event_alert", "care_response",
                  "notify_on_sound", "count_events", "sound_event_qa", "scene_description",
                  "music_qa", "alarm_action", "doorbell_action", "agent_ignore")
STREAMS_PER_SHARD = 5  # several tasks per worker, so two workers stay busy
OVERHEAD_TARGET = 0.10
EFFICIENCY_TARGET = 0.8


def _work() -> tuple[list[str], int]:
    names = os.environ.get("BENCH_FLOW_SUBTASKS")
    subtasks = names.split(",") if names else list(SOUND_SUBTASKS)
    total = int(os.environ.get("BENCH_FLOW_STREAMS", "200"))
    return subtasks, max(1, total // len(subtasks))


def _overrides(cache: Path) -> list[str]:
    return [f"shards.streams_per_shard={STREAMS_PER_SHARD}", f"cache.directory={cache}"]


def main() -> dict[str, float]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.testing.utilities import prefect_test_harness

    from flows.build import build_corpus

    subtasks, per_subtask = _work()
    CorpusBuilder(load_config()).retriever.index  # noqa: B018 -- build the index untimed
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch, prefect_test_harness(120):
        root = Path(scratch)

        def timed(name: str, run: object) -> None:
            start = time.perf_counter()
            run()  # type: ignore[operator]
            seconds[name] = time.perf_counter() - start

        timed("library", lambda: build_in_process(
            root / "library", [get_subtask(s) for s in subtasks], per_subtask, 0,
            load_config(overrides=_overrides(root / "cache-library"))))
        for name, runner, workers in (("flow_thread_1", "thread", 1), ("dask_1", "dask", 1),
                                      ("dask_2", "dask", 2)):
            timed(name, lambda name=name, runner=runner, workers=workers: build_corpus(
                out=str(root / name), streams=per_subtask, seed=0, runner=runner,
                workers=workers, subtasks=subtasks, overrides=_overrides(root / f"cache-{name}")))
    streams = per_subtask * len(subtasks)
    overhead = seconds["flow_thread_1"] / seconds["library"] - 1
    efficiency = seconds["dask_1"] / seconds["dask_2"] / 2
    for name, value in seconds.items():
        print(f"{name:16s} {value:8.1f} s  ({streams} streams)")
    print(f"{'flow overhead':16s} {overhead:8.1%}  target <= {OVERHEAD_TARGET:.0%}  "
          f"{'ok' if overhead <= OVERHEAD_TARGET else 'MISS'}")
    print(f"{'2-worker eff.':16s} {efficiency:8.2f}  target >= {EFFICIENCY_TARGET}  "
          f"{'ok' if efficiency >= EFFICIENCY_TARGET else 'MISS'}")
    return {"flow_overhead": overhead, "dask_2_worker_efficiency": efficiency, **seconds}


if __name__ == "__main__":
    main()
