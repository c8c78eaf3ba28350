"""A corpus build: shards for each subtask, then the resolved config,
quarantine report, manifest and dataset card beside them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import streamaudio
from streamaudio.config import Config
from streamaudio.pipeline import CorpusBuilder, ShardOutcome
from streamaudio.retrieve.quarantine import Quarantine, write_text_atomic
from streamaudio.shards.card import write_dataset_card
from streamaudio.shards.manifest import build_manifest, write_manifest
from streamaudio.stage import StageError
from streamaudio.tasks.registry import Subtask
from streamaudio.units import ceil_div

CONFIG_FILE = "config.yaml"
QUARANTINE_FILE = "quarantine.jsonl"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ShardJob:
    subtask: Subtask
    shard_index: int
    total_streams: int
    corpus_seed: int


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


def prepare_corpus_dir(root: Path, cfg: Config) -> None:
    """Save the resolved config beside the corpus; refuse to mix two configs in
    one corpus (the rows would carry different hashes)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / CONFIG_FILE
    if path.exists():
        saved = yaml.safe_load(path.read_text()) or {}
        if saved.get("config_hash") != cfg.hash():
            raise StageError(
                f"{root} was built with config {saved.get('config_hash')}, this build has "
                f"{cfg.hash()}: build into another directory or use the same config")
        return
    document = {"config_hash": cfg.hash(), "streamaudio_version": streamaudio.__version__,
                **cfg.to_dict()}
    write_text_atomic(path, yaml.safe_dump(document, sort_keys=False))


def finish_corpus(root: Path, cfg: Config, quarantine: Quarantine,
                  skipped: dict[str, str] | None = None) -> dict:
    """Merge this run's quarantine into the corpus's, rebuild manifest and card
    from the shards on disk (correct after several builds into one DIR). Subtasks
    skipped as unbuildable are kept from the previous manifest unless given."""
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
    merged.write(path)
    manifest = build_manifest(root, cfg.hash(), streamaudio.__version__)
    manifest["quarantined_clips"] = dict(Counter(r.reason for r in merged.records))
    manifest["skipped_subtasks"] = dict(sorted(skipped.items()))
    write_manifest(root, manifest)
    write_dataset_card(root, manifest)
    return manifest


def build_corpus(
    root: Path,
    subtasks: list[Subtask],
    streams: int | dict[str, int],
    corpus_seed: int,
    cfg: Config,
    on_shard: Callable[[ShardOutcome], None] | None = None,
    builder: CorpusBuilder | None = None,
    skipped: dict[str, str] | None = None,
) -> BuildReport:
    """Build the shards of `subtasks`; `skipped` names subtasks left out as
    unbuildable here (recorded in the manifest)."""
    if (streams if isinstance(streams, int) else sum(streams.values())) < 1:
        raise StageError("--streams must be at least 1")
    prepare_corpus_dir(root, cfg)
    from streamaudio.regen import remove_stale_staging  # regen imports this module

    remove_stale_staging(root)  # left by a killed regeneration
    builder = builder or CorpusBuilder(cfg)
    builder.setup()
    for subtask in subtasks:
        reason = builder.unavailable(subtask)
        if reason is not None:
            raise StageError(f"cannot build {subtask.name}: {reason}")
    report = BuildReport()
    for job in shard_jobs(subtasks, streams, corpus_seed, cfg):
        outcome = builder.build_shard(root, job.subtask, job.shard_index, job.total_streams,
                                      job.corpus_seed)
        report.built.append(outcome)
        if on_shard is not None:
            on_shard(outcome)
    report.manifest = finish_corpus(root, cfg, builder.quarantine, skipped)
    report.quarantine = builder.quarantine.counts()
    return report
