"""Crash and resume: start the `build_corpus` flow in its own process group, kill -9 the
whole group at several points, relaunch with the same parameters, and compare with an
uninterrupted build: the same bytes, no partial files, no duplicate stream ids."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from conftest import write_world

from streamaudio.config import Config
from streamaudio.corpus import build_corpus as build_in_process
from streamaudio.shards.progress import PROGRESS_DIR
from streamaudio.shards.reader import list_shards
from streamaudio.shards.remote import RemoteCorpus
from streamaudio.shards.writer import shard_is_complete
from streamaudio.tasks.registry import get_subtask

REPO = Path(__file__).resolve().parents[2]
SUBTASKS = ["hazard_alert", "benign_silence", "sound_event_qa"]
STREAMS = 8  # per subtask
PER_SHARD = 2
SHARDS = len(SUBTASKS) * STREAMS // PER_SHARD  # 12
SEED = 3
STARTUP_S = 180.0  # limit for a flow to reach a kill point (Prefect, imports, model setup)
RUN_S = 300.0  # limit for a whole build


@dataclass(frozen=True)
class KillPoint:
    name: str
    runner: str
    shards: int  # kill once this many shards are in place (0: once config.yaml is)
    jitter_s: float  # plus a random delay of up to this much
    shared_server: bool = True  # False: the flow's own ephemeral server dies with it


KILL_POINTS = [
    KillPoint("while-workers-load", "thread", 0, 0.5),
    KillPoint("after-first-shard-own-server", "thread", 1, 0.1, shared_server=False),
    KillPoint("mid-build", "thread", SHARDS // 2, 0.1),
    KillPoint("process-workers", "process", 2, 0.2),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefect_env(home: Path, api_url: str | None) -> dict[str, str]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    return env


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Prefect server for the module: a flow's own ephemeral server takes ~15 s to
    start, and with the process runner every worker would wait for it too."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-services", "--no-ui"],
        env=_prefect_env(home, None), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert server.poll() is None, (home / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Prefect server did not start"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


class FlowRun:
    """`flows.build.build_corpus` in a subprocess that leads its own process group."""

    def __init__(self, out: Path | str, world: Path, runner: str, env: dict[str, str],
                 log: Path) -> None:
        code = (
            "from flows.build import build_corpus\n"
            f"build_corpus(streams={STREAMS}, seed={SEED}, out={str(out)!r}, "
            f"runner={runner!r}, workers=2, subtasks={SUBTASKS!r}, overrides="
            f"{_overrides(world)!r})\n"
        )
        self.log = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=RUN_S)
        finally:
            self._log.close()

    def wait_for(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + STARTUP_S
        while not ready():
            assert self.proc.poll() is None, "the build ended before its kill point:\n" + \
                self.output()
            assert time.monotonic() < deadline, "no kill point reached:\n" + self.output()
            time.sleep(0.01)

    def group(self) -> list[int]:
        """Live (not zombie) processes of the group."""
        members = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                members.append(int(stat.parent.name))
        return members

    def kill_group(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()
        deadline = time.monotonic() + 30
        while self.group():  # orphaned workers die on their own, a moment later
            assert time.monotonic() < deadline, f"survivors: {self.group()}"
            time.sleep(0.05)


def _overrides(world: Path) -> list[str]:
    return [f"catalog.directory={world}", f"shards.streams_per_shard={PER_SHARD}",
            "retrieval.mode=class"]


def _files(root: Path) -> dict[str, Path]:
    return {path.relative_to(root).as_posix(): path
            for path in sorted(root.rglob("*")) if path.is_file()}


def _records(root: Path) -> list[Path]:
    return sorted((root / PROGRESS_DIR).glob("*/*/shard-*.json"))


def _manifest_without_run(root: Path) -> dict:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest.pop("last_run")
    return manifest


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> tuple[Path, Path]:
    """(world catalog directory, corpus) of one uninterrupted flow run."""
    base = tmp_path_factory.mktemp("reference")
    world = write_world(base / "world")
    out = base / "corpus"
    run = FlowRun(out, world, "thread", _prefect_env(base / "prefect", prefect_api),
                  base / "flow.log")
    assert run.wait() == 0, run.output()
    assert len(list_shards(out)) == SHARDS
    return world, out


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda point: point.name)
def test_a_build_killed_and_relaunched_equals_an_uninterrupted_one(
        tmp_path: Path, reference: tuple[Path, Path], prefect_api: str,
        point: KillPoint) -> None:
    world, expected = reference
    out = tmp_path / "corpus"
    env = _prefect_env(tmp_path / "prefect", prefect_api if point.shared_server else None)
    delay = random.uniform(0, point.jitter_s)
    print(f"{point}: extra delay {delay:.3f} s")

    killed = FlowRun(out, world, point.runner, env, tmp_path / "killed.log")
    if point.shards:
        killed.wait_for(lambda: len(list_shards(out)) >= point.shards)
    else:
        killed.wait_for((out / "config.yaml").exists)
    time.sleep(delay)
    members = killed.group()
    killed.kill_group()
    print(f"killed {len(members)} processes with {len(list_shards(out))} shards and "
          f"{len(_records(out))} records in place")
    if point.runner == "process":
        assert len(members) > 1  # the flow and its worker processes
    assert not (out / "manifest.json").exists()  # the kill landed mid-build
    # a shard is visible only once complete, and a record only once its shard is
    assert all(shard_is_complete(path) for path in list_shards(out))
    for record in _records(out):
        assert (out / json.loads(record.read_text())["shard"]).exists()
    done = len(_records(out))

    rerun = FlowRun(out, world, point.runner, env, tmp_path / "rerun.log")
    assert rerun.wait() == 0, rerun.output()

    got, want = _files(out), _files(expected)
    assert sorted(got) == sorted(want)
    assert not [name for name in got if ".tmp" in name]
    for name, path in want.items():
        if name != "manifest.json":
            assert got[name].read_bytes() == path.read_bytes(), name
    assert _manifest_without_run(out) == _manifest_without_run(expected)
    run = json.loads((out / "manifest.json").read_text())["last_run"]
    assert (run["shards_kept"], run["shards_built"]) == (done, SHARDS - done)
    ids = [sid for path in list_shards(out)
           for sid in pq.read_table(path, columns=["stream_id"]).column(0).to_pylist()]
    assert len(ids) == len(set(ids)) == STREAMS * len(SUBTASKS)


def test_a_build_into_s3_killed_and_relaunched_equals_an_uninterrupted_one(
        tmp_path: Path, reference: tuple[Path, Path], prefect_api: str,
        s3_bucket: str) -> None:
    """The same on an S3 store (moto's server on 127.0.0.1): process workers publish
    shards and records; killed mid-build, the store holds no record without its
    whole shard, and the relaunch completes it to the same files."""
    world, expected = reference
    url = f"{s3_bucket}/corpus"
    store = RemoteCorpus(url)
    env = _prefect_env(tmp_path / "prefect", prefect_api)

    def records() -> list[str]:
        store.refresh()
        return store.fs.glob(f"{url[5:]}/{PROGRESS_DIR}/*/*/shard-*.json")

    killed = FlowRun(url, world, "process", env, tmp_path / "killed.log")
    killed.wait_for(lambda: len(records()) >= 3)
    time.sleep(random.uniform(0, 0.3))
    killed.kill_group()
    assert store.read_text("manifest.json") is None  # the kill landed mid-build
    done = records()
    for record in done:
        shard = json.loads(store.fs.cat_file(record))
        assert store.fs.size(f"{url[5:]}/{shard['shard']}") == shard["bytes"]
    assert len(done) < SHARDS

    rerun = FlowRun(url, world, "process", env, tmp_path / "rerun.log")
    assert rerun.wait() == 0, rerun.output()
    store.download(tmp_path / "copy")
    got, want = _files(tmp_path / "copy"), _files(expected)
    assert sorted(got) == sorted(want)
    for name, path in want.items():
        if name != "manifest.json":
            assert got[name].read_bytes() == path.read_bytes(), name
    assert _manifest_without_run(tmp_path / "copy") == _manifest_without_run(expected)
    run = json.loads(store.read_text("manifest.json"))["last_run"]
    assert (run["shards_kept"], run["shards_built"]) == (len(done), SHARDS - len(done))


def test_a_killed_runs_temporary_files_are_removed_by_the_next(
        tmp_path: Path, world_config: Config) -> None:
    root = tmp_path / "corpus"
    build = lambda: build_in_process(  # noqa: E731
        root, [get_subtask("hazard_alert")], 2, SEED, world_config)
    build()
    shard_dir = root / "proactive_response" / "hazard_alert"
    dead_pid = 2**22 + 1  # above the kernel's pid_max: never a live process
    leftovers = [
        shard_dir / f".shard-00000.parquet.tmp-{dead_pid}-7",
        root / PROGRESS_DIR / "proactive_response" / "hazard_alert" /
        f".shard-00000.json.tmp-{dead_pid}-7",
        root / ".config.yaml.k2j4_x9a.tmp",  # write_text_atomic's mkstemp names
        root / ".quarantine.jsonl.abcdefgh.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"partial")
        os.utime(path, (time.time() - 60,) * 2)
    fresh = root / ".README.md.q1w2e3r4.tmp"  # a few seconds old: may be another run's
    fresh.write_bytes(b"being written")
    build()
    assert [path for path in leftovers if path.exists()] == []
    assert fresh.exists()
