"""The task runners a flow can use: threads (default), processes, or Dask (a
LocalCluster of worker processes, or an existing cluster's address)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

if TYPE_CHECKING:
    from distributed import LocalCluster

RunnerKind = Literal["thread", "process", "dask"]
RUNNER_KINDS: tuple[str, ...] = ("thread", "process", "dask")

# Environment Dask's nanny exports before it spawns each local worker
# (`distributed.nanny.pre-spawn-environ`; None drops a default). Dask sets
# MALLOC_TRIM_THRESHOLD_=65536 to hand freed memory back to the OS at once; any value
# also turns off glibc's dynamic mmap threshold, so every audio buffer over 128 KiB is
# mapped, page-faulted and unmapped again: array temporaries run ~8x slower and a
# 1-worker build took 1.8x the library's time. Our workers hold models, not Dask data,
# so they keep glibc's default, like the thread and process runners. Dask's
# OMP/MKL/OPENBLAS_NUM_THREADS=1 stay: the build is single-threaded by design (ASR,
# TTS and torch are capped at one thread), and a second BLAS/OpenMP thread bought the
# in-process build nothing on 2 cores.
LOCAL_WORKER_ENVIRON: dict[str, str | None] = {"MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(**cluster_kwargs: Any) -> LocalCluster:
    """A distributed.LocalCluster whose worker processes start with
    LOCAL_WORKER_ENVIRON over Dask's defaults (a variable already set in this
    process's environment still wins, as it does in Dask)."""
    import dask
    from distributed import LocalCluster

    environ = {f"distributed.nanny.pre-spawn-environ.{name}": value
               for name, value in LOCAL_WORKER_ENVIRON.items()}
    with dask.config.set(environ):  # nannies read it when the cluster starts them, here
        return LocalCluster(**cluster_kwargs)


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

        if address:  # an existing cluster keeps its own worker environment
            return DaskTaskRunner(address=address)
        # one single-threaded worker process per core: models load once per worker,
        # and BLAS / onnxruntime / CTranslate2 threads do not fight over the cores
        return DaskTaskRunner(cluster_class=local_cluster, cluster_kwargs={
            "n_workers": workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r}; choose one of {', '.join(RUNNER_KINDS)}")
