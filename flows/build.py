"""`build_corpus`: one Prefect task per (subtask, shard) over a thread, process
or Dask task runner. Tasks are coarse (a shard, not a clip) because a process
or Dask task costs 100-200 ms to schedule; each worker loads its models once
(flows/workers.py). Shards appear only by atomic rename, so a relaunch with the
same parameters skips what is done and rebuilds the rest. `out` may be an fsspec
URL (s3://bucket/corpus): each worker then publishes its shards there."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner

from flows.report import run_markdown, shard_progress
from flows.runners import make_task_runner
from flows.workers import worker_builder
from streamaudio.config import load_config
from streamaudio.corpus import (
    ShardJob,
    build_job,
    finish_build,
    longest_first,
    run_summary,
    select_subtasks,
    start_build,
)
from streamaudio.pipeline import CorpusBuilder, ShardOutcome
from streamaudio.retrieve.quarantine import Quarantine
from streamaudio.shards.remote import display_url
from streamaudio.tasks.registry import get_subtask


@task(name="build-shard", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=1,
      task_run_name="{subtask}-{shard_index:05d}")
def build_shard(config: dict[str, Any], out: str, subtask: str, shard_index: int,
                total_streams: int, corpus_seed: int) -> dict[str, Any]:
    """Build one shard into `out` (a directory or URL), or keep it if complete there;
    returns the outcome and the clips this shard quarantined, as plain data."""
    builder = worker_builder(config)
    seen = len(builder.quarantine)
    job = ShardJob(get_subtask(subtask), shard_index, total_streams, corpus_seed)
    outcome = build_job(builder, out, job)
    return {"outcome": {**asdict(outcome), "path": str(outcome.path)},
            "quarantine": [asdict(r) for r in builder.quarantine.records[seen:]]}


def _outcome(data: dict[str, Any]) -> ShardOutcome:
    return ShardOutcome(**data)


def run_shard_jobs(config: dict[str, Any], out: str, jobs: list[ShardJob],
                   runner: TaskRunner, progress: bool) -> list[dict[str, Any]]:
    """Submit one task per job to the runner, costliest first (so workers finish
    together); results in job order."""
    results: list[dict[str, Any]] = [{}] * len(jobs)
    per_shard = config["shards"]["streams_per_shard"]
    with runner as task_runner, \
            shard_progress(len(jobs), enabled=progress) as advance:
        submitted = {index: task_runner.submit(build_shard, {
            "config": config, "out": out, "subtask": jobs[index].subtask.name,
            "shard_index": jobs[index].shard_index,
            "total_streams": jobs[index].total_streams,
            "corpus_seed": jobs[index].corpus_seed})
            for index in longest_first(jobs, per_shard)}
        futures = list(submitted.values())
        order = {future.task_run_id: index for index, future in submitted.items()}
        for future in as_completed(futures):
            results[order[future.task_run_id]] = future.result()
            advance()
    return results


def dated(out: str, seed: int | None, day: date) -> tuple[str, int]:
    """A scheduled build's own folder and seed: `{date}` in `out` becomes the run's
    date (2026-11-22), and no seed means the date as a number (20261122)."""
    return out.replace("{date}", day.isoformat()), (
        seed if seed is not None else int(day.strftime("%Y%m%d")))


def _run_day() -> date:
    """The day a scheduled run was due (today for a run started by hand)."""
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time
    return (scheduled or datetime.now(UTC)).astimezone(UTC).date()


@flow(name="build-corpus", log_prints=True)
def build_corpus(
    config: str | None = None,
    streams: int = 16,
    seed: int | None = 0,
    out: str = "corpus",
    runner: str = "thread",
    workers: int = 2,
    dask_address: str | None = None,
    subtasks: list[str] | None = None,
    overrides: list[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Build (or resume) a corpus and return its manifest. `config` is a YAML
    file, `overrides` dotted `key=value` settings; without `subtasks`, `streams`
    is the total, split by the paper's mixture. `runner`: thread, process or
    dask (a LocalCluster of `workers` processes, or `dask_address`). For
    schedules, `{date}` in `out` and `seed=None` take the run's date."""
    started = time.perf_counter()
    out, seed = dated(out, seed, _run_day())
    task_runner = make_task_runner(runner, workers, dask_address)  # bad arguments fail first
    cfg = load_config(Path(config) if config else None, overrides or [])
    chooser = CorpusBuilder(cfg)  # chooses subtasks and checks voices; loads no model
    selection = select_subtasks(cfg, chooser, subtasks, streams)
    for name, reason in (selection.skipped or {}).items():
        print(f"skipped {name}: {reason}")
    jobs = start_build(out, selection, seed, cfg, chooser)
    results = run_shard_jobs(cfg.to_dict(), out, jobs, task_runner, progress)
    quarantine = Quarantine()
    for result in results:  # in job order
        for record in result["quarantine"]:
            quarantine.add(**record)
    label = f"dask@{dask_address}" if dask_address else runner
    run = run_summary([_outcome(r["outcome"]) for r in results],
                      time.perf_counter() - started, label)
    manifest = finish_build(out, cfg, quarantine, selection.skipped, run)
    where = display_url(out)
    create_markdown_artifact(run_markdown(manifest, where), key="corpus-build-summary",
                             description=f"StreamAudio corpus build into {where}")
    return manifest
