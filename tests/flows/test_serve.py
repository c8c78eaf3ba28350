"""`make serve` end to end: scripts/serve.sh starts a real Prefect server on a free
loopback port (its own state in tmp_path), the process work pool, the deployments of
prefect.yaml and a worker; a run of `build-corpus/nightly` triggered by hand with tiny
parameters completes, its corpus validates and its summary artifact exists; and
`serve.sh stop` leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest

pytest.importorskip("prefect")

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.settings import PREFECT_API_URL, temporary_settings

from streamaudio.validate import validate_corpus

REPO = Path(__file__).resolve().parents[2]
SERVE = REPO / "scripts" / "serve.sh"
VENV = Path(sys.executable).parent.parent
POOL = "streamaudio-process"  # prefect.yaml's
RUN_TIMEOUT_S = 240
START_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session(leader: int) -> list[int]:
    """Live processes of the session `leader` started (serve.sh runs each in its own)."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat="], capture_output=True, text=True,
                         check=True).stdout
    return [int(pid) for pid, sid, stat in (line.split()[:3] for line in out.splitlines())
            if int(sid) == leader and not stat.startswith("Z")]


@dataclass
class Served:
    state: Path
    api_url: str
    env: dict[str, str]

    def script(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SERVE), command], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout)

    def pids(self) -> dict[str, int]:
        run = self.state / "run"
        return {p.stem: int(p.read_text()) for p in sorted(run.glob("*.pid"))} \
            if run.is_dir() else {}

    def log(self, name: str) -> str:
        path = self.state / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    state = tmp_path / "prefect"
    port = _free_port()
    # nothing from the caller's Prefect profile or API; telemetry off; no scheduler (the
    # nightly schedule must not create runs here); a worker that polls every second
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "VENV": str(VENV), "STREAMAUDIO_PREFECT_HOME": str(state), "SERVE_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false", "PREFECT_WORKER_QUERY_SECONDS": "1",
    })
    handle = Served(state, f"http://127.0.0.1:{port}/api", env)
    leaders: dict[str, int] = {}
    try:
        try:
            started = handle.script("start", START_TIMEOUT_S)
        finally:
            leaders.update(handle.pids())  # whatever it launched, even on a timeout
        assert started.returncode == 0, (
            f"serve.sh start failed:\n{started.stdout}\n{started.stderr}\n"
            f"server log:\n{handle.log('server')}\ndeploy log:\n{handle.log('deploy')}")
        assert set(leaders) == {"server", "worker"}
        yield handle
    finally:
        handle.script("stop", 120)
        for leader in leaders.values():  # the safety net: nothing may outlive the test
            for pid in _session(leader):
                os.kill(pid, signal.SIGKILL)


def _trigger(served: Served, parameters: dict[str, object]) -> UUID:
    """`prefect deployment run`, as README.md tells a person to."""
    result = subprocess.run(
        [str(VENV / "bin" / "prefect"), "deployment", "run", "build-corpus/nightly",
         "--params", json.dumps(parameters)],
        env={**served.env, "PREFECT_API_URL": served.api_url,
             "PREFECT_HOME": str(served.state)},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"UUID: ([0-9a-f-]{36})", result.stdout)
    assert found, result.stdout
    return UUID(found.group(1))


def test_make_serve_runs_the_nightly_deployment(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    run_id = _trigger(served, {
        "out": str(out), "streams": 2, "seed": 3, "runner": "thread", "workers": 1,
        "subtasks": ["hazard_alert"],
        "overrides": ["retrieval.mode=class", "shards.streams_per_shard=2",
                      f"cache.directory={tmp_path / 'cache'}"]})

    with temporary_settings({PREFECT_API_URL: served.api_url}), \
            get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("build-corpus/nightly")
        assert [s.schedule.cron for s in deployment.schedules] == ["0 2 * * *"]
        assert deployment.work_pool_name == POOL
        assert client.read_work_pool(POOL).type == "process"

        deadline = time.monotonic() + RUN_TIMEOUT_S
        flow_run = client.read_flow_run(run_id)
        while not flow_run.state or not flow_run.state.is_final():
            assert time.monotonic() < deadline, (
                f"flow run still {flow_run.state_name} after {RUN_TIMEOUT_S}s; worker log:\n"
                f"{served.log('worker')}")
            time.sleep(0.5)
            flow_run = client.read_flow_run(run_id)
        assert flow_run.state.is_completed(), (
            f"flow run ended {flow_run.state_name}: {flow_run.state.message}\n"
            f"worker log:\n{served.log('worker')}")

        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
        summary = [a for a in artifacts if a.key == "corpus-build-summary"]
        assert len(summary) == 1 and summary[0].type == "markdown"
        assert f"StreamAudio corpus: `{out}`" in str(summary[0].data)

    checked, failures = validate_corpus(out)
    assert failures == [] and checked == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["totals"]["streams"] == 2
    assert list(manifest["subtasks"]) == ["hazard_alert"]

    leaders = served.pids()
    stopped = served.script("stop", 120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert served.pids() == {}
    assert {name: _session(pid) for name, pid in leaders.items()} == \
        {"server": [], "worker": []}, stopped.stdout
