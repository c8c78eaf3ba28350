"""Plan -> grounded plan per stream, offline, on the real catalogs: by class and
by embedding retrieval with top-3 verification (models and caches warm)."""

from __future__ import annotations

import time
from collections import Counter

from streamaudio.config import load_config
from streamaudio.pipeline import CorpusBuilder
from streamaudio.schema import GroundedPlan, ScenePlan
from streamaudio.tasks.registry import get_subtask

SUBTASKS = ("hazard_alert", "benign_silence", "sound_event_qa")


def _run(mode: str, streams: int) -> dict[str, float]:
    builder = CorpusBuilder(load_config(overrides=[f"retrieval.mode={mode}"]))
    builder.setup()
    subtasks = [get_subtask(name) for name in SUBTASKS]
    for subtask in subtasks:  # warm: model load, index, first clip decodes
        for index in range(4):
            scene = builder.plan(subtask, index, 99, 0)
            if isinstance(scene, ScenePlan):
                builder.ground(scene)
    grounded, seconds, counts = 0, 0.0, Counter()
    start = time.perf_counter()
    for index in range(streams):
        subtask = subtasks[index % len(subtasks)]
        scene = builder.plan(subtask, index, 7, 0)
        if not isinstance(scene, ScenePlan):
            continue
        plan = builder.ground(scene, counts)
        if isinstance(plan, GroundedPlan):
            grounded += 1
            seconds += plan.num_samples / plan.sample_rate
    wall = time.perf_counter() - start
    return {f"{mode}_ms_per_stream": 1000 * wall / streams,
            f"{mode}_x_real_time": seconds / wall,
            f"{mode}_grounded_share": grounded / streams}


def main(streams: int = 60) -> dict[str, float]:
    results = _run("class", streams) | _run("embedding", streams)
    for key, value in results.items():
        print(f"{key:36s} {value:10.2f}")
    return results


if __name__ == "__main__":
    main()
