"""The benchmarks keep running (no speed is asserted here: that is `make bench`)."""

import json
from pathlib import Path

from benchmarks import bench_compose, bench_flow, bench_roundtrip


def test_compose_benchmark_runs_on_a_few_streams() -> None:
    figures = bench_compose.main(streams=2, repeats=1)
    assert set(figures) == {"composition_x_rt", "shard_writing_x_rt",
                            "composition_plus_writing_x_rt"}
    assert all(value > 0 for value in figures.values())


def test_roundtrip_benchmark_runs_on_a_few_sentences(tmp_path: Path) -> None:
    summary = bench_roundtrip.main(cache_dir=tmp_path, limit=3)
    assert summary["sentences"] == 3
    assert summary["max_wer_kept"] <= 0.10


def test_flow_benchmark_digest_ignores_only_the_run_report_and_config(tmp_path: Path) -> None:
    def corpus(name: str, cache: str, wall: float, shard: bytes) -> Path:
        root = tmp_path / name
        (root / "sound" / "hazard_alert").mkdir(parents=True)
        (root / "sound" / "hazard_alert" / "shard-00000.parquet").write_bytes(shard)
        (root / "config.yaml").write_text(f"cache:\n  directory: {cache}\n")
        (root / "manifest.json").write_text(json.dumps(
            {"streams": 3, "last_run": {"runner": name, "wall_seconds": wall}}))
        return root

    library = bench_flow.corpus_digest(corpus("library", "/tmp/a", 1.0, b"rows"))
    assert bench_flow.corpus_digest(corpus("dask", "/tmp/b", 2.0, b"rows")) == library
    assert bench_flow.corpus_digest(corpus("other", "/tmp/c", 1.0, b"ROWS")) != library
