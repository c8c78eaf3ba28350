"""A corpus build: shards for each subtask, then the resolved config,
quarantine report, manifest and dataset card beside them."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

import streamaudio
from streamaudio.atomic import remove_stale_temporaries, write_text_atomic
from streamaudio.config import Config
from streamaudio.pipeline import CorpusBuilder, ShardOutcome
from streamaudio.retrieve.quarantine import Quarantine, QuarantineRecord
from streamaudio.shards.card import CARD_FILE, write_dataset_card
from streamaudio.shards.layout import (
    CONFIG_FILE,
    MANIFEST_FILE,
    QUARANTINE_FILE,
    remove_stale_staging,
)
from streamaudio.shards.manifest import build_manifest, write_manifest
from streamaudio.shards.progress import record_path, shard_streams
from streamaudio.shards.remote import RemoteCorpus, is_remote, local_path, record_relative
from streamaudio.shards.writer import shard_path
from streamaudio.stage import StageError
from streamaudio.tasks.registry import Subtask, all_subtasks, get_subtask
from streamaudio.taxonomy import load_taxonomy, mixture_counts
from streamaudio.units import ceil_div

# A speech stream costs about as much as this many sound streams (TTS, then an ASR
# round trip per utterance): ~9 s against ~0.4 s in the 200-stream mixture bench.
SPEECH_STREAM_COST = 20


@dataclass(frozen=True)
class ShardJob:
    subtask: Subtask
    shard_index: int
    total_streams: int
    corpus_seed: int

    def estimated_cost(self, per_shard: int) -> int:
        """In sound-stream units: only the order of jobs depends on it."""
        weight = SPEECH_STREAM_COST if self.subtask.speech else 1
        return weight * len(shard_streams(self.shard_index, self.total_streams, per_shard))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # no affinity API (macOS)
        return max(os.cpu_count() or 1, 1)


def longest_first(jobs: list[ShardJob], per_shard: int) -> list[int]:
    """Indices of `jobs`, costliest first (ties in job order). Parallel workers given
    long jobs first end together; a long job started last leaves the others idle."""
    return sorted(range(len(jobs)), key=lambda i: -jobs[i].estimated_cost(per_shard))


@dataclass(frozen=True)
class Selection:
    subtasks: list[Subtask]
    counts: int | dict[str, int]  # per subtask: one number for all, or by name
    skipped: dict[str, str] | None  # unbuildable here, with why (None: names were given)


@dataclass
class BuildReport:
    built: list[ShardOutcome] = field(default_factory=list)
    quarantine: dict[str, int] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(outcome.skipped for outcome in self.built)


def shard_jobs(subtasks: list[Subtask], streams: int | dict[str, int], corpus_seed: int,
               cfg: Config) -> list[ShardJob]:
    """One job per shard; `streams` is per subtask (an int for all, or by name)."""
    per_shard = cfg.shards.streams_per_shard
    jobs = []
    for subtask in subtasks:
        count = streams if isinstance(streams, int) else streams.get(subtask.name, 0)
        jobs += [ShardJob(subtask, index, count, corpus_seed)
                 for index in range(ceil_div(count, per_shard))]
    return jobs


def _config_text(cfg: Config) -> str:
    document = {"config_hash": cfg.hash(), "streamaudio_version": streamaudio.__version__,
                **cfg.to_dict()}
    return yaml.safe_dump(document, sort_keys=False)


def _check_saved_config(text: str, cfg: Config, where: str) -> None:
    """Refuse to mix two configs in one corpus (the rows would carry different hashes)."""
    saved = yaml.safe_load(text) or {}
    if saved.get("config_hash") != cfg.hash():
        raise StageError(
            f"{where} was built with config {saved.get('config_hash')}, this build has "
            f"{cfg.hash()}: build into another directory or use the same config")


def prepare_corpus_dir(root: Path, cfg: Config) -> None:
    """Save the resolved config beside the corpus, or check the one saved there."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / CONFIG_FILE
    if path.exists():
        _check_saved_config(path.read_text(), cfg, str(root))
        return
    write_text_atomic(path, _config_text(cfg))


def _prepare_remote(corpus: RemoteCorpus, cfg: Config) -> None:
    corpus.refresh()
    saved = corpus.read_text(CONFIG_FILE)
    if saved is not None:
        _check_saved_config(saved, cfg, str(corpus))
    else:
        with tempfile.TemporaryDirectory(prefix="streamaudio-config-") as tmp:
            path = Path(tmp) / CONFIG_FILE
            path.write_text(_config_text(cfg), encoding="utf-8")
            corpus.publish(path, CONFIG_FILE)
    corpus.remove_temporaries()


def select_subtasks(cfg: Config, builder: CorpusBuilder, names: list[str] | None,
                    streams: int, leave_out: Collection[str] = ()) -> Selection:
    """Named subtasks (or "all") with `streams` each, or (no names) the paper's mixture over
    every subtask this config can build, `streams` in total, with the others
    named as skipped and why. `leave_out`: subtasks the mixture is made without."""
    if names and names != ["all"]:
        return Selection([get_subtask(name) for name in names if name not in leave_out],
                         streams, None)
    skipped = {s.name: reason for s in all_subtasks()
               if (reason := builder.unavailable(s)) is not None}
    skipped |= {name: "left out by request" for name in leave_out if name not in skipped}
    if names == ["all"]:  # every buildable subtask, `streams` each
        return Selection([s for s in all_subtasks() if s.name not in skipped], streams, skipped)
    buildable = {s.name for s in all_subtasks()} - set(skipped)
    weights = load_taxonomy(cfg.catalog.directory).weights(buildable)
    chosen = [s for s in all_subtasks() if s.name in weights]  # built in the taxonomy
    return Selection(chosen, mixture_counts(streams, {s.name: weights[s.name] for s in chosen}),
                     skipped)


def start_build(out: Path | str, selection: Selection, corpus_seed: int, cfg: Config,
                builder: CorpusBuilder) -> list[ShardJob]:
    """Check the request, prepare the corpus at `out` (a directory or an fsspec URL:
    config, no leftovers of a killed run) and return the shard jobs: each can run
    anywhere, in any order (build_job)."""
    streams = selection.counts
    if (streams if isinstance(streams, int) else sum(streams.values())) < 1:
        raise StageError("--streams must be at least 1")
    for subtask in selection.subtasks:
        reason = builder.unavailable(subtask)
        if reason is not None:
            raise StageError(f"cannot build {subtask.name}: {reason}")
    if is_remote(out):
        _prepare_remote(RemoteCorpus(str(out)), cfg)
    else:
        root = local_path(out)
        prepare_corpus_dir(root, cfg)
        remove_stale_staging(root)  # left by a killed regeneration
        # a killed build's temporaries: never visible as corpus files, not left either
        remove_stale_temporaries(root)
    return shard_jobs(selection.subtasks, streams, corpus_seed, cfg)


def build_job(builder: CorpusBuilder, out: Path | str, job: ShardJob) -> ShardOutcome:
    """Build one shard into the corpus at `out`, or keep it if it is complete there.
    For a URL the shard is built in a local temporary folder, then published with
    its completion record."""
    subtask = job.subtask
    if not is_remote(out):
        return builder.build_shard(local_path(out), subtask, job.shard_index,
                                   job.total_streams, job.corpus_seed)
    corpus = RemoteCorpus(str(out))
    relative = shard_path(Path(), subtask.ability, subtask.name, job.shard_index).as_posix()
    request = builder.shard_request(subtask, job.shard_index, job.total_streams,
                                    job.corpus_seed)
    if corpus.shard_done(relative, request):
        return ShardOutcome(f"{corpus}/{relative}", 0, skipped=True)
    with tempfile.TemporaryDirectory(prefix="streamaudio-shard-") as tmp:
        outcome = builder.build_shard(Path(tmp), subtask, job.shard_index, job.total_streams,
                                      job.corpus_seed)
        shard = Path(outcome.path)
        corpus.publish(shard, relative)  # the shard first: a record means a whole shard
        corpus.publish(record_path(Path(tmp), shard), record_relative(relative))
    return replace(outcome, path=f"{corpus}/{relative}")


def run_summary(outcomes: list[ShardOutcome], wall_seconds: float, runner: str) -> dict:
    """What this run did (not what the corpus holds): shards built and kept, wall
    time, and time by stage summed over workers."""
    stages: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    for outcome in outcomes:
        stages.update(outcome.seconds)
        parts.update(outcome.parts)
    return {
        "runner": runner,
        "shards_built": sum(not outcome.skipped for outcome in outcomes),
        "shards_kept": sum(outcome.skipped for outcome in outcomes),
        "streams_built": sum(outcome.streams for outcome in outcomes),
        "wall_seconds": round(wall_seconds, 3),
        "stage_seconds": {stage: round(stages[stage], 3) for stage in sorted(stages)},
        # inside the stages (streamaudio.profile): model loading, TFJP, TTS, ASR, ...
        "part_seconds": {part: round(parts[part], 3) for part in sorted(parts)},
    }


def finish_corpus(root: Path, cfg: Config, quarantine: Quarantine,
                  skipped: dict[str, str] | None = None, run: dict | None = None,
                  shards: Iterable[tuple[str, dict | None]] | None = None) -> dict:
    """Merge this run's quarantine into the corpus's, rebuild manifest and card
    from the shards on disk (correct after several builds into one DIR). Subtasks
    skipped as unbuildable are kept from the previous manifest unless given.
    `run` (run_summary) goes under "last_run": the one part of the manifest that
    differs between identical builds. `shards`: footers to count instead of the
    shards under `root` (a remote corpus's)."""
    if skipped is None:
        previous = root / MANIFEST_FILE
        skipped = (json.loads(previous.read_text()).get("skipped_subtasks", {})
                   if previous.exists() else {})
    path = root / QUARANTINE_FILE
    merged = Quarantine.read(path) if path.exists() else Quarantine()
    seen = {(record.key, record.reason) for record in merged.records}
    for record in quarantine.records:
        if (record.key, record.reason) not in seen:
            merged.add(record.key, record.reason, record.detail)
    # sorted: the file is the same whichever worker met a bad clip first
    ordered = Quarantine()
    for record in sorted(merged.records, key=lambda r: (r.key, r.reason, r.detail)):
        ordered.add(record.key, record.reason, record.detail)
    merged = ordered
    merged.write(path)
    manifest = build_manifest(root, cfg.hash(), streamaudio.__version__, shards)
    manifest["quarantined_clips"] = dict(Counter(r.reason for r in merged.records))
    manifest["skipped_subtasks"] = dict(sorted(skipped.items()))
    if run is not None:
        manifest["last_run"] = run
    write_manifest(root, manifest)
    write_dataset_card(root, manifest)
    return manifest


def finish_build(out: Path | str, cfg: Config, quarantine: Quarantine,
                 skipped: dict[str, str] | None = None, run: dict | None = None) -> dict:
    """finish_corpus at `out`. For a URL: the quarantine and previous manifest are
    fetched, the manifest is made from the shards' footers on the store (no audio is
    downloaded), and quarantine, manifest and card are published."""
    if not is_remote(out):
        return finish_corpus(local_path(out), cfg, quarantine, skipped, run)
    corpus = RemoteCorpus(str(out))
    corpus.refresh()
    with tempfile.TemporaryDirectory(prefix="streamaudio-finish-") as tmp:
        root = Path(tmp)
        for name in (QUARANTINE_FILE, MANIFEST_FILE):
            corpus.fetch(name, root / name)
        manifest = finish_corpus(root, cfg, quarantine, skipped, run, corpus.shard_footers())
        for name in (QUARANTINE_FILE, MANIFEST_FILE, CARD_FILE):
            corpus.publish(root / name, name)
    return manifest


def reproducible_files(root: Path, *, config: bool = True) -> dict[str, bytes]:
    """A built corpus's files by relative path, as the same parameters rebuild them
    with any runner: the manifest without `last_run` (this run's runner and timings),
    and no config.yaml unless `config` (it names the build's cache directory)."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if name == CONFIG_FILE and not config:
            continue
        data = path.read_bytes()
        if name == MANIFEST_FILE:
            manifest = json.loads(data)
            manifest.pop("last_run", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        files[name] = data
    return files


_WORKER_BUILDERS: dict[str, CorpusBuilder] = {}  # per worker process, by config


def _builder_key(cfg: Config) -> str:
    return cfg.hash() + str(cfg.cache.directory) + str(cfg.catalog.directory)


def _worker_job(config: dict, out: str, subtask: str, shard_index: int, total_streams: int,
                corpus_seed: int) -> tuple[ShardOutcome, list[QuarantineRecord]]:
    """One shard in a worker process of `build_corpus`: the process keeps its builder
    (catalogs, clip cache, models) from shard to shard, like flows/workers.py."""
    cfg = Config.model_validate(config)
    key = _builder_key(cfg)
    if key not in _WORKER_BUILDERS:
        _WORKER_BUILDERS[key] = CorpusBuilder(cfg)
        _WORKER_BUILDERS[key].setup()
    builder = _WORKER_BUILDERS[key]
    seen = len(builder.quarantine)
    job = ShardJob(get_subtask(subtask), shard_index, total_streams, corpus_seed)
    outcome = build_job(builder, out, job)
    return outcome, list(builder.quarantine.records[seen:])


# Runtimes that keep native thread pools once a model runs: a child forked after one
# of them is loaded can hang on its first call (seen with CTranslate2 in a DataLoader).
_THREADED_RUNTIMES = ("ctranslate2", "onnxruntime", "torch")


def worker_start_method() -> str:
    """How `build_corpus` starts its workers: forked while this process holds only
    imported modules and catalogs (a forked worker starts at once, where a spawned one
    first pays ~3 s of imports, more than a whole warm shard), spawned once a model
    runtime or a second thread is in the process."""
    import multiprocessing
    import sys
    import threading

    if ("fork" not in multiprocessing.get_all_start_methods()
            or threading.active_count() > 1
            or any(name in sys.modules for name in _THREADED_RUNTIMES)):
        return "spawn"
    return "fork"


def _run_in_processes(jobs: list[ShardJob], out: Path | str, cfg: Config, workers: int,
                      builder: CorpusBuilder,
                      on_shard: Callable[[ShardOutcome], None] | None) -> list[ShardOutcome]:
    """The jobs on `workers` processes (`worker_start_method`), costliest first;
    outcomes in job order, their quarantine records added to `builder`'s."""
    import multiprocessing

    method = worker_start_method()
    context = multiprocessing.get_context(method)
    if method == "fork":  # forked workers start with this builder's catalogs loaded
        _WORKER_BUILDERS[_builder_key(cfg)] = builder
    try:
        return _collect(jobs, out, cfg, workers, context, builder.quarantine, on_shard)
    finally:
        _WORKER_BUILDERS.pop(_builder_key(cfg), None)


def _collect(jobs: list[ShardJob], out: Path | str, cfg: Config, workers: int, context: Any,
             quarantine: Quarantine,
             on_shard: Callable[[ShardOutcome], None] | None) -> list[ShardOutcome]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    config = cfg.to_dict()
    outcomes: list[ShardOutcome | None] = [None] * len(jobs)
    found: list[list[QuarantineRecord]] = [[] for _ in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_worker_job, config, str(out), jobs[i].subtask.name,
                               jobs[i].shard_index, jobs[i].total_streams,
                               jobs[i].corpus_seed): i
                   for i in longest_first(jobs, cfg.shards.streams_per_shard)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                outcomes[index], found[index] = future.result()
                if on_shard is not None:
                    on_shard(outcomes[index])
        except BrokenProcessPool as error:
            pool.shutdown(cancel_futures=True)
            raise StageError("a build worker process died (killed, or out of memory); "
                             "the shards it finished are kept: run the same command again "
                             "to build the rest") from error
    for records in found:  # in job order, whichever worker finished first
        for record in records:
            quarantine.add(record.key, record.reason, record.detail)
    return [outcome for outcome in outcomes if outcome is not None]


def build_corpus(
    out: Path | str,
    subtasks: list[Subtask],
    streams: int | dict[str, int],
    corpus_seed: int,
    cfg: Config,
    on_shard: Callable[[ShardOutcome], None] | None = None,
    builder: CorpusBuilder | None = None,
    skipped: dict[str, str] | None = None,
    workers: int = 1,
) -> BuildReport:
    """Build the shards of `subtasks` into `out`, a directory or an fsspec URL: in this
    process one after another (`workers` 1), or on that many worker processes (same
    bytes; flows/ runs the same jobs on Prefect task runners). `skipped` names subtasks
    left out as unbuildable here (recorded in the manifest)."""
    if workers < 1:
        raise StageError(f"--workers must be at least 1, not {workers}")
    started = time.perf_counter()
    builder = builder or CorpusBuilder(cfg)
    builder.setup()
    jobs = start_build(out, Selection(subtasks, streams, skipped), corpus_seed, cfg, builder)
    report = BuildReport()
    workers = min(workers, len(jobs))
    if workers > 1:
        report.built = _run_in_processes(jobs, out, cfg, workers, builder, on_shard)
    else:
        for job in jobs:
            outcome = build_job(builder, out, job)
            report.built.append(outcome)
            if on_shard is not None:
                on_shard(outcome)
    label = "in-process" if workers == 1 else f"processes:{workers}"
    run = run_summary(report.built, time.perf_counter() - started, label)
    report.manifest = finish_build(out, cfg, builder.quarantine, skipped, run)
    report.quarantine = builder.quarantine.counts()
    return report
