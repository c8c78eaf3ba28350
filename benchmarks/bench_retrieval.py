"""Retrieval speed: FAISS top-3 latency per query over a 10,000-clip index
(random unit 384-d vectors, real MiniLM query vectors), MiniLM throughput on the
real captions, and the time to build the index of the real catalogs.

Figures: ~0.5 ms per query; MiniLM runs in numpy one text at a time (retrieve/minilm.py),
one thread, as the other benchmarks.
Run: python benchmarks/bench_retrieval.py
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from streamaudio.retrieve.catalog import load_catalogs  # noqa: E402
from streamaudio.retrieve.embed import MiniLmEmbedder, normalise  # noqa: E402
from streamaudio.retrieve.index import ClipIndex  # noqa: E402

CATALOGS = Path(__file__).resolve().parent.parent / "catalogs"
INDEX_SIZE = 10_000
QUERIES = (
    "glass shattering", "dog barking", "rain on a roof", "keyboard typing",
    "a door creaking open", "a phone ringing", "a cat meowing", "footsteps on gravel",
    "a crackling fire", "someone screaming", "an alarm clock beeping", "crowd applause",
    "crickets at night", "a running stream", "a baby crying", "a car horn honking",
)  # fmt: skip


def faiss_latency_ms(queries: np.ndarray, repeats: int = 20) -> float:
    """Median time of one single-query top-3 search over INDEX_SIZE vectors."""
    rng = np.random.default_rng(0)
    index = faiss.IndexFlatIP(queries.shape[1])
    index.add(normalise(rng.standard_normal((INDEX_SIZE, queries.shape[1]))))
    times = []
    for _ in range(repeats):
        for row in queries:
            start = time.perf_counter()
            index.search(row[None, :], 3)
            times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> dict[str, float]:
    faiss.omp_set_num_threads(1)
    embedder = MiniLmEmbedder()
    catalog = load_catalogs(CATALOGS)
    embedder.embed_texts(["warm up"])  # loads the model (~0.5 s), not measured
    captions = [entry.caption for entry in catalog]
    start = time.perf_counter()
    embedder.embed_texts(captions)
    per_s = len(captions) / (time.perf_counter() - start)
    start = time.perf_counter()
    ClipIndex.build(catalog, embedder)
    build_s = time.perf_counter() - start
    latency = faiss_latency_ms(embedder.embed_texts(list(QUERIES)))
    results = {
        "faiss_top3_ms_per_query_10k": latency,
        "minilm_captions_per_s": per_s,
        "index_build_s_real_catalog": build_s,
    }
    print(f"FAISS top-3 over {INDEX_SIZE:,} vectors: {latency:.3f} ms per query")
    print(f"MiniLM: {per_s:.0f} captions/s ({len(captions)} real captions, one thread)")
    print(f"index build, real catalog ({len(catalog)} clips, documents): {build_s:.2f} s")
    return results


if __name__ == "__main__":
    main()
