"""One CorpusBuilder per worker thread and config: catalogs, clip cache, TTS,
ASR and embedding models load on a worker's first shard, not on every task."""

from __future__ import annotations

import threading
from typing import Any

from streamaudio.config import Config
from streamaudio.pipeline import CorpusBuilder

_local = threading.local()


def worker_builder(config: dict[str, Any]) -> CorpusBuilder:
    """The calling thread's builder for this config (built and set up once)."""
    cfg = Config.model_validate(config)
    builders: dict[str, CorpusBuilder] = getattr(_local, "builders", None) or {}
    _local.builders = builders
    key = f"{cfg.hash()}:{cfg.cache.directory}:{cfg.catalog.directory}"
    if key not in builders:
        builder = CorpusBuilder(cfg)
        builder.setup()
        builders[key] = builder
    return builders[key]
