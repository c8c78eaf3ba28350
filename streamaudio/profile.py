"""Where a build's time goes, finer than its stages: `with timed("tts"):` adds the
block's wall time to this thread's totals, less the time of blocks nested in it
(so model loading inside the first TTS call counts once, as model loading). The
shard builder reports the difference over each shard (ShardOutcome.seconds, as
"ground.tts" and so on); timings never enter a shard, so shards stay the same."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

PARTS = ("model loading", "clip decoding", "embedding", "retrieval", "tfjp",
         "verification", "generation", "tts", "asr")

_local = threading.local()


def _state() -> tuple[Counter[str], list[float]]:
    if not hasattr(_local, "totals"):
        _local.totals = Counter()
        _local.nested = []  # per open block: seconds spent in blocks nested in it
    return _local.totals, _local.nested


@contextlib.contextmanager
def timed(part: str) -> Iterator[None]:
    totals, nested = _state()
    nested.append(0.0)
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        inner = nested.pop()
        totals[part] += elapsed - inner
        if nested:
            nested[-1] += elapsed


def snapshot() -> Counter[str]:
    """This thread's totals so far (subtract two snapshots for a span of work)."""
    return Counter(_state()[0])
