"""The task runners a flow can use: threads (default), processes, or Dask (a
LocalCluster of worker processes, or an existing cluster's address)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

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


def _temporary_api_url() -> str | None:
    """The temporary API server this flow run started (no PREFECT_API_URL set),
    else None: with a URL set, worker processes read it themselves."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    context = FlowRunContext.get()
    if PREFECT_API_URL.value() or context is None or context.client is None:
        return None
    return str(context.client.api_url)


@contextmanager
def workers_share_the_api() -> Iterator[None]:
    """Within: settings serialized for worker processes name this run's temporary API
    server. Otherwise each worker process, finding no PREFECT_API_URL, starts a
    server of its own on its first task: seconds to start, a quarter of a core or
    more while it runs, and the worker's task states never reach this run's API."""
    url = _temporary_api_url()
    if url is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


class _SharedApiSubmit:
    """For task runners whose workers are local processes: they report to this
    run's API server (workers_share_the_api)."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        with workers_share_the_api():  # the context (and env) for the workers go here
            return super().submit(*args, **kwargs)  # type: ignore[misc]


class LocalProcessTaskRunner(_SharedApiSubmit, ProcessPoolTaskRunner):
    pass


class LocalDaskTaskRunner(_SharedApiSubmit, DaskTaskRunner):
    pass


def make_task_runner(kind: str, workers: int = 2, address: str | None = None) -> TaskRunner:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if address and kind != "dask":
        raise ValueError("a cluster address needs the dask runner")
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        return LocalProcessTaskRunner(max_workers=workers)
    if kind == "dask":
        if address:  # an existing cluster keeps its own worker environment
            return DaskTaskRunner(address=address)
        # one single-threaded worker process per core: models load once per worker,
        # and BLAS / onnxruntime / CTranslate2 threads do not fight over the cores
        return LocalDaskTaskRunner(cluster_class=local_cluster, cluster_kwargs={
            "n_workers": workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r}; choose one of {', '.join(RUNNER_KINDS)}")
