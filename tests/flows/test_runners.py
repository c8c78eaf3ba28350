"""The task runners: argument checks; the Dask LocalCluster's worker environment
(no forced malloc trimming, one BLAS/OpenMP thread); local worker processes report
to the flow's own temporary API server."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.runners import local_cluster, make_task_runner

REPO = Path(__file__).resolve().parents[2]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
BUFFER_SAMPLES = 48_000 * 24  # one 24 s stream at 48 kHz, float32: 4.6 MB
ROUNDS = 100


def test_bad_arguments_fail_before_any_work() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_task_runner("thread", workers=0)
    with pytest.raises(ValueError, match="needs the dask runner"):
        make_task_runner("thread", address="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="unknown task runner"):
        make_task_runner("ray")


def test_each_kind_gives_its_runner() -> None:
    assert isinstance(make_task_runner("thread", 3), ThreadPoolTaskRunner)
    assert isinstance(make_task_runner("process", 2), ProcessPoolTaskRunner)
    local = make_task_runner("dask", 2)
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_class is local_cluster
    assert local.cluster_kwargs == {"n_workers": 2, "threads_per_worker": 1,
                                    "processes": True, "dashboard_address": None}
    remote = make_task_runner("dask", 2, "tcp://127.0.0.1:8786")
    assert remote.address == "tcp://127.0.0.1:8786" and remote.cluster_class is None


def _worker_report() -> dict:
    """In a worker: its environment, and the page faults of ROUNDS passes over a
    stream-sized buffer (two 4.6 MB temporaries each)."""
    import numpy as np

    audio = np.ones(BUFFER_SAMPLES, dtype=np.float32)
    mixed = audio * 0.5 + 0.25  # the first pass may grow the heap
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(ROUNDS):
        mixed = audio * 0.5 + 0.25
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return {"environ": {name: os.environ.get(name)
                        for name in ("MALLOC_TRIM_THRESHOLD_", *THREAD_VARIABLES)},
            "faults_per_round": faults / ROUNDS, "checksum": float(mixed[0])}


def test_local_workers_keep_glibc_default_malloc(monkeypatch: pytest.MonkeyPatch) -> None:
    # as in a fresh shell (another test's cluster may have exported Dask's defaults here)
    for name in ("MALLOC_TRIM_THRESHOLD_", *THREAD_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    with local_cluster(n_workers=1, threads_per_worker=1, processes=True,
                       dashboard_address=None) as cluster, Client(cluster) as client:
        (report,) = client.run(_worker_report).values()
    assert report["environ"] == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1",
                                 "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    # Dask's MALLOC_TRIM_THRESHOLD_=65536 maps and faults in every temporary afresh
    # (~1,200 faults a round here); glibc's default reuses freed heap (~15)
    assert report["faults_per_round"] < 200, report
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ  # nothing leaked into this process


WORKER_API_FLOW = """
import json, os, sys
import psutil
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from flows.runners import make_task_runner


@task(cache_policy=NO_CACHE)
def worker_api() -> dict:
    from prefect.settings import PREFECT_API_URL
    return {"api": PREFECT_API_URL.value(), "pid": os.getpid(),
            "children": [" ".join(c.cmdline()) for c in psutil.Process().children()]}


@flow
def report(kind: str) -> dict:
    from prefect.context import FlowRunContext
    with make_task_runner(kind, 1) as runner:
        seen = runner.submit(worker_api, {}).result()
    return {"flow_api": str(FlowRunContext.get().client.api_url), "flow_pid": os.getpid(),
            **seen}


if __name__ == "__main__":
    print(json.dumps({kind: report(kind) for kind in sys.argv[1:]}))
"""


def test_local_workers_report_to_the_flows_temporary_server(tmp_path: Path) -> None:
    """Without PREFECT_API_URL a flow starts a temporary API server; its worker
    processes must use it, not each start one (seconds, and a busy core)."""
    script = tmp_path / "worker_api_flow.py"
    script.write_text(WORKER_API_FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script), "process", "dask"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    for kind, seen in runs.items():
        assert seen["pid"] != seen["flow_pid"], kind  # the task ran in a worker process
        assert seen["api"] == seen["flow_api"], (kind, seen)
        assert not any("uvicorn" in child for child in seen["children"]), (kind, seen)
