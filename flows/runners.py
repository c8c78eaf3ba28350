"""The task runners a flow can use: threads (default), processes, or Dask (a
LocalCluster of worker processes, or an existing cluster's address)."""

from __future__ import annotations

from typing import Literal

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

RunnerKind = Literal["thread", "process", "dask"]
RUNNER_KINDS: tuple[str, ...] = ("thread", "process", "dask")


def make_task_runner(kind: str, workers: int = 2, address: str | None = None) -> TaskRunner:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if address and kind != "dask":
        raise ValueError("a cluster address needs the dask runner")
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        # one single-threaded worker process per core: models load once per worker,
        # and BLAS / onnxruntime / CTranslate2 threads do not fight over the cores
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
            "n_workers": workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r}; choose one of {', '.join(RUNNER_KINDS)}")
