"""The benchmarks keep running (no speed is asserted here: that is `make bench`)."""

from pathlib import Path

from benchmarks import bench_compose, bench_roundtrip


def test_compose_benchmark_runs_on_a_few_streams() -> None:
    figures = bench_compose.main(streams=2, repeats=1)
    assert set(figures) == {"composition_x_rt", "shard_writing_x_rt",
                            "composition_plus_writing_x_rt"}
    assert all(value > 0 for value in figures.values())


def test_roundtrip_benchmark_runs_on_a_few_sentences(tmp_path: Path) -> None:
    summary = bench_roundtrip.main(cache_dir=tmp_path, limit=3)
    assert summary["sentences"] == 3
    assert summary["max_wer_kept"] <= 0.10
