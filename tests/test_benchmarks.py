"""The benchmarks keep running (no speed is asserted here: that is `make bench`)."""

from benchmarks import bench_compose


def test_compose_benchmark_runs_on_a_few_streams() -> None:
    figures = bench_compose.main(streams=2, repeats=1)
    assert set(figures) == {"composition_x_rt", "shard_writing_x_rt",
                            "composition_plus_writing_x_rt"}
    assert all(value > 0 for value in figures.values())
